"""``python -m newscrawler``: the same as the ``newscrawler`` command."""

from newscrawler.cli import cli

cli(prog_name="newscrawler")
