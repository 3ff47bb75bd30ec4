"""Re-checks of archived articles whose time has come (newscrawler.policy's schedule)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import scrapy

from newscrawler.spiders.base import ArchiveSpider


class RecheckSpider(ArchiveSpider):
    """Re-fetches archived articles whose ``next_check_at`` has passed, most overdue first.

    ``scrapy crawl recheck [-a sites=sites.toml]``: at most ``ARCHIVE_RECHECK_MAX`` articles;
    requests are conditional (a 304 is archived as ``not_modified`` without extraction); sites
    with ``recheck = false`` in the sites file are left out.
    """

    name = "recheck"

    def __init__(self, **kwargs: Any):
        kwargs["recheck"] = True
        super().__init__(**kwargs)

    async def start(self) -> AsyncIterator[scrapy.Request]:
        self.queue_rechecks()
        for request in self.next_requests():
            yield request
