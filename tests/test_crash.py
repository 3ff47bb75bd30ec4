"""Crash safety: ``kill -9`` of a crawl at any moment leaves a sound archive, and the next run finishes.

Real kills of real processes: crawls in a subprocess against a slow loopback site, killed mid-flight
again and again; and archive writes killed at exact points of a transaction (the statement that
inserts the capture, the COMMIT, the schema migration) through SQLite's trace hook.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from newscrawler.migrations import MIGRATIONS
from newscrawler.store import Archive
from tests.archive_checks import archive_problems, article_html, crawl_accounts, crawl_args, crawl_env
from tests.crawling import REPO, rows
from tests.site import slow_route

PAGES = 100


def count(db: Path, sql: str) -> int:
    """A count from the archive, or -1 while it is not there yet (or has no schema yet)."""
    if not db.exists():
        return -1
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute(sql).fetchone()[0]
        finally:
            conn.close()
    except sqlite3.OperationalError:
        return -1


def wait_for(condition, what: str, deadline_s: float = 120) -> None:
    """Poll ``condition()`` until true; fail naming ``what`` after ``deadline_s`` (a hang, not a timing)."""
    end = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > end:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


@contextlib.contextmanager
def crawl_process(db: Path, *urls: str, settings: tuple[str, ...] = ()):
    """A crawl running in its own process group; every process of the group is killed on exit.

    Its TMPDIR is the archive's folder: a crawl killed with SIGKILL leaves its multiprocessing
    temporary directory (the fork server's socket) behind, and that belongs in the test's tmp_path.
    """
    proc = subprocess.Popen(crawl_args(db, *urls, settings=settings), env=crawl_env(TMPDIR=str(db.parent)),
                            cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the group this test started: crawl and its workers
        proc.communicate(timeout=60)


def test_kill_9_mid_crawl_again_and_again_then_the_next_run_finishes(loopback_site, tmp_path):
    site = loopback_site
    for i in range(PAGES):
        path = f"/news/{i:03d}.html"
        site.add_page(path, article_html(f"Story number {i}"))
        site.add_route(path, slow_route(0.15))
    site.write_discovery()
    db = tmp_path / "news.db"
    settings = ("CONCURRENT_REQUESTS=6", "CONCURRENT_REQUESTS_PER_DOMAIN=6")
    captures = "SELECT count(*) FROM captures"
    killed_pids = []
    # Kill points: as soon as the archive file appears (schema, crawls row), then after progress.
    for ready in (lambda: db.exists(), lambda: count(db, captures) >= 10, lambda: count(db, captures) >= 50):
        with crawl_process(db, site.url("/sitemap.xml"), settings=settings) as proc:
            wait_for(lambda ready=ready, proc=proc: ready() or proc.poll() is not None, "the crawl to make progress")
            assert proc.poll() is None, proc.communicate()
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
            killed_pids.append(proc.pid)
        assert archive_problems(db) == []
    assert 50 <= count(db, captures) < PAGES  # the kills came mid-crawl
    holder = json.loads(Path(f"{db}.lock").read_text())["pid"]
    assert holder == killed_pids[-1]  # the last killed crawl never released its lock

    done = subprocess.run(crawl_args(db, site.url("/sitemap.xml"), settings=settings), env=crawl_env(), cwd=REPO,
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert f"left by pid {holder}" in done.stderr  # the stale lock was taken over, and said so
    assert archive_problems(db) == [] and crawl_accounts(db) == []
    # Every story archived exactly once over all runs: nothing lost, nothing doubled.
    assert rows(db, "SELECT count(*), count(DISTINCT article_id) FROM versions") == [(PAGES, PAGES)]
    new = rows(db, "SELECT requested_url, count(*) FROM captures WHERE outcome = 'new' GROUP BY requested_url")
    assert sorted(url for url, _ in new) == [site.url(f"/news/{i:03d}.html") for i in range(PAGES)]
    assert {n for _, n in new} == {1}
    # The killed crawls' rows stay open (no finish time); the last crawl's is closed.
    finished = [at is not None for (at,) in rows(db, "SELECT finished_at FROM crawls ORDER BY id")]
    assert finished[-1] and not any(finished[:-1])


_KILL_SCRIPT = """
import os, signal, sys
from newscrawler.extraction import extract_article
from newscrawler.items import Capture
from newscrawler.store import Archive

db, kill_at, html = sys.argv[1], sys.argv[2], sys.argv[3]

def capture(n):
    page = html.replace("STORY", f"Story {n}")
    url = f"https://news.example/story-{n}.html"
    return Capture(requested_url=url, final_url=url, status=200, captured_at=f"2026-11-29T10:00:0{n}Z",
                   body=page.encode(), content_type="text/html", extracted=extract_article(page, url).to_dict())

seen = []

def trace(sql):
    sql = sql.replace("[", "").replace("]", "").replace('"', "")  # sqlite-utils quotes table names
    seen.append(" ".join(sql.split()[:3]))
    if sql.lstrip().upper().startswith(kill_at):
        print("killed after:", " | ".join(seen), file=sys.stderr, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

if kill_at.startswith("PRAGMA USER_VERSION"):
    import sqlite_utils
    real_init = sqlite_utils.Database.__init__
    def traced_init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        self.conn.set_trace_callback(trace)
    sqlite_utils.Database.__init__ = traced_init
    Archive.open(db)
else:
    archive = Archive.open(db)
    archive.record(capture(1))
    archive.db.conn.set_trace_callback(trace)
    archive.record(capture(2))
print("not killed")
"""


@pytest.mark.parametrize("kill_at", ["INSERT INTO CAPTURES", "COMMIT"])
def test_kill_9_inside_a_capture_transaction_leaves_the_earlier_captures_whole(tmp_path, kill_at):
    """Killed after the version row of the second story is written but before its capture, or at its
    COMMIT: the second story is entirely absent, the first entirely present."""
    db = tmp_path / "news.db"
    proc = subprocess.run([sys.executable, "-c", _KILL_SCRIPT, str(db), kill_at, article_html("STORY")],
                          env=crawl_env(), cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert "INSERT INTO versions" in proc.stderr.split("killed after:")[1]  # mid-transaction indeed
    assert archive_problems(db) == []
    assert rows(db, "SELECT a.url, v.version, c.outcome FROM articles a JOIN versions v ON v.article_id = a.id "
                    "JOIN captures c ON c.version_id = v.id") == [("https://news.example/story-1.html", 1, "new")]
    assert rows(db, "SELECT count(*) FROM captures") == [(1,)]
    with Archive.open(db) as archive:  # and the archive takes the second story on the next run
        assert archive.article("https://news.example/story-2.html") is None


def test_kill_9_during_the_schema_migration_then_open_migrates_cleanly(tmp_path):
    db = tmp_path / "news.db"
    proc = subprocess.run([sys.executable, "-c", _KILL_SCRIPT, str(db), "PRAGMA USER_VERSION = 1", "<p>STORY</p>"],
                          env=crawl_env(), cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone() == (0,)  # the first migration never committed
    assert conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall() == []
    conn.close()
    with Archive.open(db) as archive:
        assert archive.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert {"articles", "versions", "captures", "crawls", "payloads"} <= set(archive.db.table_names())
    assert archive_problems(db) == []
