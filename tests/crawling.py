"""Helpers for full crawls: run the real command in a subprocess, read the archive it wrote."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: Settings for crawling the loopback site: no politeness delays, quick retries.
FAST = ("DOWNLOAD_DELAY=0", "AUTOTHROTTLE_ENABLED=False", "RETRY_TIMES=1", "DOWNLOAD_TIMEOUT=10",
        "ARCHIVE_BACKOFF_BASE=0.1", "ARCHIVE_BACKOFF_MAX=0.5",
        "CONCURRENT_REQUESTS_PER_DOMAIN=8")


def run_crawl(db: Path, *urls: str, settings: tuple[str, ...] = (), check: bool = True,
              timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``newscrawler crawl URLS --db DB`` (Scrapy cannot restart its reactor in-process).

    :raises AssertionError: when ``check`` and the command exits non-zero (output included).
    """
    args = [sys.executable, "-m", "newscrawler", "crawl", *urls, "--db", str(db)]
    for setting in FAST + tuple(settings):
        args += ["-s", setting]
    return run(args, check=check, timeout=timeout)


def run(args: list[str], check: bool = True, timeout: float = 300,
        cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run a command with the repository on the path; returns it with stdout/stderr as text."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("SCRAPY_SETTINGS_MODULE", None)
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=cwd or REPO, stdin=subprocess.DEVNULL)
    if check:
        assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def rows(db: Path, sql: str, params: tuple = ()) -> list[tuple]:
    """Rows of a query on the archive, opened read-only."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def summary(proc: subprocess.CompletedProcess) -> dict[str, int]:
    """The counts of the crawl's final line (``<time> crawl N, S s: fetched 12, new 3, ...``):
    ``{"fetched": 12, "new": 3, ...}``."""
    line = [ln for ln in proc.stdout.splitlines() if ": fetched " in ln][-1].partition(": ")[2]
    counts = {}
    for part in line.split(", "):
        label, _, number = part.rpartition(" ")
        counts[label] = int(number)
    return counts
