"""Writers never lose a capture: every write transaction of the archive begins IMMEDIATE (#20 part 1).

Case C26 of ../shared/cases (simonw/datasette#2358): a deferred transaction that reads, then
writes, is refused at once with "database is locked" when another connection committed in
between, busy timeout or not. Here that interleaving is played against :meth:`Archive.record`,
then several writer processes, each with several threads, and Datasette readers share one archive.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from newscrawler import versioning
from newscrawler.items import Capture
from newscrawler.store import Archive, write_transaction


def _capture(url: str, body: str, at: str = "2026-11-29T10:00:00Z") -> Capture:
    extracted = {"headline": f"Story at {url}", "body": body, "authors": [], "date_published": None,
                 "date_published_raw": None, "date_modified": None, "date_modified_raw": None,
                 "language": "en", "description": None, "site_name": None, "canonical_url": None,
                 "tags": [], "image_url": None, "extractor": "test"}
    return Capture(requested_url=url, final_url=url, captured_at=at, status=200,
                   body=body.encode(), content_type="text/html", extracted=extracted)


def _prose(n: int, edit: int = 0) -> str:
    return (f"The harbour board met on day {n} to discuss the dredging plan (edit {edit}), and the "
            f"ferry operator asked for {n * 7 + edit} more sailings.\n\nThe council will vote on "
            f"the cost of works numbered {n} at its next meeting, the chair said on Tuesday.")


def test_a_read_then_write_capture_survives_a_commit_in_between(tmp_path, monkeypatch):
    """C26: A reads article 1, B commits article 2 meanwhile, A writes version 2: all three kept."""
    db = tmp_path / "news.db"
    with Archive.open(db) as seed:
        seed.record(_capture("https://news.example/a/1", _prose(1)))
    a = Archive.open(db)
    outcome: dict[str, object] = {}
    decide, worker_a = versioning.decide, threading.get_ident()

    def store_b() -> None:
        with Archive.open(db, migrate=False) as b:
            try:
                outcome["B"] = b.record(_capture("https://news.example/a/2", _prose(2))).outcome
            except sqlite3.Error as exc:
                outcome["B"] = exc

    def decide_after_b_ran(*args, **kwargs):
        if threading.get_ident() == worker_a and "thread" not in outcome:
            outcome["thread"] = threading.Thread(target=store_b)
            outcome["thread"].start()
            outcome["thread"].join(timeout=0.5)  # a deferred transaction lets B commit here
        return decide(*args, **kwargs)

    monkeypatch.setattr(versioning, "decide", decide_after_b_ran)
    try:
        outcome["A"] = a.record(_capture("https://news.example/a/1", _prose(1, edit=1),
                                         at="2026-11-29T11:00:00Z")).outcome
    except sqlite3.Error as exc:
        outcome["A"] = exc
    outcome["thread"].join()
    a.close()
    assert (outcome["A"], outcome["B"]) == ("changed", "new")
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM versions").fetchone()[0] == 3
    conn.close()


def test_write_transaction_nests_as_a_savepoint_and_rolls_back_alone(tmp_path):
    with Archive.open(tmp_path / "news.db") as archive:
        conn = archive.db.conn
        with write_transaction(archive.db):
            conn.execute("INSERT INTO crawls (started_at, command) VALUES ('2026-01-01T00:00:00Z', 'outer')")
            with pytest.raises(ZeroDivisionError), write_transaction(conn):
                conn.execute("INSERT INTO crawls (started_at, command) VALUES ('2026-01-01T00:00:00Z', 'inner')")
                1 / 0  # noqa: B018 - the error that must roll back the savepoint only
        assert [r[0] for r in conn.execute("SELECT command FROM crawls")] == ["outer"]
        assert not conn.in_transaction


def test_write_transaction_takes_the_write_lock_before_reading(tmp_path):
    """While one write transaction is open (even before it wrote), another writer waits."""
    db = tmp_path / "news.db"
    Archive.open(db).close()
    holder = sqlite3.connect(db, isolation_level=None)
    other = sqlite3.connect(db, isolation_level=None, timeout=0.2)
    with write_transaction(holder):
        holder.execute("SELECT count(*) FROM captures").fetchone()
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
    other.execute("BEGIN IMMEDIATE")
    other.execute("ROLLBACK")
    holder.close()
    other.close()


# -- stress: writer processes x threads, Datasette readers --------------------------------------------

PROCESSES, THREADS, CAPTURES = 3, 3, 12
SHARED_ARTICLES = 4  # every writer also edits these, so reads and writes collide on the same rows


def _writer_process(db: str, index: int, errors: multiprocessing.Queue) -> None:
    def thread(t: int) -> None:
        archive = Archive.open(db)
        try:
            for n in range(CAPTURES):
                if n % 3 == 0:  # an edit of a shared article, after reading its versions
                    url = f"https://news.example/shared/{n % SHARED_ARTICLES}"
                    body = _prose(n, edit=index * 100 + t * 10 + n)
                else:
                    url, body = f"https://news.example/p{index}/t{t}/{n}", _prose(index * 1000 + t * 100 + n)
                archive.record(_capture(url, body, at=f"2026-11-29T10:{index:02d}:{t * 10 + n % 10:02d}Z"))
        except BaseException as exc:  # noqa: BLE001 - reported to the test, which fails on it
            errors.put(f"writer {index}/{t}: {type(exc).__name__}: {exc}")
        finally:
            archive.close()

    threads = [threading.Thread(target=thread, args=(t,)) for t in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()


def _datasette_reader(db: str, stop: multiprocessing.Event, errors: multiprocessing.Queue,
                      reads: multiprocessing.Value) -> None:
    from datasette.app import Datasette

    async def read() -> None:
        ds = Datasette(files=[db])
        deadline = time.monotonic() + 120
        while not stop.is_set() and time.monotonic() < deadline:
            response = await ds.client.get(f"/{Path(db).stem}/captures.json?_shape=array&_size=5")
            if response.status_code != 200:
                errors.put(f"Datasette answered {response.status_code}: {response.text[:200]}")
                return
            with reads.get_lock():
                reads.value += 1

    try:
        asyncio.run(read())
    except BaseException as exc:  # noqa: BLE001 - reported to the test, which fails on it
        errors.put(f"reader: {type(exc).__name__}: {exc}")


def test_writer_processes_and_threads_with_datasette_readers_lose_nothing(tmp_path):
    db = str(tmp_path / "news.db")
    Archive.open(db).close()
    ctx = multiprocessing.get_context("spawn")
    errors, stop, reads = ctx.Queue(), ctx.Event(), ctx.Value("i", 0)
    readers = [ctx.Process(target=_datasette_reader, args=(db, stop, errors, reads)) for _ in range(2)]
    writers = [ctx.Process(target=_writer_process, args=(db, i, errors)) for i in range(PROCESSES)]
    for process in readers:
        process.start()
    deadline = time.monotonic() + 120
    while reads.value < 2 and time.monotonic() < deadline:  # both readers up (Datasette imported)
        time.sleep(0.05)
    before = reads.value
    for process in writers:
        process.start()
    for process in writers:
        process.join(timeout=240)
    during = reads.value - before
    stop.set()
    for process in readers:
        process.join(timeout=60)
    found = []
    while not errors.empty():
        found.append(errors.get())
    assert found == []
    assert all(p.exitcode == 0 for p in writers + readers)
    conn = sqlite3.connect(db)
    captures = conn.execute("SELECT count(*) FROM captures").fetchone()[0]
    shared_versions = conn.execute(
        "SELECT count(*) FROM versions v JOIN articles a ON a.id = v.article_id "
        "WHERE a.url LIKE 'https://news.example/shared/%'").fetchone()[0]
    conn.close()
    assert captures == PROCESSES * THREADS * CAPTURES
    # each edit of a shared article has its own text: every one made a version
    assert shared_versions == PROCESSES * THREADS * len(range(0, CAPTURES, 3))
    assert during > 0  # Datasette read while the writers wrote
