"""The end-of-crawl account: every article URL a spider scheduled ended as a capture row."""

from __future__ import annotations

import logging
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


class CaptureLedger:
    """Extension that balances a crawl's stats when the spider closes.

    Spiders count ``archive/scheduled`` (article requests, and URLs named by the user once they
    turn out to be pages); :class:`newscrawler.pipelines.ArchivePipeline` counts
    ``archive/captures/<outcome>`` and ``archive/write/failed``. Sets ``archive/captured`` (the
    sum of the captures) and ``archive/unaccounted`` (scheduled - captured - write failures), and
    logs a WARNING when URLs went missing: a request dropped without its errback, a callback that
    raised. A crawl stopped early (shutdown) leaves its queued URLs unaccounted; they have no
    capture, so the next run fetches them. Connects before the item pipelines, so the
    ``crawls.stats`` row holds both keys.
    """

    def __init__(self, crawler: Crawler):
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CaptureLedger:
        ledger = cls(crawler)
        crawler.signals.connect(ledger.spider_closed, signal=signals.spider_closed)
        return ledger

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
