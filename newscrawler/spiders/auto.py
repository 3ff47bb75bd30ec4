"""The spider behind ``newscrawler crawl``: any mix of sitemaps, feeds, home pages and articles."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import scrapy

from newscrawler.spiders.base import ArchiveSpider, split_urls


class AutoSpider(ArchiveSpider):
    """Fetches each given URL and handles it as what the response shows it to be.

    ``scrapy crawl auto -a urls="URL URL ..."``. See :meth:`ArchiveSpider.parse_any`.
    """

    name = "auto"

    def __init__(self, urls: str | list[str] | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.urls = split_urls(urls)
        if not self.urls:
            raise ValueError("the auto spider needs urls: -a urls='URL [URL ...]'")

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for url in self.urls:
            yield scrapy.Request(
                url, callback=self.parse_any, errback=self.start_failed, dont_filter=True,
                meta={"handle_httpstatus_list": [404, 410, 500, 502, 503, 504], "via": "cli"},
            )
