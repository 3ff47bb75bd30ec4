"""WARC into the archive: ``newscrawler import``, the article pages of WARC files (ours or other tools').

Each record that holds a fetched page (``response``, ``resource``, ``revisit``) becomes a
:class:`newscrawler.items.Capture` with the record's time (``WARC-Date``) and goes the way a crawled
page goes: the shortcuts of the spider (a 304 is ``not_modified``; the same bytes as the article's
last capture are a ``revisit``, :meth:`newscrawler.spiders.base.ArchiveSpider.parse_article`),
then :class:`newscrawler.pipelines.ExtractPipeline` (acceptance, the extraction-drift check) and
:class:`newscrawler.pipelines.ArchivePipeline` (:meth:`newscrawler.store.Archive.record`: the
version rules). The records of all files are put in time order first, so a year of someone else's
crawls becomes the versions it would have become had we crawled it.

A ``revisit`` is resolved to the bytes it repeats: by ``WARC-Refers-To``, else by
``WARC-Refers-To-Target-URI`` and ``-Date``, else by its payload digest; a server-not-modified
revisit is a 304. Pages that are not HTML, or hold no article, are counted and skipped (no capture
row) unless their URL is an archived article's, whose capture they then are, as in a crawl.
``warcinfo``, ``request``, ``metadata`` and ``conversion`` records are counted and skipped, and so is
a page whose URL and time the archive already has (a file imported twice). A
truncated or corrupt file is read up to the damage: what came before is imported, the rest is
reported (:attr:`FileReport.damage`).
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
import types
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from scrapy.http import Headers, TextResponse
from scrapy.responsetypes import responsetypes
from scrapy.settings import Settings
from scrapy.statscollectors import MemoryStatsCollector
from warcio.archiveiterator import ArchiveIterator
from warcio.recordloader import ArcWarcRecord

from newscrawler.changes import payload_digest
from newscrawler.items import Capture, Outcome
from newscrawler.pipelines import ArchivePipeline, ExtractPipeline, classify_not_article

logger = logging.getLogger(__name__)

#: Record types that hold a fetched page.
PAGE_TYPES = ("response", "resource", "revisit")
_CHUNK = 1 << 16


@dataclasses.dataclass
class Entry:
    """Where one page record of a WARC file is, and what its headers say (the index pass)."""

    file: int
    offset: int
    rec_type: str
    record_id: str | None
    uri: str
    date: str
    payload_digest: str | None
    refers_to: str | None
    refers_to_uri: str | None
    refers_to_date: str | None
    profile: str | None
    concurrent_to: list[str]


@dataclasses.dataclass
class FileReport:
    """What was read of one WARC file: records by type; ``damage`` says where and why reading
    stopped early (a truncated record, a corrupt gzip member), None when it was read whole."""

    path: str
    records: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    damage: str | None = None


@dataclasses.dataclass
class ImportReport:
    """An import's files and what became of their page records (``outcomes``: archive outcomes,
    ``skipped``: reasons, e.g. ``not HTML``, ``not an article``, ``revisit unresolved``)."""

    files: list[FileReport]
    outcomes: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    skipped: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    crawl_id: int | None = None

    def summary(self) -> str:
        """One line: ``imported 12 (new 3, changed 1, ...), skipped 40 (not HTML 30, ...)``."""
        def counted(counter: collections.Counter) -> str:
            return ", ".join(f"{k} {v}" for k, v in sorted(counter.items())) or "none"
        return (f"imported {sum(self.outcomes.values())} ({counted(self.outcomes)}), "
                f"skipped {sum(self.skipped.values())} ({counted(self.skipped)})")


def warc_time(date: str) -> str:
    """A WARC-Date as the archive writes times (``2026-11-29T22:43:05.123456Z``): WARC 1.0's
    seconds get ``.000000``, so imported and crawled times sort together."""
    date = date.strip()
    if date.endswith("Z"):
        date = date[:-1]
    whole, _, fraction = date.partition(".")
    return f"{whole}.{(fraction + '000000')[:6]}Z"


def index_file(path: Path, number: int, report: FileReport) -> list[Entry]:
    """The page records of one WARC (gzip or plain) and the ids of its request records, read up
    to any damage (recorded in ``report``). Each record is read to its end, so a truncated one is
    found: its block is shorter than its Content-Length."""
    entries: list[Entry] = []
    with path.open("rb") as stream:
        iterator = ArchiveIterator(stream, arc2warc=True)
        offset = end = 0
        try:
            for record in iterator:
                while record.raw_stream.read(_CHUNK):
                    pass
                if getattr(record.raw_stream, "limit", 0) or not record.rec_type:
                    missing = getattr(record.raw_stream, "limit", 0)
                    report.damage = (f"record at offset {iterator.get_record_offset()} is truncated"
                                     + (f": {missing} bytes of its block are missing" if missing else ""))
                    break
                offset = iterator.get_record_offset()
                end = offset + iterator.get_record_length()
                headers = record.rec_headers
                report.records[str(record.rec_type)] += 1
                if record.rec_type not in PAGE_TYPES:
                    continue
                entries.append(Entry(
                    file=number, offset=offset, rec_type=record.rec_type,
                    record_id=headers.get_header("WARC-Record-ID"),
                    uri=headers.get_header("WARC-Target-URI") or "", date=headers.get_header("WARC-Date") or "",
                    payload_digest=headers.get_header("WARC-Payload-Digest"),
                    refers_to=headers.get_header("WARC-Refers-To"),
                    refers_to_uri=headers.get_header("WARC-Refers-To-Target-URI"),
                    refers_to_date=headers.get_header("WARC-Refers-To-Date"),
                    profile=headers.get_header("WARC-Profile"),
                    concurrent_to=[v for n, v in headers.headers if n.lower() == "warc-concurrent-to"]))
        except Exception as exc:  # ArchiveLoadFailed, zlib.error, EOFError: damage after the records read
            report.damage = f"unreadable after offset {offset}: {type(exc).__name__}: {exc}"
        if report.damage is None:  # a gzip member cut short ends the iteration without an error
            stream.seek(end)
            rest = stream.read(_CHUNK)
            if rest.strip(b"\r\n"):
                report.damage = (f"{path.stat().st_size - end} bytes after offset {end} (the end of the last "
                                 "whole record) are no WARC record: truncated or corrupt")
    if report.damage:
        logger.warning("%s: %s; imported what came before", path, report.damage)
    return entries


class Importer:
    """Imports WARC files into an archive through the crawl's item pipelines (module docstring).

    :param archive_path: the archive (created when missing).
    :param settings: Scrapy and ``ARCHIVE_*`` settings over newscrawler's
        (``ARCHIVE_MIN_BODY_CHARS``, ``ARCHIVE_DEFAULT_TZ``, ``ARCHIVE_SHRINK_RATIO``, ...).
        Extraction runs in this process, one page at a time, in time order.
    """

    def __init__(self, archive_path: str | Path, settings: dict[str, Any] | None = None):
        project = Settings()
        project.setmodule("newscrawler.settings", priority="project")
        project.setdict({**(settings or {}), "ARCHIVE_DB": str(archive_path), "ARCHIVE_EXTRACT_WORKERS": 0},
                        priority="cmdline")
        crawler = types.SimpleNamespace(settings=project)
        crawler.stats = MemoryStatsCollector(crawler)
        self.crawler = crawler
        self.stats = crawler.stats
        self.archive_path = Path(archive_path)
        self.extract = ExtractPipeline(crawler)
        self.store = ArchivePipeline(crawler, str(archive_path))

    def run(self, paths: Iterable[str | Path], command: str = "newscrawler import") -> ImportReport:
        """Import ``paths`` (WARC files, gzip or plain); returns the report.

        :raises OSError: when a file cannot be opened.
        :raises sqlite3.Error: when the archive cannot be written.
        """
        paths = [Path(p) for p in paths]
        report = ImportReport(files=[FileReport(str(p)) for p in paths])
        entries: list[Entry] = []
        for number, path in enumerate(paths):
            entries += index_file(path, number, report.files[number])
        entries.sort(key=lambda e: (warc_time(e.date) if e.date else "", e.file, e.offset))
        self._by_id = {e.record_id: e for e in entries if e.record_id}
        self._by_uri_date = {(e.uri, warc_time(e.date)): e for e in entries if e.rec_type != "revisit" and e.date}
        self._by_digest: dict[str, Entry] = {}
        for e in entries:
            if e.rec_type != "revisit" and e.payload_digest:
                self._by_digest.setdefault(e.payload_digest, e)
        self._paths = paths
        self._requests = self._request_index(paths)
        self.store.open_spider()
        archive = self.store.archive
        report.crawl_id = archive.start_crawl(command)
        self.stats.set_value("archive/crawl_id", report.crawl_id)
        finish = "finished"
        try:
            asyncio.run(self._import(entries, report))
        except BaseException:
            finish = "failed"
            raise
        finally:
            stats = {**self.stats.get_stats(), "import/skipped": dict(report.skipped)}
            archive.finish_crawl(report.crawl_id, stats, finish)
            self.extract.close_spider()
            self.store.close_spider()
        return report

    async def _import(self, entries: list[Entry], report: ImportReport) -> None:
        for entry in entries:
            capture = self._capture(entry, report)
            if capture is None:
                continue
            await self._archive(capture, report)

    async def _archive(self, capture: Capture, report: ImportReport) -> None:
        archive = self.store.archive
        if archive.db.execute("SELECT 1 FROM captures WHERE final_url = ? AND captured_at = ? LIMIT 1",
                              [capture.final_url, capture.captured_at]).fetchone():
            report.skipped["already archived"] += 1  # the same file imported again
            return
        known = archive.article(capture.url) is not None
        if capture.status == 304:
            if not known:
                report.skipped["not modified, article unknown"] += 1
                return
            capture.settle(Outcome.NOT_MODIFIED, note="304 in an imported WARC: not extracted")
        elif capture.status == 200:  # the spider's same-bytes shortcut
            last = archive.last_fetch(capture.url)
            if last and capture.body is not None and last["payload_digest"] == payload_digest(capture.body):
                capture.settle(Outcome.REVISIT, note="same bytes as the last capture: not extracted")
        if capture.outcome is None and not known:
            reason = classify_not_article(capture)
            if reason is not None:
                report.skipped["not HTML" if reason.startswith("not HTML") else reason.split(":")[0]] += 1
                return
        await self.extract.process_item(capture)
        if capture.outcome in (Outcome.NOT_ARTICLE, Outcome.FAILED) and not known:
            report.skipped["not an article"] += 1
            return
        self.store.process_item(capture)
        report.outcomes[str(capture.recorded.outcome)] += 1

    # --- records to captures -------------------------------------------------------------------

    def _load(self, entry: Entry) -> ArcWarcRecord:
        stream = self._paths[entry.file].open("rb")
        stream.seek(entry.offset)
        record = next(iter(ArchiveIterator(stream, arc2warc=True)))
        record._newscrawler_stream = stream  # closed by the caller, after reading
        return record

    def _read(self, entry: Entry) -> tuple[ArcWarcRecord, bytes]:
        """The record and its payload, Content-Encoding and chunking undone (warcio)."""
        record = self._load(entry)
        try:
            return record, record.content_stream().read()
        finally:
            record._newscrawler_stream.close()

    def _capture(self, entry: Entry, report: ImportReport) -> Capture | None:
        if not entry.uri.startswith(("http://", "https://")):
            report.skipped["not an http(s) URL"] += 1
            return None
        if entry.rec_type == "revisit":
            return self._revisit(entry, report)
        record, body = self._read(entry)
        return self._page(entry, record, body, report)

    def _revisit(self, entry: Entry, report: ImportReport) -> Capture | None:
        record, _ = self._read(entry)
        status = record.http_headers.get_statuscode() if record.http_headers else None
        if (entry.profile or "").endswith("server-not-modified") or status == "304":
            return self._page(entry, record, None, report, status=304)
        original = (self._by_id.get(entry.refers_to) if entry.refers_to else None) or (
            self._by_uri_date.get((entry.refers_to_uri, warc_time(entry.refers_to_date)))
            if entry.refers_to_uri and entry.refers_to_date else None) or (
            self._by_digest.get(entry.payload_digest) if entry.payload_digest else None)
        if original is None:
            report.skipped["revisit unresolved"] += 1
            return None
        original_record, body = self._read(original)
        if record.http_headers is None:  # a revisit without headers: the original's stand
            record.http_headers = original_record.http_headers
            record.content_type = original_record.content_type
        return self._page(entry, record, body, report, original=original_record)

    def _page(self, entry: Entry, record: ArcWarcRecord, body: bytes | None, report: ImportReport,
              status: int | None = None, original: ArcWarcRecord | None = None) -> Capture | None:
        http_headers = record.http_headers
        if http_headers is not None and record.rec_type != "resource":
            pairs = [[n, v] for n, v in http_headers.headers]
            try:
                status = status or int(http_headers.get_statuscode())
            except (TypeError, ValueError):
                report.skipped["no HTTP status"] += 1
                return None
            protocol = http_headers.protocol or None
        else:  # a resource record: the block is the page
            pairs, protocol = [], None
            status = status or 200
            content_type = record.rec_headers.get_header("Content-Type")
            if content_type:
                pairs = [["Content-Type", content_type]]

        def header(name: str) -> str | None:
            return next((v for n, v in pairs if n.lower() == name.lower()), None)

        decoded = header("Content-Encoding") is not None and body is not None
        headers = Headers({n: [v for m, v in pairs if m == n] for n, _ in pairs})
        if decoded:
            headers.pop(b"Content-Encoding", None)
        is_text = body is not None and issubclass(
            responsetypes.from_args(headers=headers, url=entry.uri, body=body[:5000]), TextResponse)
        request_headers = self._request_headers(entry)
        exchange = {"protocol": _protocol(record, protocol),
                    "peer_ip": record.rec_headers.get_header("WARC-IP-Address"),
                    "response_headers": pairs, "request_method": request_headers[0] if request_headers else None,
                    "request_headers": request_headers[1] if request_headers else None,
                    "payload_decoded": decoded, "payload_encoding": None}
        return Capture(requested_url=entry.uri, final_url=entry.uri, status=status,
                       captured_at=warc_time(entry.date), content_type=header("Content-Type"),
                       etag=header("ETag"), last_modified=header("Last-Modified"), body=body, is_text=is_text,
                       discovered_via="warc", exchange=exchange if record.rec_type != "resource" else None)

    # --- request records -----------------------------------------------------------------------

    def _request_index(self, paths: list[Path]) -> dict[str, tuple[int, int]]:
        """Request records by the record they are concurrent to (or by URI and date): file, offset."""
        found: dict[str, tuple[int, int]] = {}
        for number, path in enumerate(paths):
            with path.open("rb") as stream:
                iterator = ArchiveIterator(stream, arc2warc=True)
                try:
                    for record in iterator:
                        if record.rec_type != "request":
                            continue
                        offset = iterator.get_record_offset()
                        headers = record.rec_headers
                        for name, value in headers.headers:
                            if name.lower() == "warc-concurrent-to":
                                found[value] = (number, offset)
                        found[f"{headers.get_header('WARC-Target-URI')} {headers.get_header('WARC-Date')}"] = (
                            number, offset)
                except Exception:  # damage: reported by the index pass
                    pass
        return found

    def _request_headers(self, entry: Entry) -> tuple[str, list[list[str]]] | None:
        """The method and headers of the request record that goes with ``entry``, or None."""
        where = self._requests.get(entry.record_id or "") or next(
            (self._requests[c] for c in entry.concurrent_to if c in self._requests), None) or \
            self._requests.get(f"{entry.uri} {entry.date}")
        if where is None:
            return None
        stream = self._paths[where[0]].open("rb")
        try:
            stream.seek(where[1])
            record = next(iter(ArchiveIterator(stream, arc2warc=True)))
            if record.http_headers is None:
                return None
            method = (record.http_headers.protocol or "GET").split(" ")[0]
            return method, [[n, v] for n, v in record.http_headers.headers]
        finally:
            stream.close()


def _protocol(record: ArcWarcRecord, status_protocol: str | None) -> str | None:
    """The exchange's protocol: WARC-Protocol's first value (``h2``, ``http/1.1``) in Scrapy's spelling
    (``HTTP/1.1``), else the status line's."""
    declared = record.rec_headers.get_header("WARC-Protocol")
    if declared:
        first = declared.split(",")[0].strip()
        return first.upper() if first.lower().startswith("http/") else first
    return status_protocol


def import_warcs(paths: Iterable[str | Path], archive_path: str | Path,
                 settings: dict[str, Any] | None = None, command: str = "newscrawler import") -> ImportReport:
    """Import WARC files into the archive at ``archive_path`` (see :class:`Importer`).

    :raises OSError: when a file cannot be opened.
    :raises sqlite3.Error: when the archive cannot be written.
    """
    return Importer(archive_path, settings).run(paths, command)
