"""The spider behind ``newscrawler crawl``: any mix of sitemaps, feeds, home pages and articles."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import scrapy

from newscrawler.middlewares import COMPARE
from newscrawler.spiders.base import ArchiveSpider, split_urls
from newscrawler.urls import clean_url


class AutoSpider(ArchiveSpider):
    """Fetches each given URL and handles it as what the response shows it to be; also reads the
    watched sites' sitemaps and feeds and re-checks due articles when asked.

    ``scrapy crawl auto -a urls="URL URL ..." [-a sites=sites.toml] [-a recheck=1]``.
    See :meth:`ArchiveSpider.parse_any`. With ``ARCHIVE_SHARD`` the URLs of other shards' sites are
    left out (counted in ``archive/shard/skipped_urls``).

    :raises ValueError: when there is nothing to do (no URL, no sites file, no re-check).
    """

    name = "auto"

    def __init__(self, urls: str | list[str] | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.urls = split_urls(urls)
        if not (self.urls or self.sites or self.recheck):
            raise ValueError("the auto spider needs -a urls='URL [URL ...]', -a sites=FILE or -a recheck=1")

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> AutoSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        if spider.shard is not None:
            kept = [url for url in spider.urls if spider.shard.holds_url(url)]
            spider.shard_skipped["archive/shard/skipped_urls"] = len(spider.urls) - len(kept)
            spider.urls = kept
        return spider

    async def start(self) -> AsyncIterator[scrapy.Request]:
        if self.recheck:
            self.queue_rechecks()
            for request in self.next_requests():
                yield request
        for request in self.site_requests():
            yield request
        for url in dict.fromkeys(self.urls):  # each named URL once
            try:
                key = clean_url(url)
            except ValueError:
                key = None
            if key in self._scheduled:
                continue
            if key is not None:
                self._scheduled.add(key)
            hint = f" (did you mean https://{url}?)" if "." in url.split("/")[0] else ""
            try:
                request = scrapy.Request(
                    url, callback=self.parse_any, errback=self.start_failed, dont_filter=True,
                    meta={"handle_httpstatus_list": [404, 410, 500, 502, 503, 504], "via": "cli", COMPARE: True},
                )
            except ValueError as exc:  # no scheme, or not a URL at all: recorded, the crawl goes on
                yield self.unfetchable(url, f"not an absolute URL: {exc}{hint if not urlsplit(url).scheme else ''}")
                continue
            yield request
