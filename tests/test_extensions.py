"""Crawl-wide extensions: the crawl lock (the same for ``scrapy crawl`` and ``newscrawler crawl``),
the ``crawls`` row and the capture ledger; each off without ARCHIVE_DB."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time

import pytest
from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.test import get_crawler

from newscrawler.extensions import ArchiveLock, CaptureLedger, CrawlRow
from newscrawler.lock import ArchiveLocked, CrawlLock, held_here
from tests.archive_checks import crawl_env, numbered_story
from tests.crawling import REPO, rows
from tests.site import slow_route
from tests.test_crash import wait_for


def scrapy_crawl_args(db, *urls: str, wait: float = 30) -> list[str]:
    """``scrapy crawl articles`` of ``urls`` into ``db``, the way a Scrapy user types it."""
    args = [sys.executable, "-m", "scrapy", "crawl", "articles", "-a", "urls=" + " ".join(urls)]
    for setting in (f"ARCHIVE_DB={db}", f"ARCHIVE_LOCK_WAIT={wait}", "DOWNLOAD_DELAY=0",
                    "AUTOTHROTTLE_ENABLED=False", "RETRY_TIMES=0", "LOG_LEVEL=INFO"):
        args += ["-s", setting]
    return args


def test_scrapy_crawl_on_a_locked_archive_waits_then_refuses_with_the_locks_reason(loopback_site, tmp_path):
    loopback_site.add_page("/news/a.html", numbered_story("harbour", 1))
    db = tmp_path / "news.db"
    with CrawlLock(db).acquire(command="newscrawler crawl --sites sites.toml"):
        started = time.monotonic()
        proc = subprocess.run(scrapy_crawl_args(db, loopback_site.url("/news/a.html"), wait=1.5),
                              capture_output=True, text=True, timeout=120, env=crawl_env(), cwd=REPO,
                              stdin=subprocess.DEVNULL)
        took = time.monotonic() - started
    assert proc.returncode == 1, proc.stderr
    assert f"{db} is being crawled by pid {os.getpid()}: waiting up to 1.5 s" in proc.stderr  # it waited
    refusal = [ln for ln in proc.stderr.splitlines() if "ERROR: not crawling:" in ln]
    assert len(refusal) == 1, proc.stderr
    assert (f"another crawl is writing this archive (pid {os.getpid()}, since " in refusal[0]
            and "newscrawler crawl --sites sites.toml); gave up after waiting 1.5" in refusal[0])
    assert took >= 1.5
    assert loopback_site.requests == []  # nothing fetched
    assert not db.exists()  # nor the archive created (migrations run under the lock only)


def test_scrapy_crawl_holds_the_lock_newscrawler_crawl_takes(loopback_site, tmp_path):
    """While ``scrapy crawl`` writes, the lock (the very one ``newscrawler crawl`` takes) names it;
    a crawl waiting for it then goes on once it is released, and both crawls are archived."""
    loopback_site.add_page("/news/slow.html", numbered_story("harbour", 1))
    loopback_site.add_route("/news/slow.html", slow_route(3.0))
    db = tmp_path / "news.db"
    proc = subprocess.Popen(scrapy_crawl_args(db, loopback_site.url("/news/slow.html")), env=crawl_env(),
                            cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        lock_file = tmp_path / "news.db.lock"
        wait_for(lambda: lock_file.exists() and lock_file.read_text().strip(), "scrapy crawl to take the lock")
        holder = json.loads(lock_file.read_text())
        assert holder["pid"] == proc.pid and " -m scrapy crawl articles -a urls=" in holder["command"]
        with pytest.raises(ArchiveLocked, match=f"pid {proc.pid}"):
            CrawlLock(db).acquire(wait=0)
        with CrawlLock(db).acquire(wait=60):  # waits for the crawl to finish: its row is closed by then
            [(reason,)] = rows(db, "SELECT finish_reason FROM crawls")
            assert reason == "finished"
        _out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    finally:
        proc.kill()
        proc.communicate()
    assert lock_file.read_text() == ""  # released
    [(outcome,)] = rows(db, "SELECT outcome FROM captures")
    assert outcome == "new", err


def test_newscrawler_crawl_holds_the_lock_itself_and_the_extension_leaves_it_alone(tmp_path):
    db = tmp_path / "news.db"
    with CrawlLock(db).acquire(command="newscrawler crawl x") as lock:
        assert held_here(db) is lock and held_here(tmp_path / "." / "news.db") is lock
        crawler = get_crawler(settings_dict={"ARCHIVE_DB": str(db), "ARCHIVE_LOCK_WAIT": 0})
        extension = ArchiveLock.from_crawler(crawler)  # no wait: this process holds it already
        assert extension.lock is None
        crawler.signals.send_catch_log(signals.engine_stopped)
        assert held_here(db) is lock and json.loads(lock.path.read_text())["command"] == "newscrawler crawl x"
    assert held_here(db) is None


def test_the_lock_extension_takes_the_lock_and_releases_it_when_the_engine_stops(tmp_path):
    db = tmp_path / "news.db"
    crawler = get_crawler(settings_dict={"ARCHIVE_DB": str(db), "ARCHIVE_COMMAND": "scrapy crawl articles"})
    extension = ArchiveLock.from_crawler(crawler)
    assert held_here(db) is extension.lock
    assert json.loads((tmp_path / "news.db.lock").read_text())["command"] == "scrapy crawl articles"
    crawler.signals.send_catch_log(signals.engine_stopped)
    assert held_here(db) is None and (tmp_path / "news.db.lock").read_text() == ""
    CrawlLock(db).acquire(wait=0).release()  # free for the next crawl


def test_crawl_row_opens_and_closes_the_crawls_row_with_the_stats(tmp_path, caplog):
    db = tmp_path / "news.db"
    crawler = get_crawler(settings_dict={"ARCHIVE_DB": str(db), "ARCHIVE_COMMAND": "newscrawler crawl y",
                                         "EXTENSIONS": {}})
    # as in EXTENSIONS: the ledger before the row (kept referenced: signals hold handlers weakly)
    extensions = [CaptureLedger.from_crawler(crawler), CrawlRow.from_crawler(crawler)]
    crawler.stats.open_spider()
    with caplog.at_level(logging.INFO, logger="newscrawler.extensions"):
        crawler.signals.send_catch_log(signals.spider_opened, spider=None)
    crawl_id = crawler.stats.get_value("archive/crawl_id")
    assert f"archiving into {db} (crawl {crawl_id})" in caplog.text
    [(command, finished)] = rows(db, "SELECT command, finished_at FROM crawls WHERE id = ?", (crawl_id,))
    assert (command, finished) == ("newscrawler crawl y", None)
    crawler.stats.set_value("archive/scheduled", 2)
    crawler.stats.set_value("archive/captures/new", 1)
    crawler.signals.send_catch_log(signals.spider_closed, spider=None, reason="finished")
    [(reason, stats, finished)] = rows(db, "SELECT finish_reason, stats, finished_at FROM crawls")
    assert reason == "finished" and finished is not None
    # the ledger's spider_closed ran first (connected first): its counts are in the row
    assert json.loads(stats)["archive/unaccounted"] == 1 and json.loads(stats)["archive/captured"] == 1
    assert extensions[1].archive is None  # its connection closed


@pytest.mark.parametrize("extension", [ArchiveLock, CrawlRow, CaptureLedger])
def test_each_extension_is_off_without_an_archive(extension):
    with pytest.raises(NotConfigured, match="ARCHIVE_DB must be set"):
        extension.from_crawler(get_crawler(settings_dict={"ARCHIVE_DB": None}))
