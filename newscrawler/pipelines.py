"""Item pipelines: extract the article from each fetched page, then archive the capture."""

from __future__ import annotations

import dataclasses
import logging
import shlex
import sys
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from newscrawler.extraction import extract_article, prose_paragraphs
from newscrawler.store import Archive, Capture

logger = logging.getLogger(__name__)

_HTML_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "")
_BINARY_MAGIC = {b"%PDF": "PDF", b"\x89PNG": "PNG image", b"\xff\xd8\xff": "JPEG image",
                 b"GIF8": "GIF image", b"PK\x03\x04": "ZIP archive", b"RIFF": "RIFF media"}


def classify_not_article(item: dict[str, Any]) -> str | None:
    """Why a fetched page cannot hold an article, in words, or None when it may.

    Looks at the status (non-2xx), the body (empty, binary magic numbers) and the Content-Type
    (anything but HTML); the body is sniffed first, since servers mislabel PDFs as text/html.
    """
    status = item.get("status")
    body = item.get("body") or b""
    if status is not None and not 200 <= status < 300:
        return f"HTTP {status}"
    if not body.strip():
        return "empty response"
    head = body[:8].lstrip()
    for magic, name in _BINARY_MAGIC.items():
        if head.startswith(magic):
            return f"not HTML: the body is a {name}"
    content_type = (item.get("content_type") or "").split(";")[0].strip().lower()
    if content_type not in _HTML_TYPES:
        return f"not HTML: Content-Type {content_type}"
    if item.get("html") is None:
        return "not HTML: the body is not text"
    return None


class ExtractPipeline:
    """Runs extraction on each fetched page; pages that hold no article get outcome ``not_article``.

    Settings: ``ARCHIVE_MIN_BODY_CHARS`` (shortest body, in characters, that counts as an
    article), ``ARCHIVE_DEFAULT_TZ`` (zone for dates without one).
    """

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.stats = crawler.stats
        self.min_body_chars = crawler.settings.getint("ARCHIVE_MIN_BODY_CHARS", 250)
        self.default_tz = crawler.settings.get("ARCHIVE_DEFAULT_TZ", "UTC")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ExtractPipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        if item.get("outcome"):  # failed fetch: nothing to extract
            return item
        status = item.get("status")
        reason = classify_not_article(item)
        if reason is not None:
            item["outcome"] = "failed" if status is not None and status >= 400 else "not_article"
            item["error"] = reason
            return item
        extracted = extract_article(item["html"], item.get("final_url") or item["requested_url"],
                                    hints=item.get("hints"), default_tz=self.default_tz)
        if extracted is None:
            self.stats.inc_value("archive/extraction/failed")
            item["outcome"], item["error"] = "not_article", "no article body found"
        elif len(extracted.body) < self.min_body_chars:
            self.stats.inc_value("archive/extraction/too_short")
            item["outcome"] = "not_article"
            item["error"] = (f"body too short: {len(extracted.body)} characters "
                             f"< ARCHIVE_MIN_BODY_CHARS={self.min_body_chars}")
        elif not prose_paragraphs(extracted.body):
            self.stats.inc_value("archive/extraction/no_prose")
            item["outcome"] = "not_article"
            item["error"] = "no prose: the body is headings and link lists (a section front?)"
        else:
            item["extracted"] = extracted.to_dict()
        return item


class ArchivePipeline:
    """Writes every item to the archive (``ARCHIVE_DB``) as one capture, in one transaction.

    Opens a ``crawls`` row when the spider opens and closes it with Scrapy's stats when the
    spider closes. Stats: ``archive/captures/<outcome>``, ``archive/versions/new``,
    ``archive/write/failed``.

    :raises NotConfigured: when ``ARCHIVE_DB`` is not set.
    """

    def __init__(self, crawler: Crawler, path: str):
        self.crawler = crawler
        self.stats = crawler.stats
        self.path = path
        self.archive: Archive | None = None
        self.crawl_id: int | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchivePipeline:
        path = crawler.settings.get("ARCHIVE_DB")
        if not path:
            raise NotConfigured("ARCHIVE_DB must be set")
        pipeline = cls(crawler, path)
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        return pipeline

    def open_spider(self) -> None:
        self.archive = Archive.open(self.path)
        command = self.crawler.settings.get("ARCHIVE_COMMAND") or shlex.join(sys.argv)
        self.crawl_id = self.archive.start_crawl(command)
        logger.info("archiving into %s (crawl %d)", self.path, self.crawl_id)

    def process_item(self, item: Any) -> Any:
        fields = {f.name for f in dataclasses.fields(Capture)}
        capture = Capture(**{k: item.get(k) for k in fields if k in item.fields})
        try:
            recorded = self.archive.record(capture, self.crawl_id)
        except Exception:
            self.stats.inc_value("archive/write/failed")
            logger.exception("could not archive the capture of %s", capture.requested_url)
            raise
        item["recorded"] = dataclasses.asdict(recorded)
        self.stats.inc_value(f"archive/captures/{recorded.outcome}")
        if recorded.outcome in ("new", "changed"):
            self.stats.inc_value("archive/versions/new")
        logger.debug("%s %s -> %s", recorded.outcome, capture.requested_url, recorded.article_url)
        return item

    def spider_closed(self, spider: Any, reason: str) -> None:
        if self.archive is None:
            return
        self.archive.finish_crawl(self.crawl_id, self.stats.get_stats(), reason)
        self.archive.close()
        self.archive = None
