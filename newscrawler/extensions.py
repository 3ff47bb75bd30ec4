"""Crawl-wide Scrapy extensions: the crawl lock, the ``crawls`` row and the capture ledger.

Each is built in ``from_crawler``, switches off with :class:`~scrapy.exceptions.NotConfigured`
when ``ARCHIVE_DB`` is not set, and names its handlers after the signals they answer (after
``scrapy/extensions/corestats.py``). They are listed in ``EXTENSIONS`` in this order, which is
the order their ``spider_closed`` handlers run in: the ledger's counts are in the stats before
the ``crawls`` row stores them, and the lock is released after both, on ``engine_stopped``.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from newscrawler.lock import ArchiveLocked, CrawlLock, command_line, format_seconds, held_here
from newscrawler.store import Archive

logger = logging.getLogger(__name__)

DISCOVERY_PROBLEM = object()
"""Signal a spider sends for a broken sitemap or syndication feed, with ``url``, ``kind``
(``"sitemap"``/``"feed"``), ``problem`` (the parse error in words) and ``entries`` (read all the
same); :class:`CrawlRow` writes it to ``discovery_problems``."""


def _archive_path(crawler: Crawler) -> str:
    """``ARCHIVE_DB``.

    :raises NotConfigured: when it is not set.
    """
    path = crawler.settings.get("ARCHIVE_DB")
    if not path:
        raise NotConfigured("ARCHIVE_DB must be set")
    return str(path)


def crawl_command(crawler: Crawler) -> str:
    """The command line recorded for this crawl (lock file, ``crawls.command``): ``ARCHIVE_COMMAND``
    when set (``newscrawler crawl`` sets it), else this process's own (``sys.orig_argv``: Scrapy's
    command line removes ``crawl`` from ``sys.argv`` before spiders run)."""
    return crawler.settings.get("ARCHIVE_COMMAND") or command_line(sys.orig_argv)


class ArchiveLock:
    """Holds the archive's crawl lock (``<ARCHIVE_DB>.lock``, :class:`newscrawler.lock.CrawlLock`)
    from the moment the crawler is made until ``engine_stopped``.

    So ``scrapy crawl``, scrapyd and ``newscrawler crawl`` all take the same lock, before any
    component opens the archive (migrations run under it). A busy lock is waited for up to
    ``ARCHIVE_LOCK_WAIT`` seconds (one WARNING says who holds it); then the crawl does not start.
    A process that already holds the lock (``newscrawler crawl`` takes it before it starts Scrapy,
    to refuse without starting a reactor) keeps it: this extension neither takes it again nor
    releases it.

    :raises NotConfigured: when ``ARCHIVE_DB`` is not set.
    :raises newscrawler.lock.ArchiveLocked: when the lock is still held by another process after
        ``ARCHIVE_LOCK_WAIT`` seconds; its message names the holder (pid, since when, command).
    """

    def __init__(self, db_path: str, wait: float, command: str):
        self.db_path = db_path
        self.wait = wait
        self.command = command
        self.lock: CrawlLock | None = None  # the lock this extension took (None: held by another part)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchiveLock:
        extension = cls(_archive_path(crawler), crawler.settings.getfloat("ARCHIVE_LOCK_WAIT", 600.0),
                        crawl_command(crawler))
        extension.acquire()
        crawler.signals.connect(extension.engine_stopped, signal=signals.engine_stopped)
        return extension

    def acquire(self) -> None:
        """Take the lock unless this process holds it already (see the class).

        :raises newscrawler.lock.ArchiveLocked: as the class says.
        """
        if held_here(self.db_path) is not None:
            return

        def waiting(holder: dict[str, Any]) -> None:
            logger.warning("%s is being crawled by pid %s: waiting up to %s s for it to finish",
                           self.db_path, holder.get("pid", "?"), format_seconds(self.wait))

        try:
            self.lock = CrawlLock(self.db_path).acquire(self.wait, command=self.command, on_wait=waiting)
        except ArchiveLocked as exc:
            logger.error("not crawling: %s", exc)  # one line for the log; Scrapy prints the traceback
            raise

    def engine_stopped(self) -> None:
        if self.lock is not None:
            self.lock.release()
            self.lock = None


class CrawlRow:
    """Opens this crawl's ``crawls`` row when the spider opens, and closes it with Scrapy's stats
    and the finish reason when the spider closes.

    Sets the stat ``archive/crawl_id`` (the row's id), which the captures written meanwhile carry
    (:class:`newscrawler.pipelines.ArchivePipeline`); writes the :data:`DISCOVERY_PROBLEM` signals
    of the crawl as ``discovery_problems`` rows. The command stored is :func:`crawl_command`.

    :raises NotConfigured: when ``ARCHIVE_DB`` is not set.
    """

    def __init__(self, crawler: Crawler, db_path: str):
        self.stats = crawler.stats
        self.db_path = db_path
        self.command = crawl_command(crawler)
        self.archive: Archive | None = None
        self.crawl_id: int | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlRow:
        extension = cls(crawler, _archive_path(crawler))
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(extension.discovery_problem, signal=DISCOVERY_PROBLEM)
        return extension

    def spider_opened(self, spider: Any) -> None:
        self.archive = Archive.open(self.db_path)
        self.crawl_id = self.archive.start_crawl(self.command)
        self.stats.set_value("archive/crawl_id", self.crawl_id)
        logger.info("archiving into %s (crawl %d)", self.db_path, self.crawl_id)

    def discovery_problem(self, url: str, kind: str, problem: str, entries: int) -> None:
        """On :data:`DISCOVERY_PROBLEM`: a ``discovery_problems`` row of this crawl."""
        if self.archive is not None:
            self.archive.record_discovery_problem(self.crawl_id, url, kind, problem, entries)

    def spider_closed(self, spider: Any, reason: str) -> None:
        if self.archive is None:
            return
        try:
            self.archive.finish_crawl(self.crawl_id, self.stats.get_stats(), reason)
        finally:
            self.archive.close()
            self.archive = None


class CaptureLedger:
    """Balances a crawl's stats when the spider closes: every article URL a spider scheduled ended
    as a capture row.

    Spiders count ``archive/scheduled`` (article requests, and URLs named by the user once they
    turn out to be pages); :class:`newscrawler.pipelines.ArchivePipeline` counts
    ``archive/captures/<outcome>`` and ``archive/write/failed``. Sets ``archive/captured`` (the
    sum of the captures) and ``archive/unaccounted`` (scheduled - captured - write failures), and
    logs a WARNING when URLs went missing: a request dropped without its errback, a callback that
    raised. A crawl stopped early (shutdown) leaves its queued URLs unaccounted; they have no
    capture, so the next run fetches them.

    :raises NotConfigured: when ``ARCHIVE_DB`` is not set (nothing is archived, so nothing balances).
    """

    def __init__(self, crawler: Crawler):
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CaptureLedger:
        _archive_path(crawler)
        extension = cls(crawler)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_closed(self, spider: Any, reason: str) -> None:
        stats = self.stats.get_stats()
        scheduled = stats.get("archive/scheduled", 0)
        captured = sum(v for k, v in stats.items() if k.startswith("archive/captures/"))
        unaccounted = scheduled - captured - stats.get("archive/write/failed", 0)
        self.stats.set_value("archive/captured", captured)
        self.stats.set_value("archive/unaccounted", unaccounted)
        if unaccounted:
            logger.warning("%d of %d scheduled URLs ended without a capture (crawl %s)",
                           unaccounted, scheduled, reason)
