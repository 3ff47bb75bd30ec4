"""Concurrent use of one archive: one crawl at a time (the lock), readers never wait nor block the writer.

The lock is tested in-process and across processes (a holder killed with ``kill -9``); then one
scenario through the real command: a crawl writing, a second crawl that gives up naming the holder,
a third that waits its turn, and Datasette-style read-only connections reading all along.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from newscrawler.lock import ArchiveLocked, CrawlLock
from newscrawler.migrations import MIGRATIONS, Migrations
from newscrawler.store import Archive
from tests.archive_checks import archive_problems, article_html, crawl_accounts, crawl_args, crawl_env
from tests.crawling import REPO, rows
from tests.site import LoopbackSite, slow_route
from tests.test_crash import crawl_process, wait_for

# -- the lock ----------------------------------------------------------------------------------------


def test_lock_records_its_holder_and_refuses_a_second_holder(tmp_path):
    db = tmp_path / "archive" / "news.db"
    with CrawlLock(db).acquire(command="newscrawler crawl https://example.com/") as lock:
        holder = json.loads(lock.path.read_text())
        assert (lock.path.name, holder["pid"], holder["command"]) == (
            "news.db.lock", os.getpid(), "newscrawler crawl https://example.com/")
        with pytest.raises(ArchiveLocked) as refused:
            CrawlLock(db).acquire(wait=0)
        assert refused.value.holder["pid"] == os.getpid()
        assert str(refused.value).startswith(f"another crawl is writing this archive (pid {os.getpid()}, since ")
    assert lock.path.read_text() == ""  # released: the file stays, empty
    CrawlLock(db).acquire().release()


def test_waiting_for_the_lock_ends_when_the_holder_releases_it(tmp_path):
    db = tmp_path / "news.db"
    holder = CrawlLock(db).acquire()
    waits = []
    releaser = threading.Timer(0.3, holder.release)
    releaser.start()
    try:
        CrawlLock(db).acquire(wait=60, on_wait=waits.append).release()
    finally:
        releaser.join()
    assert [w["pid"] for w in waits] == [os.getpid()]  # told once who it waited for


def test_waiting_gives_up_after_the_wait(tmp_path):
    db = tmp_path / "news.db"
    waits = []
    with CrawlLock(db).acquire(), pytest.raises(ArchiveLocked, match=r"gave up after waiting 0\.\d+ s"):
        CrawlLock(db).acquire(wait=0.3, on_wait=waits.append)
    assert len(waits) == 1


def test_lock_of_a_process_killed_with_sigkill_is_taken_over(tmp_path, caplog):
    db = tmp_path / "news.db"
    script = ("import sys, time; from newscrawler.lock import CrawlLock; CrawlLock(sys.argv[1]).acquire(); "
              "print('locked', flush=True); time.sleep(120)")
    child = subprocess.Popen([sys.executable, "-c", script, str(db)], env=crawl_env(), cwd=REPO,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "locked\n"
        with pytest.raises(ArchiveLocked) as refused:
            CrawlLock(db).acquire(wait=0)
        assert refused.value.holder["pid"] == child.pid
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
        with caplog.at_level(logging.WARNING, logger="newscrawler.lock"), CrawlLock(db).acquire() as lock:
            assert json.loads(lock.path.read_text())["pid"] == os.getpid()
        assert f"left by pid {child.pid}" in caplog.text
    finally:
        child.kill()
        child.wait(timeout=30)
        child.stdout.close()


def test_stale_lock_file_of_a_dead_pid_is_taken_over(tmp_path):
    db = tmp_path / "news.db"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    Path(f"{db}.lock").write_text(json.dumps({"pid": int(dead.stdout), "started_at": "2026-11-29T03:00:00Z"}))
    with CrawlLock(db).acquire() as lock:
        assert json.loads(lock.path.read_text())["pid"] == os.getpid()


# -- crawls and readers on one archive ------------------------------------------------------------------


class Reader(threading.Thread):
    """A Datasette-style reader: its own read-only connection, queries in a loop until stopped.

    Each round reads in one transaction and checks that what it sees is whole: every version has
    the capture that made it. Errors ("database is locked" above all) are kept, not raised.
    """

    def __init__(self, db: Path):
        super().__init__(daemon=True)
        self.db = db
        self.stop = threading.Event()
        self.errors: list[str] = []
        self.counts: list[int] = []

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5)
                try:
                    conn.execute("BEGIN")
                    captures = conn.execute("SELECT count(*) FROM captures").fetchone()[0]
                    orphans = conn.execute(
                        "SELECT count(*) FROM versions v WHERE NOT EXISTS (SELECT 1 FROM captures c "
                        "WHERE c.version_id = v.id AND c.outcome IN ('new', 'changed'))").fetchone()[0]
                    conn.execute("SELECT a.url, v.headline FROM articles a JOIN versions v "
                                 "ON v.id = a.latest_version_id ORDER BY a.last_changed_at DESC LIMIT 20").fetchall()
                    conn.execute("SELECT rowid FROM versions_fts WHERE versions_fts MATCH 'council' LIMIT 5").fetchall()
                    conn.execute("COMMIT")
                finally:
                    conn.close()
            except sqlite3.Error as exc:
                self.errors.append(f"{type(exc).__name__}: {exc}")
                continue
            self.counts.append(captures)
            if orphans:
                self.errors.append(f"saw {orphans} versions without their capture")


@pytest.fixture(scope="module")
def busy_archive(tmp_path_factory):
    """Crawl A archives 60 stories; one of them is held back until the other crawls have tried, so A
    is still writing while: three readers read, a read transaction stays open, crawl B (no wait)
    tries to start and crawl C (waits) queues; then A ends and C runs."""
    root = tmp_path_factory.mktemp("busy")
    site = LoopbackSite(root / "site")
    gate = threading.Event()

    def held_back(request):
        gate.wait(timeout=120)
        request.serve_static()

    with site.serve():
        for i in range(60):
            path = f"/news/{i:02d}.html"
            site.add_page(path, article_html(f"Council story {i}"))
            site.add_route(path, held_back if i == 0 else slow_route(0.1))
        site.write_discovery()
        db = root / "news.db"
        settings = ("CONCURRENT_REQUESTS=3", "CONCURRENT_REQUESTS_PER_DOMAIN=3", "DOWNLOAD_TIMEOUT=120")
        try:
            with crawl_process(db, site.url("/sitemap.xml"), settings=settings) as a:
                wait_for(lambda: count_captures(db) >= 1 or a.poll() is not None, "crawl A to write")
                lock_holder = json.loads(Path(f"{db}.lock").read_text())["pid"]
                readers = [Reader(db) for _ in range(3)]
                for reader in readers:
                    reader.start()
                long_read = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
                long_read.execute("BEGIN")
                held = long_read.execute("SELECT count(*) FROM captures").fetchone()[0]
                b = subprocess.run(crawl_args(db, site.url("/sitemap.xml")), env=crawl_env(), cwd=REPO,
                                   capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
                c = subprocess.Popen(crawl_args(db, *[site.url(f"/news/{i:02d}.html") for i in range(5)],
                                                settings=("ARCHIVE_LOCK_WAIT=300",)),
                                     env=crawl_env(), cwd=REPO, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                c_waiting = c.stderr.readline()  # C says it waits, then waits
                gate.set()
                a_out, a_err = a.communicate(timeout=300)
                held_after = long_read.execute("SELECT count(*) FROM captures").fetchone()[0]
                long_read.execute("COMMIT")
                long_read.close()
                c_out, c_err = c.communicate(timeout=300)
        finally:
            gate.set()
        for reader in readers:
            reader.stop.set()
            reader.join(timeout=30)
        yield SimpleNamespace(db=db, a=(a.returncode, a_out, a_err), a_pid=a.pid, lock_holder=lock_holder,
                              b=b, c=(c.returncode, c_out, c_waiting + c_err), readers=readers,
                              held=(held, held_after))


def count_captures(db: Path) -> int:
    try:
        return rows(db, "SELECT count(*) FROM captures")[0][0] if db.exists() else 0
    except sqlite3.OperationalError:
        return 0


def test_the_lock_names_the_running_crawl(busy_archive):
    assert busy_archive.lock_holder == busy_archive.a_pid


def test_second_crawl_gives_up_at_once_naming_the_holder(busy_archive):
    b = busy_archive.b
    assert b.returncode == 1
    assert f"Error: another crawl is writing this archive (pid {busy_archive.a_pid}, since " in b.stderr
    assert "newscrawler crawl http://127.0.0.1:" in b.stderr  # the holder's command
    assert b.stdout == ""  # it never started: no summary line, no crawls row (checked below)


def test_waiting_crawl_runs_after_the_holder_finishes(busy_archive):
    returncode, stdout, stderr = busy_archive.c
    assert returncode == 0, stderr
    assert f"is being crawled by pid {busy_archive.a_pid}: waiting up to 300 s" in stderr
    [(a_finished,), (c_started,)] = rows(busy_archive.db, "SELECT finished_at FROM crawls WHERE id = 1 UNION ALL "
                                                          "SELECT started_at FROM crawls WHERE id = 2")
    assert c_started > a_finished
    assert rows(busy_archive.db, "SELECT count(*) FROM crawls") == [(2,)]  # A and C; B wrote nothing


def test_readers_never_wait_nor_see_half_written_captures(busy_archive):
    readers = busy_archive.readers
    assert [r.errors for r in readers] == [[], [], []]  # no "database is locked", no orphan version
    assert all(len(set(r.counts)) > 1 for r in readers)  # they read while the archive grew


def test_a_read_held_open_through_the_crawl_blocks_nothing(busy_archive):
    returncode, _out, stderr = busy_archive.a
    assert returncode == 0, stderr
    held, held_after = busy_archive.held
    assert held_after == held  # the reader kept its snapshot...
    stats = json.loads(rows(busy_archive.db, "SELECT stats FROM crawls WHERE id = 1")[0][0])
    assert stats["archive/captured"] == 60 and "archive/write/failed" not in stats  # ...the writer wrote on
    assert archive_problems(busy_archive.db) == [] and crawl_accounts(busy_archive.db) == []


def _open_at_once(path: Path, barrier: Any, errors: Any) -> None:
    barrier.wait()
    try:
        Archive.open(path).close()
    except Exception as exc:  # reported to the parent
        errors.put(f"{type(exc).__name__}: {exc}")


@pytest.mark.parametrize("existing_schema", [0, 3])
def test_processes_opening_an_archive_at_once_migrate_it_once(tmp_path, existing_schema):
    """A cron crawl and a ``scrapy crawl`` (or two) may create or upgrade the same archive at the
    same moment: each opens it without an error and the schema ends complete."""
    path = tmp_path / "news.db"
    if existing_schema:
        import sqlite_utils

        db = sqlite_utils.Database(path)
        for migration in MIGRATIONS[:existing_schema]:
            migration(db)
        db.execute(f"PRAGMA user_version = {existing_schema}")
        db.close()
    context = multiprocessing.get_context("fork")
    barrier, errors = context.Barrier(6), context.Queue()
    processes = [context.Process(target=_open_at_once, args=(path, barrier, errors)) for _ in range(6)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    reported = [errors.get(timeout=1) for _ in range(errors.qsize())] if not errors.empty() else []
    assert reported == [] and [p.exitcode for p in processes] == [0] * 6
    with Archive.open(path, readonly=True) as archive:
        assert archive.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert "site_dictionaries" in archive.db.table_names()


def test_a_crawl_waiting_for_the_lock_leaves_the_archive_unmigrated(tmp_path):
    """An upgraded newscrawler started while an older one crawls the archive migrates it only once
    it holds the crawl lock: a migration holds the write lock for as long as it runs, and the
    running crawl's writes would wait meanwhile."""
    import sqlite_utils
    from click.testing import CliRunner

    from newscrawler.cli import cli

    path = tmp_path / "news.db"
    db = sqlite_utils.Database(path)
    for migration in MIGRATIONS[:-1]:
        migration(db)
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) - 1}")
    db.close()
    with CrawlLock(path).acquire(command="newscrawler crawl (the older one)"):
        result = CliRunner().invoke(cli, ["crawl", "http://127.0.0.1:9/a.html", "--db", str(path),
                                          "-s", "ARCHIVE_LOCK_WAIT=0.3"])
        assert result.exit_code == 1 and "another crawl is writing this archive" in result.output
        with Archive.open(path, readonly=True) as archive:
            assert archive.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) - 1
    with Archive.open(path) as archive:  # as the crawl does once it holds the lock
        assert archive.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def test_an_archive_migrated_past_this_code_meanwhile_is_refused_with_the_reason(tmp_path, monkeypatch):
    """A newer newscrawler may migrate the archive between our first look at its schema number
    and our write lock: the error still says why, and the archive is left as that one made it."""
    import sqlite_utils

    path = tmp_path / "news.db"
    db = sqlite_utils.Database(path)
    for migration in MIGRATIONS[:3]:
        migration(db)
    db.execute("PRAGMA user_version = 3")
    db.close()
    first_look = Migrations.applied
    looks = []

    def newer_one_migrates_meanwhile(migrations: Migrations, db, label="") -> int:
        version = first_look(migrations, db, label)
        looks.append(version)
        if len(looks) == 1:
            other = sqlite3.connect(path)
            other.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
            other.commit()
            other.close()
        return version

    monkeypatch.setattr(Migrations, "applied", newer_one_migrates_meanwhile)
    with pytest.raises(RuntimeError, match=f"has schema {len(MIGRATIONS) + 1}, newer than this newscrawler"):
        Archive.open(path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) + 1
    assert "site_dictionaries" not in {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
