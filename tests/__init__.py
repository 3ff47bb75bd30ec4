"""Tests by level: pure functions, pipelines, spider callbacks, full crawls, Datasette, CLI."""
