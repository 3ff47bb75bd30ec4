"""Discovery from a site's home page: its syndication feeds and the sitemaps of its robots.txt."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urljoin

import scrapy

from newscrawler.spiders.base import ArchiveSpider, split_urls


class SiteSpider(ArchiveSpider):
    """Archives a site from its home page.

    ``scrapy crawl site -a url=https://example.com/``: follows the home page's
    ``<link rel="alternate">`` RSS/Atom feeds and the ``Sitemap:`` lines of ``/robots.txt``.
    """

    name = "site"

    def __init__(self, url: str | list[str] | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.home_urls = [urljoin(u, "/") for u in split_urls(url)]
        if not self.home_urls:
            raise ValueError("the site spider needs -a url=HOME_PAGE_URL")

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for url in self.home_urls:
            yield self.discovery_request(url, self.parse_home, "home")
