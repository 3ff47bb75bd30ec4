"""Discovery from syndication feeds (RSS 0.9x/1.0/2.0 and Atom)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import scrapy

from newscrawler.spiders.base import ArchiveSpider, split_urls


class SyndicationFeedSpider(ArchiveSpider):
    """Archives the articles linked from RSS or Atom syndication feeds.

    ``scrapy crawl feed -a feed_url=https://example.com/rss.xml`` (several separated by commas).
    Entries follow the fetch policy, with the entry's updated (or published) date as lastmod.
    """

    name = "feed"

    def __init__(self, feed_url: str | list[str] | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.feed_urls = split_urls(feed_url)
        if not self.feed_urls:
            raise ValueError("the feed spider needs -a feed_url=FEED_URL")

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for url in self.feed_urls:
            yield self.discovery_request(url, self.parse_feed, "feed")
