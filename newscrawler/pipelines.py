"""Item pipelines: extract the article from each fetched page, then archive the capture."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.utils.asyncio import is_asyncio_available

from newscrawler import notify, versioning
from newscrawler.extraction import Extracted, extract_article, prose_paragraphs
from newscrawler.items import VERSION_OUTCOMES, Capture, Outcome
from newscrawler.store import Archive
from newscrawler.urls import clean_url
from newscrawler.workers import TaskTimeout, WorkerCrashed, WorkerPool, default_workers

logger = logging.getLogger(__name__)

_HTML_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "")
#: Magic numbers at the start of a body -> (what it is, its media type), after WHATWG MIME Sniffing.
_BINARY_MAGIC = {b"%PDF": ("PDF", "application/pdf"), b"\x89PNG": ("PNG image", "image/png"),
                 b"\xff\xd8\xff": ("JPEG image", "image/jpeg"), b"GIF8": ("GIF image", "image/gif"),
                 b"PK\x03\x04": ("ZIP archive", "application/zip"), b"RIFF": ("RIFF media", "application/octet-stream")}


def classify_not_article(capture: Capture) -> str | None:
    """Why a fetched page cannot hold an article, in words, or None when it may.

    Looks at the status (non-2xx), the body (empty, binary magic numbers) and the Content-Type
    (anything but HTML); the body is sniffed first, since servers mislabel PDFs as text/html (case
    C23): the reason then names what the body is and its media type, e.g.
    ``not HTML: the body is a PDF (application/pdf)``.
    """
    status = capture.status
    body = capture.body or b""
    if status is not None and not 200 <= status < 300:
        return f"HTTP {status}"
    if not body.strip():
        return "empty response"
    head = body[:8].lstrip()
    for magic, (name, media_type) in _BINARY_MAGIC.items():
        if head.startswith(magic):
            return f"not HTML: the body is a {name} ({media_type})"
    content_type = (capture.content_type or "").split(";")[0].strip().lower()
    if content_type not in _HTML_TYPES:
        return f"not HTML: Content-Type {content_type}"
    if not capture.is_text:
        return "not HTML: the body is not text"
    return None


def _order_keys(capture: Capture) -> set[str]:
    """The URLs (requested and final, cleaned) that tie a capture to others of the same article."""
    keys = set()
    for url in filter(None, (capture.requested_url, capture.final_url)):
        try:
            keys.add(clean_url(url))
        except ValueError:
            keys.add(url)
    return keys


#: Imported by the extraction workers' fork server after the extraction function's module: it
#: builds trafilatura's lazy tables once, for every worker (:mod:`newscrawler.warm`).
WARM_UP_MODULE = "newscrawler.warm"


def extraction_preload(function: Any = extract_article) -> list[str]:
    """What the extraction workers' fork server imports: ``function``'s module, then
    :data:`WARM_UP_MODULE`."""
    return [function.__module__, WARM_UP_MODULE]


def extract_workers(settings: Any) -> int:
    """``ARCHIVE_EXTRACT_WORKERS`` as a number: unset or empty means sized to the machine
    (:func:`newscrawler.workers.default_workers`), 0 in-process.

    :raises ValueError: when the setting is not a whole number >= 0.
    """
    value = settings.get("ARCHIVE_EXTRACT_WORKERS")
    if value is None or value == "":
        return default_workers()
    workers = int(value)
    if workers < 0:
        raise ValueError(f"ARCHIVE_EXTRACT_WORKERS must be 0 or more, got {value!r}")
    return workers


class ExtractPipeline:
    """Runs extraction on each fetched page; pages that hold no article get outcome ``not_article``.

    Extraction runs in a :class:`newscrawler.workers.WorkerPool` of ``ARCHIVE_EXTRACT_WORKERS``
    processes, so the reactor goes on fetching and storing meanwhile (needs the asyncio reactor,
    Scrapy's default; 0 workers, or another reactor, extracts in the crawl process). Captures of
    one URL (requested or final, cleaned) leave this pipeline in fetch order whatever order their
    extractions finish in, so a later pipeline that writes as it receives (like
    :class:`ArchivePipeline`) archives them in that order. A page whose extraction kills its
    worker, runs past ``ARCHIVE_EXTRACT_TIMEOUT`` or raises (``MemoryError``) becomes a ``failed``
    capture with the reason; the crawl goes on. The workers are forked from a fork server that has
    built trafilatura's lazy tables (:data:`WARM_UP_MODULE`).

    Extraction decides acceptance (an article, or ``not_article`` with the reason) and runs the
    extraction-drift check: when the article's current version was made by another extractor
    and the new text differs, that version's stored raw page is extracted again, in the workers
    too, and the result travels on the item (``Capture.reextracted``) for
    :func:`newscrawler.versioning.decide`. The crawl process never runs trafilatura while the pool
    is on.

    Settings: ``ARCHIVE_MIN_BODY_CHARS`` (shortest body, in characters, that counts as an
    article), ``ARCHIVE_DEFAULT_TZ`` (zone for dates without one), ``ARCHIVE_EXTRACT_WORKERS``,
    ``ARCHIVE_EXTRACT_TIMEOUT`` (seconds).
    Stats: ``archive/extraction/failed`` (no body), ``.../too_short``, ``.../no_prose``,
    ``.../crashed``, ``.../timeout``, ``.../error``, ``.../reextracted`` (drift checks run),
    ``.../processes_started`` (workers started,
    replacements included; absent when no page needed extracting).
    """

    #: What the workers run: a module-level function with the signature of
    #: :func:`newscrawler.extraction.extract_article`, which it is. A subclass may wrap it; the tests
    #: do, to make a worker crash on marked pages (``tests/hooks.py``).
    extract_function = staticmethod(extract_article)

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.stats = crawler.stats
        self.min_body_chars = crawler.settings.getint("ARCHIVE_MIN_BODY_CHARS", 250)
        self.default_tz = crawler.settings.get("ARCHIVE_DEFAULT_TZ", "UTC")
        self.workers = extract_workers(crawler.settings)
        self.timeout = crawler.settings.getfloat("ARCHIVE_EXTRACT_TIMEOUT", 60.0) or None
        self.pooled = False  # extraction in worker processes (else in the crawl process)
        self.pool: WorkerPool | None = None
        self.archive_path = crawler.settings.get("ARCHIVE_DB")
        self.archive: Archive | None = None  # read-only, for the extraction-drift check
        self._turns: dict[str, asyncio.Future] = {}  # URL key -> the latest capture still in here

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ExtractPipeline:
        return cls(crawler)

    def open_spider(self) -> None:
        if self.workers and not is_asyncio_available():
            logger.warning("ARCHIVE_EXTRACT_WORKERS=%d needs the asyncio reactor; extracting in "
                           "the crawl process", self.workers)
        else:
            self.pooled = bool(self.workers)
        self.stats.set_value("archive/extraction/workers", self.workers if self.pooled else 0)

    def close_spider(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()
            self.stats.set_value("archive/extraction/processes_started", self.pool.started)
            self.pool = None
        if self.archive is not None:
            self.archive.close()
            self.archive = None

    def _started_pool(self) -> WorkerPool:
        """The worker pool, started at the first page to extract: a re-check answered by 304s
        and identical bytes never starts one (a second of CPU and a few hundred MB saved)."""
        if self.pool is None:
            self.pool = WorkerPool(self.workers, timeout=self.timeout,
                                   preload=extraction_preload(self.extract_function))
        return self.pool

    async def process_item(self, item: Capture) -> Capture:
        if not self.pooled:  # in-process: one item at a time, so in fetch order by nature
            if self._needs_extraction(item):
                self._accept(item, *self._extract_here(item.body, item.url, item.content_type, item.hints))
                if (drift := self._drift_source(item)) is not None:
                    self._reextracted(item, drift[0], *self._extract_here(*drift[1:]))
            return item
        keys = _order_keys(item)
        earlier = {id(t): t for key in keys if (t := self._turns.get(key)) is not None}
        turn = asyncio.get_running_loop().create_future()
        for key in keys:
            self._turns[key] = turn
        try:
            result = (await self._extract_pooled(item.body, item.url, item.content_type, item.hints)
                      if self._needs_extraction(item) else None)
            for previous in earlier.values():  # the same URL fetched earlier goes on first
                await asyncio.shield(previous)
            if result is not None:
                self._accept(item, *result)
                if (drift := self._drift_source(item)) is not None:
                    self._reextracted(item, drift[0], *await self._extract_pooled(*drift[1:]))
        finally:
            # Waiters resume on a later loop turn: after this item has gone through the pipelines
            # that handle it synchronously.
            turn.set_result(None)
            for key in keys:
                if self._turns.get(key) is turn:
                    del self._turns[key]
        return item

    def _needs_extraction(self, item: Capture) -> bool:
        """Whether the page may hold an article; if not, settle its outcome and error."""
        if item.outcome:  # failed fetch, 304, same bytes: nothing to extract
            return False
        reason = classify_not_article(item)
        if reason is not None:
            failed = item.status is not None and item.status >= 400
            item.settle(Outcome.FAILED if failed else Outcome.NOT_ARTICLE, reason)
            return False
        return True

    def _archive(self) -> Archive | None:
        """A read-only connection to the archive (for the drift check), once the file exists."""
        if self.archive is None and self.archive_path:
            try:
                self.archive = Archive.open(self.archive_path, readonly=True)
            except FileNotFoundError:
                return None
        return self.archive

    def _drift_source(self, item: Capture) -> tuple[int, bytes, str, str | None, dict[str, Any]] | None:
        """What to re-extract for the extraction-drift check (:func:`newscrawler.versioning.decide`):
        the raw page of the article's current version, when another extractor made it and the new
        extraction differs from it; None otherwise (or when the re-extraction is cached, which is
        then set on the item). Returns the version's id, then the arguments of an extraction: (raw
        bytes, URL, Content-Type, hints)."""
        ex = item.extracted
        archive = self._archive() if ex is not None else None
        if archive is None:
            return None
        latest = archive.current_version(item.url, ex.get("canonical_url"))
        if not versioning.needs_reextraction(ex, latest):
            return None
        cached = archive.reextraction(latest["id"], ex["extractor"])
        if cached is not None:
            item.reextracted = cached
            return None
        raw = archive.payload(latest["payload_digest"]) if latest["payload_digest"] else None
        if not raw:
            return None
        return (latest["id"], raw, item.url, archive.payload_content_type(latest["payload_digest"]),
                {"prune_xpath": (item.hints or {}).get("prune_xpath")})

    def _reextracted(self, item: Capture, version_id: int, extracted: Extracted | None, error: str | None) -> None:
        """Keep a re-extraction of version ``version_id`` on the item (``reextracted``); a failed one
        leaves the capture to be compared as it is (an edit, when in doubt)."""
        self.stats.inc_value("archive/extraction/reextracted")
        if extracted is not None:
            item.reextracted = {"version_id": version_id, "extractor": extracted.extractor,
                                "headline": extracted.headline, "body": extracted.body}

    def _arguments(self, body: bytes, url: str, content_type: str | None,
                   hints: dict[str, Any] | None) -> tuple[tuple, dict[str, Any]]:
        # The raw bytes, decoded in the worker: a bytes object is pickled for it as it is, where a
        # decoded page would be encoded to UTF-8 and decoded again on the way.
        return (body, url), {"content_type": content_type, "hints": hints, "default_tz": self.default_tz}

    def _extract_here(self, *page: Any) -> tuple[Extracted | None, str | None]:
        args, kwargs = self._arguments(*page)
        try:
            return self.extract_function(*args, **kwargs), None
        except Exception as exc:  # MemoryError on a huge page, a bug: this page fails, not the crawl
            return None, self._failure(args[1], "error", f"extraction failed: {_describe(exc)}")

    async def _extract_pooled(self, *page: Any) -> tuple[Extracted | None, str | None]:
        args, kwargs = self._arguments(*page)
        try:
            future = self._started_pool().submit(self.extract_function, *args, **kwargs)
            return await asyncio.wrap_future(future), None
        except WorkerCrashed as exc:
            return None, self._failure(args[1], "crashed", f"extraction crashed: {exc}")
        except TaskTimeout as exc:
            return None, self._failure(args[1], "timeout", f"extraction timed out: {exc}")
        except Exception as exc:
            return None, self._failure(args[1], "error", f"extraction failed: {_describe(exc)}")

    def _failure(self, url: str, kind: str, error: str) -> str:
        self.stats.inc_value(f"archive/extraction/{kind}")
        logger.warning("%s: %s; recorded as a failed capture", url, error)
        return error

    def _accept(self, item: Capture, extracted: Extracted | None, error: str | None) -> None:
        """Set the item's ``extracted``, or settle it (failed, not_article), from an extraction's result."""
        if error is not None:
            item.settle(Outcome.FAILED, error)
        elif extracted is None:
            self.stats.inc_value("archive/extraction/failed")
            item.settle(Outcome.NOT_ARTICLE, "no article body found")
        elif len(extracted.body) < self.min_body_chars:
            self.stats.inc_value("archive/extraction/too_short")
            item.settle(Outcome.NOT_ARTICLE, f"body too short: {len(extracted.body)} characters "
                                             f"< ARCHIVE_MIN_BODY_CHARS={self.min_body_chars}")
        elif not prose_paragraphs(extracted.body):
            self.stats.inc_value("archive/extraction/no_prose")
            item.settle(Outcome.NOT_ARTICLE, "no prose: the body is headings and link lists (a section front?)")
        else:
            item.extracted = extracted.to_dict()


def _describe(exc: BaseException) -> str:
    """An exception in words: ``MemoryError`` or ``ValueError: bad tree``."""
    message = str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


class ArchivePipeline:
    """Writes every item to the archive (``ARCHIVE_DB``) as one capture, in one transaction.

    Each capture carries this crawl's ``crawls`` row, the stat ``archive/crawl_id`` that
    :class:`newscrawler.extensions.CrawlRow` sets (None without that extension). A ``changed`` or
    ``reverted`` capture queues its notifications in the same transaction
    (:func:`newscrawler.notify.crawl_channels`, ``ARCHIVE_PUBLIC_URL`` for the links). Stats:
    ``archive/captures/<outcome>``, ``archive/versions/new``, ``archive/write/failed``.

    :raises NotConfigured: when ``ARCHIVE_DB`` is not set.
    """

    def __init__(self, crawler: Crawler, path: str):
        self.crawler = crawler
        self.stats = crawler.stats
        self.path = path
        self.archive: Archive | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchivePipeline:
        path = crawler.settings.get("ARCHIVE_DB")
        if not path:
            raise NotConfigured("ARCHIVE_DB must be set")
        return cls(crawler, path)

    @property
    def crawl_id(self) -> int | None:
        """This crawl's ``crawls`` row (:class:`newscrawler.extensions.CrawlRow`), or None."""
        return self.stats.get_value("archive/crawl_id")

    def open_spider(self) -> None:
        self.archive = Archive.open(self.path)
        settings = self.crawler.settings
        self.archive.shrink_ratio = settings.getfloat("ARCHIVE_SHRINK_RATIO", self.archive.shrink_ratio)
        self.archive.boilerplate_min_articles = settings.getint(
            "ARCHIVE_BOILERPLATE_MIN_ARTICLES", self.archive.boilerplate_min_articles)
        # Changes are queued for notification in their capture's transaction (newscrawler.notify).
        sites = getattr(self.crawler.spider, "sites", None) or []
        self.archive.notify_channels = notify.crawl_channels(self.crawler)
        self.archive.notify_sites = {domain: site.name for site in sites for domain in site.domains}
        self.archive.public_url = settings.get("ARCHIVE_PUBLIC_URL") or None

    def process_item(self, item: Capture) -> Capture:
        try:
            recorded = self.archive.record(item, self.crawl_id)
        except Exception:
            self.stats.inc_value("archive/write/failed")
            logger.exception("could not archive the capture of %s", item.requested_url)
            raise
        item.recorded = recorded
        self.stats.inc_value(f"archive/captures/{recorded.outcome}")
        if recorded.outcome in VERSION_OUTCOMES:
            self.stats.inc_value("archive/versions/new")
        logger.debug("%s %s -> %s", recorded.outcome, item.requested_url, recorded.article_url)
        return item

    def close_spider(self) -> None:
        if self.archive is not None:
            self.archive.close()
            self.archive = None
