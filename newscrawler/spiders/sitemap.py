"""Discovery from sitemaps: urlsets, sitemap indexes, gzip files, Google News sitemaps, robots.txt."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import scrapy

from newscrawler.spiders.base import ArchiveSpider, split_urls


class NewsSitemapSpider(ArchiveSpider):
    """Archives the articles listed in sitemaps.

    ``scrapy crawl sitemap -a url=https://example.com/sitemap.xml`` (several separated by commas;
    a ``robots.txt`` URL reads its ``Sitemap:`` lines). Entries follow the fetch policy: new URLs,
    and archived ones whose ``<lastmod>`` is newer than their last capture.
    """

    name = "sitemap"

    def __init__(self, url: str | list[str] | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.sitemap_urls = split_urls(url)
        if not self.sitemap_urls:
            raise ValueError("the sitemap spider needs -a url=SITEMAP_URL")

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for url in self.sitemap_urls:
            callback = self.parse_robots if url.endswith("/robots.txt") else self.parse_sitemap
            yield self.discovery_request(url, callback, "sitemap")
