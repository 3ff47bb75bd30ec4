"""Plain lists of article URLs: always fetched, whatever the archive holds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import scrapy

from newscrawler.spiders.base import ArchiveSpider, split_urls


class ArticleListSpider(ArchiveSpider):
    """Archives the given article URLs.

    ``scrapy crawl articles -a urls="URL URL ..."`` or ``-a file=urls.txt`` (one URL a line,
    ``#`` comments and blank lines skipped). Every URL is fetched, even one archived a minute ago.

    :raises ValueError: when neither argument gives a URL.
    :raises OSError: when ``file`` cannot be read.
    """

    name = "articles"

    def __init__(self, urls: str | list[str] | None = None, file: str | None = None,
                 **kwargs: Any):
        super().__init__(**kwargs)
        self.article_urls = split_urls(urls)
        if file:
            lines = Path(file).read_text(encoding="utf-8").splitlines()
            self.article_urls += [ln.strip() for ln in lines
                                  if ln.strip() and not ln.lstrip().startswith("#")]
        if not self.article_urls:
            raise ValueError("the articles spider needs -a urls='URL ...' or -a file=PATH")

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for url in self.article_urls:
            self.queue_article(url, "list", force=True)
        for request in self.next_requests():
            yield request
