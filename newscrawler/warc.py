"""WARC out of the archive: ``newscrawler export warc`` and ``export wacz`` (WARC 1.1, ISO 28500).

Built from the archive after the fact, never by a second sink during the crawl, so a crawl killed
at any moment loses nothing a WARC would have held. The export is deterministic: the same archive
gives the same bytes (record ids are UUID 5 of what a record says, dates are capture times, gzip
members carry no time). Records, in capture order (``captured_at``, then id):

- ``warcinfo`` first: the software, the format, what was exported.
- per capture that received a response whose bytes the archive holds: a ``response`` record (and
  its ``request`` record, ``WARC-Concurrent-To``) when the exchange was kept
  (``capture_exchanges``, schema 10 on); a ``resource`` record of the payload for a capture
  made before that.
- a capture whose payload equals an earlier one's (same bytes): a ``revisit`` record of the
  identical-payload-digest profile; a 304: a ``revisit`` record of the server-not-modified
  profile, referring to the article's latest earlier capture with a payload. Both carry
  ``WARC-Refers-To``, ``WARC-Refers-To-Target-URI`` and ``WARC-Refers-To-Date``; ids are derived
  from content, so a reference into an earlier export (``--since``) still resolves.
- a capture that received a response the archive did not keep the bytes of (a revisit by content,
  a page not kept for review): a ``metadata`` record (JSON) of what the capture row says.
- per version: a ``conversion`` record (JSON: headline, body, metadata, the changed fields, the
  capture's outcome) with ``WARC-Refers-To`` its response (or resource) record and
  ``WARC-Refers-To-Target-URI`` the page; its own target is ``urn:x-newscrawler:version:N:<url>``,
  since a replay tool given the page's URL serves whichever record of that URL and time it finds.

A response record never has headers that disagree with its block: where Scrapy stored the decoded
body, ``Content-Encoding`` is renamed ``X-Archive-Orig-Content-Encoding``; ``Transfer-Encoding``
(Twisted always undoes chunking) and a ``Content-Length`` that is not the block's are renamed the
same way and the true length is written, as pywb's and warcio's recorders rename headers they
rewrite (``X-Archive-Orig-`` prefix). The protocol goes in ``WARC-Protocol`` (the WARC 1.1
extension proposed in iipc/warc-specifications#42) and the status line says ``HTTP/1.x``, which
every WARC reader parses. Scrapy keeps no reason phrase: the standard one is written.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import http
import io
import json
import logging
import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from newscrawler import __version__
from newscrawler.store import Archive
from newscrawler.urls import registered_domain

logger = logging.getLogger(__name__)

#: Namespace of the record ids (UUID 5 over what each record says).
RECORD_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/newscrawler/newscrawler/warc")
PROFILE_IDENTICAL = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
PROFILE_NOT_MODIFIED = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
#: Content-Type of conversion and metadata records.
JSON_TYPE = "application/json"
#: Response headers a block of the stored payload cannot keep as they came (renamed with
#: :data:`ORIG_PREFIX`): the coding undone, the chunking undone, the length of other bytes.
ORIG_PREFIX = "X-Archive-Orig-"
#: Version columns a conversion record gives apart from ``metadata``.
_VERSION_OWN = ("id", "article_id", "version", "captured_at", "headline", "body", "changed")


def record_id(*parts: object) -> str:
    """A WARC-Record-ID (``<urn:uuid:...>``) that is UUID 5 of ``parts`` (:data:`RECORD_NAMESPACE`)."""
    return f"<urn:uuid:{uuid.uuid5(RECORD_NAMESPACE, json.dumps(parts, default=str))}>"


def warc_date(captured_at: str) -> str:
    """A capture time as WARC-Date (WARC 1.1: ``2026-11-29T22:43:05.123456Z``, fractions kept)."""
    return captured_at if captured_at.endswith("Z") else captured_at + "Z"


def sha1_digest(data: bytes) -> str:
    """``sha1:<base32>``, the payload digest warcio writes and CDX indexes compare."""
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode("ascii")


def warc_protocol(protocol: str | None) -> str | None:
    """The WARC-Protocol value for Scrapy's ``response.protocol`` (``HTTP/1.1`` -> ``http/1.1``,
    ``h2`` stays), None when unknown."""
    return protocol.lower() if protocol else None


def status_line(status: int, protocol: str | None) -> str:
    """``HTTP/1.1 200 OK``: HTTP/1.0 when the response was, HTTP/1.1 otherwise (h2 included, as
    browsers' WARC writers do); the reason phrase of :class:`http.HTTPStatus`."""
    version = "HTTP/1.0" if (protocol or "").upper() == "HTTP/1.0" else "HTTP/1.1"
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    return f"{version} {status} {phrase}".rstrip()


def block_headers(headers: list[list[str]], length: int, payload_decoded: bool,
                  payload_encoding: str | None) -> list[tuple[str, str]]:
    """Response headers that agree with a block of ``length`` payload bytes.

    ``headers`` are as received (``[[name, value], ...]``). Renamed with :data:`ORIG_PREFIX`:
    Content-Encoding when ``payload_decoded`` (the remaining ``payload_encoding``, if any, is
    written as Content-Encoding), Transfer-Encoding always, Content-Length when it is not
    ``length``; a Content-Length of ``length`` is written when none was kept.
    """
    out: list[tuple[str, str]] = []
    has_length = False
    for name, value in headers:
        lower = name.lower()
        if (lower == "content-encoding" and payload_decoded) or lower == "transfer-encoding" or (
                lower == "content-length" and (has_length or value.strip() != str(length))):
            out.append((ORIG_PREFIX + name, value))
        else:
            has_length = has_length or lower == "content-length"
            out.append((name, value))
    if payload_decoded and payload_encoding:
        out.append(("Content-Encoding", payload_encoding))
    if not has_length:
        out.append(("Content-Length", str(length)))
    return out


@dataclasses.dataclass
class ExportCounts:
    """Records written by type, and captures left out (no response received)."""

    records: dict[str, int] = dataclasses.field(default_factory=dict)
    skipped: int = 0
    versions: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    """The versions written as conversion records: ``{"id", "url", "ts", "title", "text"}`` (pages
    of a WACZ)."""

    def count(self, record_type: str) -> None:
        self.records[record_type] = self.records.get(record_type, 0) + 1

    def summary(self) -> str:
        """``warcinfo 1, request 3, response 3, ...; 2 captures without a response left out``."""
        parts = ", ".join(f"{kind} {n}" for kind, n in sorted(self.records.items()))
        return f"{parts}; {self.skipped} captures without a response left out"


class WarcExporter:
    """Writes an archive's captures and versions as WARC records (see the module docstring).

    :param archive: an open archive (read-only is enough; an archive of any schema: one from
        before schema 10 gives resource records).
    :param since: only captures of crawls after this ``crawls.id`` (an export that follows an
        earlier one); None for all.
    :param site: only captures of this site (registered domain, ``articles.site``).
    """

    def __init__(self, archive: Archive, since: int | None = None, site: str | None = None):
        self.archive = archive
        self.since = since
        self.site = site
        self._has_notes = "note" in archive.db["captures"].columns_dict

    def captures(self) -> Iterator[dict[str, Any]]:
        """The capture rows to export, in capture order, each with its article's ``url`` and ``site``."""
        where, params = [], []
        if self.since is not None:
            where.append("c.crawl_id > ?")
            params.append(self.since)
        sql = ("SELECT c.*, a.url AS article_url, a.site AS site FROM captures c "
               "LEFT JOIN articles a ON a.id = c.article_id")
        if where:
            sql += " WHERE " + " AND ".join(where)
        cursor = self.archive.db.execute(sql + " ORDER BY c.captured_at, c.id", params)
        names = [d[0] for d in cursor.description]
        for values in cursor:
            row = dict(zip(names, values, strict=True))
            if self.site is not None and (row["site"] or _site(row)) != self.site:
                continue
            yield row

    def write(self, out: BinaryIO, filename: str, gzip: bool = True) -> ExportCounts:
        """Write the WARC to ``out`` (a binary file); ``filename`` is named in the warcinfo record.

        :raises sqlite3.Error: when the archive cannot be read.
        """
        writer = WARCWriter(out, gzip=gzip, warc_version="1.1")
        counts = ExportCounts()
        captures = list(self.captures())
        first = captures[0]["captured_at"] if captures else "1970-01-01T00:00:00Z"
        info = {"software": f"newscrawler/{__version__} (warcio)", "format": "WARC File Format 1.1",
                "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
                "description": "news articles and every version of them, exported from a newscrawler archive",
                "captures": str(len(captures))}
        if self.since is not None:
            info["newscrawler-since-crawl"] = str(self.since)
        if self.site is not None:
            info["newscrawler-site"] = self.site
        record = writer.create_warcinfo_record(filename, info)
        record.rec_headers.replace_header("WARC-Record-ID", record_id("warcinfo", filename, first, info))
        record.rec_headers.replace_header("WARC-Date", warc_date(first))
        writer.write_record(record)
        counts.count("warcinfo")
        for capture in captures:
            self._write_capture(writer, capture, counts)
        return counts

    # --- one capture ---------------------------------------------------------------------------

    def _write_capture(self, writer: WARCWriter, capture: dict[str, Any], counts: ExportCounts) -> None:
        if capture["status"] is None:  # nothing was received
            counts.skipped += 1
            return
        url = capture["final_url"] or capture["requested_url"]
        date = warc_date(capture["captured_at"])
        exchange = self.archive.exchange(capture["id"])
        common = {"WARC-Target-URI": url, "WARC-Date": date}
        if exchange and exchange.get("peer_ip"):
            common["WARC-IP-Address"] = exchange["peer_ip"]
        if exchange and warc_protocol(exchange.get("protocol")):
            common["WARC-Protocol"] = warc_protocol(exchange["protocol"])
        if capture["status"] == 304:
            self._write_revisit(writer, capture, exchange, common, PROFILE_NOT_MODIFIED,
                                self._latest_before(capture), b"", counts)
            return
        digest = capture["payload_digest"]
        body = self.archive.payload(digest) if digest else None
        origin = self._origin(digest) if body is not None else None
        if body is None and capture["content_length"] == 0:
            body, origin = b"", capture
        if body is None:
            self._write_metadata(writer, capture, exchange, common, counts)
        elif origin["id"] != capture["id"]:
            self._write_revisit(writer, capture, exchange, common, PROFILE_IDENTICAL, origin, body, counts)
        elif exchange is None:
            record = writer.create_warc_record(
                url, "resource", payload=io.BytesIO(body), length=len(body),
                warc_content_type=capture["content_type"] or "application/octet-stream",
                warc_headers_dict={"WARC-Record-ID": capture_record_id(capture), **common})
            writer.write_record(record)
            counts.count("resource")
        else:
            self._write_response(writer, capture, exchange, common, body, counts)
        if capture["version_id"] is not None and capture["outcome"] in ("new", "changed"):
            self._write_conversion(writer, capture, common, counts)

    def _write_response(self, writer: WARCWriter, capture: dict[str, Any], exchange: dict[str, Any],
                        common: dict[str, str], body: bytes, counts: ExportCounts) -> None:
        http_headers = StatusAndHeaders(
            status_line(capture["status"], exchange.get("protocol")),
            block_headers(exchange["response_headers"], len(body), exchange["payload_decoded"],
                          exchange.get("payload_encoding")),
            protocol="")
        response_id = capture_record_id(capture)
        record = writer.create_warc_record(
            common["WARC-Target-URI"], "response", payload=io.BytesIO(body), length=len(body),
            http_headers=http_headers, warc_headers_dict={"WARC-Record-ID": response_id, **common})
        writer.write_record(record)
        counts.count("response")
        self._write_request(writer, capture, exchange, common, response_id, counts)

    def _write_request(self, writer: WARCWriter, capture: dict[str, Any], exchange: dict[str, Any] | None,
                       common: dict[str, str], concurrent_to: str, counts: ExportCounts) -> None:
        if not exchange or exchange.get("request_headers") is None:
            return
        parts = urlsplit(common["WARC-Target-URI"])
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        version = "HTTP/1.0" if (exchange.get("protocol") or "").upper() == "HTTP/1.0" else "HTTP/1.1"
        http_headers = StatusAndHeaders(f"{exchange.get('request_method') or 'GET'} {target} {version}",
                                        [tuple(pair) for pair in exchange["request_headers"]],
                                        is_http_request=True)
        record = writer.create_warc_record(
            common["WARC-Target-URI"], "request", http_headers=http_headers,
            warc_headers_dict={"WARC-Record-ID": record_id("request", concurrent_to),
                               "WARC-Concurrent-To": concurrent_to, **common})
        writer.write_record(record)
        counts.count("request")

    def _write_revisit(self, writer: WARCWriter, capture: dict[str, Any], exchange: dict[str, Any] | None,
                       common: dict[str, str], profile: str, origin: dict[str, Any] | None, body: bytes,
                       counts: ExportCounts) -> None:
        headers = dict(common)
        headers["WARC-Record-ID"] = capture_record_id(capture)
        headers["WARC-Profile"] = profile
        if origin is not None:
            headers["WARC-Refers-To"] = capture_record_id(origin)
            headers["WARC-Refers-To-Target-URI"] = origin["final_url"] or origin["requested_url"]
            headers["WARC-Refers-To-Date"] = warc_date(origin["captured_at"])
        if profile == PROFILE_IDENTICAL:
            headers["WARC-Payload-Digest"] = sha1_digest(body)
        http_headers = None
        if exchange is not None:
            # A revisit's block is the HTTP headers only; Content-Length names the payload it stands for.
            length = len(body) if profile == PROFILE_IDENTICAL else 0
            received = exchange["response_headers"]
            if profile == PROFILE_NOT_MODIFIED:
                length = next((int(v) for n, v in received if n.lower() == "content-length" and v.strip().isdigit()), 0)
            http_headers = StatusAndHeaders(
                status_line(capture["status"], exchange.get("protocol")),
                block_headers(received, length, exchange["payload_decoded"], exchange.get("payload_encoding")),
                protocol="")
        record = writer.create_warc_record(common["WARC-Target-URI"], "revisit", http_headers=http_headers,
                                           warc_headers_dict=headers)
        writer.write_record(record)
        counts.count("revisit")
        self._write_request(writer, capture, exchange, common, headers["WARC-Record-ID"], counts)

    def _write_metadata(self, writer: WARCWriter, capture: dict[str, Any], exchange: dict[str, Any] | None,
                        common: dict[str, str], counts: ExportCounts) -> None:
        fields = {k: capture.get(k) for k in ("requested_url", "final_url", "status", "outcome", "error",
                                              "note", "payload_digest", "content_type", "content_length",
                                              "etag", "last_modified", "discovered_via", "article_url")}
        fields["why"] = "the archive kept no bytes of this response (its content was archived before, " \
                        "or the page was not one to keep)"
        if exchange is not None:
            fields["response_headers"] = exchange["response_headers"]
        data = json.dumps(fields, ensure_ascii=False, sort_keys=True, indent=1).encode("utf-8")
        record = writer.create_warc_record(
            common["WARC-Target-URI"], "metadata", payload=io.BytesIO(data), length=len(data),
            warc_content_type=JSON_TYPE, warc_headers_dict={"WARC-Record-ID": capture_record_id(capture), **common})
        writer.write_record(record)
        counts.count("metadata")

    def _write_conversion(self, writer: WARCWriter, capture: dict[str, Any], common: dict[str, str],
                          counts: ExportCounts) -> None:
        version = self.archive.db.execute("SELECT * FROM versions WHERE id = ?", [capture["version_id"]])
        names = [d[0] for d in version.description]
        row = dict(zip(names, version.fetchone(), strict=True))
        metadata = {}
        for name, value in row.items():
            if name in _VERSION_OWN:
                continue
            if name in ("authors", "tags") and isinstance(value, str):
                value = json.loads(value or "[]")
            metadata[name] = value
        document = {"article_url": capture["article_url"], "version": row["version"],
                    "captured_at": row["captured_at"], "headline": row["headline"], "body": row["body"],
                    "changed": json.loads(row["changed"] or "[]"), "outcome": capture["outcome"],
                    "change_kind": row.get("change_kind"), "metadata": metadata}
        data = json.dumps(document, ensure_ascii=False, sort_keys=True, indent=1).encode("utf-8")
        refers_to = capture_record_id(capture)
        conversion_id = record_id("conversion", refers_to, row["content_digest"])
        # Not the page's URL as target: replay tools (pywb) would serve this JSON for the page.
        target = f"urn:x-newscrawler:version:{row['version']}:{common['WARC-Target-URI']}"
        record = writer.create_warc_record(
            target, "conversion", payload=io.BytesIO(data), length=len(data), warc_content_type=JSON_TYPE,
            warc_headers_dict={"WARC-Record-ID": conversion_id, "WARC-Target-URI": target,
                               "WARC-Date": common["WARC-Date"], "WARC-Refers-To": refers_to,
                               "WARC-Refers-To-Target-URI": common["WARC-Target-URI"]})
        writer.write_record(record)
        counts.count("conversion")
        counts.versions.append({"id": conversion_id.strip("<>").removeprefix("urn:uuid:"),
                                "url": common["WARC-Target-URI"], "ts": common["WARC-Date"],
                                "title": row["headline"], "text": row["body"]})

    # --- references ----------------------------------------------------------------------------

    def _origin(self, digest: str) -> dict[str, Any] | None:
        """The first capture (whole archive, any crawl) that received the bytes of ``digest``."""
        return self.archive._one(
            "SELECT * FROM captures WHERE payload_digest = ? AND status IS NOT NULL AND status != 304 "
            "ORDER BY captured_at, id LIMIT 1", [digest])

    def _latest_before(self, capture: dict[str, Any]) -> dict[str, Any] | None:
        """What a 304 confirms: the latest earlier capture of its article (else URL) whose bytes
        the archive holds."""
        candidates = self.archive._all(
            "SELECT c.* FROM captures c JOIN payloads p ON p.digest = c.payload_digest "
            "WHERE (c.article_id = ? OR c.final_url = ?) AND c.status = 200 AND "
            "(c.captured_at < ? OR (c.captured_at = ? AND c.id < ?)) ORDER BY c.captured_at DESC, c.id DESC LIMIT 1",
            [capture["article_id"], capture["final_url"] or capture["requested_url"], capture["captured_at"],
             capture["captured_at"], capture["id"]])
        if not candidates:
            return None
        found = candidates[0]
        return self._origin(found["payload_digest"]) or found


def capture_record_id(capture: dict[str, Any]) -> str:
    """The record id of a capture's response, resource, revisit or metadata record: UUID 5 of its
    URL, time, status and payload digest (the same capture in another archive gets the same id)."""
    return record_id("capture", capture["final_url"] or capture["requested_url"], capture["captured_at"],
                     capture["status"], capture["payload_digest"])


def _site(capture: dict[str, Any]) -> str | None:
    try:
        return registered_domain(capture["final_url"] or capture["requested_url"])
    except ValueError:
        return None


def export_warc(archive: Archive, out: str | Path, since: int | None = None,
                site: str | None = None) -> ExportCounts:
    """Write ``out`` (``.warc.gz`` gzip per record, else plain) from ``archive``; written to a
    temporary file beside it and renamed, so a failed export leaves no partial WARC.

    :raises OSError: when ``out`` cannot be written.
    :raises sqlite3.Error: when the archive cannot be read.
    """
    out = Path(out)
    handle, temporary = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent or ".")
    try:
        with os.fdopen(handle, "wb") as stream:
            counts = WarcExporter(archive, since, site).write(stream, out.name, gzip=out.name.endswith(".gz"))
        os.replace(temporary, out)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return counts


def pages_jsonl(versions: list[dict[str, Any]]) -> bytes:
    """A WACZ ``pages/pages.jsonl``: the py-wacz header line, then a page per version
    (``{"id", "url", "ts", "title": headline, "text": body}``), in export order."""
    lines = [{"format": "json-pages-1.0", "id": "pages", "title": "Article versions", "hasText": True}]
    lines += versions
    return b"".join(json.dumps(line, ensure_ascii=False).encode("utf-8") + b"\n" for line in lines)


def export_wacz(archive: Archive, out: str | Path, since: int | None = None, site: str | None = None,
                title: str | None = None) -> ExportCounts:
    """Write ``out`` (a WACZ: the WARC, its CDXJ index, ``pages/pages.jsonl``, ``datapackage.json``
    with digests) with py-wacz's ``wacz create``, from the WARC of :func:`export_warc`.

    :raises RuntimeError: when py-wacz fails (its output in the message).
    :raises OSError: when ``out`` cannot be written.
    """
    from wacz.main import main as wacz_main

    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="newscrawler-wacz-") as work:
        stem = out.name.removesuffix(".wacz") or "archive"
        warc = Path(work) / f"{stem}.warc.gz"
        counts = export_warc(archive, warc, since, site)
        pages = Path(work) / "pages.jsonl"
        pages.write_bytes(pages_jsonl(counts.versions))
        temporary = out.with_name(f".{out.name}.partial")
        args = ["create", "-o", str(temporary), str(warc), "-p", str(pages), "--copy-pages",
                "--title", title or f"newscrawler archive {archive.path.name if archive.path else ''}".strip()]
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                status = wacz_main(args)
            if status:
                raise RuntimeError(f"wacz create failed ({status}): {printed.getvalue().strip()[-500:]}")
            os.replace(temporary, out)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
    return counts
