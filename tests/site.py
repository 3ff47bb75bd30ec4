"""A loopback news site for tests: articles, sitemaps, syndication feeds, robots.txt on 127.0.0.1.

Standard library and lxml only (no newscrawler imports): the kit tests the crawler from outside.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import html as html_lib
import json
import mimetypes
import os
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

import lxml.html
from lxml import etree

FIXTURES = Path(__file__).resolve().parent / "fixtures"
"""Saved pages: ``host.slug.html``, with expected values in ``host.slug.json`` beside each."""

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"
ATOM_NS = "http://www.w3.org/2005/Atom"

DISCOVERY_PATHS = (
    "/sitemap.xml",
    "/sitemap_index.xml.gz",
    "/sitemaps/part-1.xml.gz",
    "/sitemaps/part-2.xml",
    "/news-sitemap.xml",
    "/rss.xml",
    "/atom.xml",
    "/robots.txt",
    "/index.html",
)
"""URL paths that :meth:`LoopbackSite.write_discovery` (re)writes."""

# Content types by exact path first, then by file name ending (longest ending wins).
_TYPES_BY_NAME = {
    "robots.txt": "text/plain; charset=utf-8",
    "rss.xml": "application/rss+xml",
    "atom.xml": "application/atom+xml",
}
_TYPES_BY_SUFFIX = {
    ".xml.gz": "application/gzip",
    ".gz": "application/gzip",
    ".xml": "application/xml",
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json",
    ".pdf": "application/pdf",
}

RouteHandler = Callable[["LoopbackRequestHandler"], None]
"""A custom route: called with the request handler, writes the whole response itself."""


def qname(namespace: str, tag: str) -> str:
    """Clark-notation name of ``tag`` in ``namespace`` as lxml wants it: ``{namespace}tag``."""
    return "{%s}%s" % (namespace, tag)  # noqa: UP031 - an f-string would need tripled braces here


def w3c_datetime(moment: datetime) -> str:
    """Format a time as a W3C datetime in UTC to the second, e.g. ``2026-11-01T10:00:00+00:00``.

    A naive ``moment`` is taken as UTC.
    """
    return _utc(moment).isoformat()


def http_date(moment: datetime) -> str:
    """Format a time as an HTTP-date / RFC 822 date in GMT, e.g. ``Sun, 01 Nov 2026 10:00:00 GMT``.

    Used for ``Last-Modified`` and RSS ``pubDate``. A naive ``moment`` is taken as UTC.
    """
    return format_datetime(_utc(moment), usegmt=True)


def _utc(moment: datetime) -> datetime:
    """Return ``moment`` as an aware UTC datetime cut to whole seconds (naive is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0)


def etag_for(body: bytes) -> str:
    """The strong ETag sent for ``body``: ``"<first 16 hex digits of sha256>"``, quotes included."""
    return f'"{hashlib.sha256(body).hexdigest()[:16]}"'


@dataclass
class Page:
    """One registered article page of a :class:`LoopbackSite`."""

    path: str
    """URL path, e.g. ``/news/slug.html`` (also the file's place under the site root)."""
    title: str
    """Headline used in sitemaps, feeds and the home page."""
    lastmod: datetime
    """Last change, aware UTC to the second; sent as ``Last-Modified`` and sitemap ``<lastmod>``."""
    published: datetime
    """First publication, aware UTC to the second (feed ``pubDate``, news ``publication_date``)."""
    content_type: str
    """``Content-Type`` header value sent with the page."""
    edits: int = 0
    """How many times the page was replaced after it was first added."""


class LoopbackSite:
    """A small news site served from files under ``root`` by a threaded ``http.server`` on loopback.

    Register pages with :meth:`add_page` (other files with :meth:`add_file`), write sitemaps, feeds,
    robots.txt and the home page with :meth:`write_discovery`, and serve with :meth:`serve` (or
    :meth:`start`/:meth:`stop`). Every request is recorded in :attr:`hits` and :attr:`requests`.

    Example::

        site = LoopbackSite(tmp_path / "site")
        with site.serve():
            site.add_page("/news/a.html", html, lastmod=datetime(2026, 11, 1, 10, tzinfo=UTC))
            site.write_discovery()
            fetch(site.url("/sitemap.xml"))
            assert site.hits["/news/a.html"] == 1
    """

    def __init__(self, root: Path, *, name: str = "Loopback News", language: str = "en",
                 host: str = "127.0.0.1", keep_alive: bool = False) -> None:
        """Create the site over ``root`` (made if missing); nothing is served until :meth:`start`.

        :param name: publication name, used as the news sitemap ``<news:name>`` and the feed titles.
        :param language: ISO 639-1 code for ``<news:language>`` and the feeds.
        :param host: loopback address to serve on (any of 127.0.0.0/8: one "site" per address).
        :param keep_alive: speak HTTP/1.1 with persistent connections, as news sites do, instead of
            HTTP/1.0 (one connection, and one server thread, per request). Every answer must then
            carry ``Content-Length``, as files and :meth:`LoopbackRequestHandler.send_body` do, and
            a route must read any request body itself (else it is read as the next request). Error
            answers (``send_error``: 404, 405) close the connection.
        """
        self.host = host
        self.keep_alive = keep_alive
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.language = language
        self.pages: dict[str, Page] = {}
        """Registered article pages by URL path, in the order they were first added."""
        self.routes: dict[str, RouteHandler] = {}
        """Custom routes by URL path; they answer before any file."""
        self.hits: Counter[str] = Counter()
        """Requests per URL path (query string left out), every method and status counted."""
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        """Every request in arrival order: ``(method, path without query string, headers)``."""
        self.errors: list[BaseException] = []
        """Exceptions raised while answering (route bugs), other than the client hanging up."""
        self.base_url: str | None = None
        """``http://127.0.0.1:PORT`` while the server runs, else ``None``."""
        self._types: dict[str, str] = {}
        self._lastmods: dict[str, datetime] = {}
        self._etags: dict[Path, tuple[tuple[int, int, int], str]] = {}  # file -> (version, ETag)
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()  # open client connections (kept alive or not)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- content -----------------------------------------------------------------------------------

    def add_page(
        self,
        path: str,
        html: str | bytes,
        *,
        lastmod: datetime | None = None,
        title: str | None = None,
        published: datetime | None = None,
        content_type: str = "text/html; charset=utf-8",
    ) -> Page:
        """Register (or replace: an edit) the article page at URL ``path``; write it under the root.

        :param path: URL path starting with ``/``, e.g. ``/news/slug.html``.
        :param html: the page; ``str`` is written as UTF-8, ``bytes`` as given.
        :param lastmod: last modification (naive = UTC). Default for a new page: the start of the
            previous second, so that a crawl run at once, even within the second, captures the page in
            a later second than its lastmod (the fetch policy counts a lastmod in the capture's own
            second as newer, and would fetch the page again); on an edit, now but at least one second
            after the previous lastmod, so ``Last-Modified`` (1 s steps) always moves.
        :param title: headline for sitemaps and feeds. Default: the page's ``og:title``, else its
            first ``<h1>``, else its ``<title>``, else the path.
        :param published: first publication (naive = UTC). Default: kept from the earlier version
            on an edit, else ``lastmod``.
        :param content_type: ``Content-Type`` sent with the page.
        :returns: the registered :class:`Page`. Call :meth:`write_discovery` afterwards to list it.
        """
        body = html.encode("utf-8") if isinstance(html, str) else bytes(html)
        previous = self.pages.get(path)
        if lastmod is None:
            lastmod = _utc(datetime.now(UTC))  # to the second
            if previous is None:
                lastmod -= timedelta(seconds=1)
            elif lastmod <= previous.lastmod:
                lastmod = previous.lastmod + timedelta(seconds=1)
        lastmod = _utc(lastmod)
        if published is not None:
            published = _utc(published)
        elif previous is not None:
            published = previous.published
        else:
            published = lastmod
        page = Page(
            path=path,
            title=title or _title_of(body) or path,
            lastmod=lastmod,
            published=published,
            content_type=content_type,
            edits=0 if previous is None else previous.edits + 1,
        )
        self._write(path, body, content_type=content_type, lastmod=lastmod)
        self.pages[path] = page
        return page

    def add_file(
        self,
        path: str,
        body: str | bytes,
        *,
        content_type: str | None = None,
        lastmod: datetime | None = None,
    ) -> Path:
        """Write a non-article file (a PDF, an image, a hand-made feed) served at URL ``path``.

        :param body: ``str`` is written as UTF-8.
        :param content_type: header value; default from the name (``.pdf`` -> ``application/pdf``).
        :param lastmod: sent as ``Last-Modified`` (naive = UTC); default the file's mtime.
        :returns: the file's location under the root. The file is not listed in sitemaps or feeds.
        """
        data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        return self._write(path, data, content_type=content_type, lastmod=lastmod)

    def remove(self, path: str) -> None:
        """Delete the page or file at URL ``path``, which then answers 404.

        Sitemaps and feeds still list it until :meth:`write_discovery` runs again.
        """
        self.pages.pop(path, None)
        self._types.pop(path, None)
        self._lastmods.pop(path, None)
        self.file_for(path).unlink(missing_ok=True)

    def add_route(self, path: str, handler: RouteHandler) -> None:
        """Answer requests for URL ``path`` (any method) with ``handler(request_handler)``.

        The handler writes the whole response (``send_response``, headers, ``end_headers``, body) on
        the :class:`LoopbackRequestHandler` it is given; ``request_handler.serve_static()`` falls
        back to the file. Ready-made routes: :func:`status_route`, :func:`redirect_route`,
        :func:`slow_route`.
        """
        self.routes[path] = handler

    def write_discovery(self) -> None:
        """(Re)write sitemaps, syndication feeds, robots.txt and the home page for the pages.

        Writes, with absolute URLs on :attr:`base_url` (so the server must be running):

        - ``/sitemap.xml``: ``<urlset>``, ``<loc>`` and ``<lastmod>`` (W3C datetime, UTC) per page;
        - ``/sitemap_index.xml.gz``: gzip ``<sitemapindex>`` listing ``/sitemaps/part-1.xml.gz``
          (gzip urlset, first half of the pages, rounded up) and ``/sitemaps/part-2.xml`` (plain,
          the rest);
        - ``/news-sitemap.xml``: Google News sitemap, per page ``news:name``, ``news:language``,
          ``news:publication_date`` (W3C datetime, UTC) and ``news:title``;
        - ``/rss.xml``: RSS 2.0, items newest published first, ``pubDate`` in RFC 822 (GMT);
        - ``/atom.xml``: Atom 1.0, entries with ``link href``, ``title``, ``id``, ``updated``,
          ``published``;
        - ``/robots.txt``: ``User-agent: *``, ``Allow: /``,
          ``Sitemap: <base>/sitemap_index.xml.gz``;
        - ``/index.html``: home page, RSS and Atom ``<link rel="alternate">``, a link per article.

        Pages are listed in the order they were first added. gzip files carry mtime 0 (same bytes
        for the same pages).

        :raises RuntimeError: when the server is not running (no base URL for absolute links).
        """
        if self.base_url is None:
            raise RuntimeError(
                "start the LoopbackSite before write_discovery(): sitemaps need absolute URLs"
            )
        pages = list(self.pages.values())
        half = (len(pages) + 1) // 2
        first, second = pages[:half], pages[half:]

        self._write("/sitemap.xml", self._urlset(pages))
        self._write("/sitemaps/part-1.xml.gz", gzip.compress(self._urlset(first), mtime=0))
        self._write("/sitemaps/part-2.xml", self._urlset(second))
        index = etree.Element(qname(SITEMAP_NS, "sitemapindex"), nsmap={None: SITEMAP_NS})
        for part, part_pages in (
            ("/sitemaps/part-1.xml.gz", first),
            ("/sitemaps/part-2.xml", second),
        ):
            entry = etree.SubElement(index, qname(SITEMAP_NS, "sitemap"))
            etree.SubElement(entry, qname(SITEMAP_NS, "loc")).text = self.url(part)
            if part_pages:
                newest = max(page.lastmod for page in part_pages)
                etree.SubElement(entry, qname(SITEMAP_NS, "lastmod")).text = w3c_datetime(newest)
        self._write("/sitemap_index.xml.gz", gzip.compress(_xml_bytes(index), mtime=0))
        self._write("/news-sitemap.xml", self._news_sitemap(pages))
        self._write("/rss.xml", self._rss(pages))
        self._write("/atom.xml", self._atom(pages))
        robots = f"User-agent: *\nAllow: /\n\nSitemap: {self.url('/sitemap_index.xml.gz')}\n"
        self._write("/robots.txt", robots.encode("ascii"))
        self._write("/index.html", self._home(pages).encode("utf-8"))

    # -- server ------------------------------------------------------------------------------------

    def start(self) -> LoopbackSite:
        """Serve on :attr:`host` (127.0.0.1 by default), a free port, in a daemon thread; set
        :attr:`base_url`; return self.

        The server speaks HTTP/1.0 (one request per connection), so a route may leave out
        ``Content-Length``; with ``keep_alive``, HTTP/1.1.

        :raises RuntimeError: when already started.
        """
        if self._server is not None:
            raise RuntimeError(f"LoopbackSite is already serving at {self.base_url}")
        handler = type("BoundLoopbackRequestHandler", (LoopbackRequestHandler,),
                       {"site": self, "protocol_version": "HTTP/1.1" if self.keep_alive else "HTTP/1.0"})
        server = _QuietThreadingHTTPServer((self.host, 0), handler)
        server.site = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="loopback-site",
            daemon=True,
        )
        self._thread.start()
        host, port = server.server_address[:2]
        self.base_url = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        """Stop the server, close its socket and every open connection (a kept-alive one is served
        nothing more), join its thread (at most 5 s); no-op if stopped."""
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None
        self.base_url = None

    @contextlib.contextmanager
    def serve(self) -> Iterator[LoopbackSite]:
        """Context manager: :meth:`start` on entry, :meth:`stop` on exit; yields the site."""
        self.start()
        try:
            yield self
        finally:
            self.stop()

    def url(self, path: str) -> str:
        """Absolute URL of ``path`` (starting with ``/``) on the running server.

        :raises RuntimeError: when the server is not running.
        """
        if self.base_url is None:
            raise RuntimeError("LoopbackSite is not serving: no base URL yet")
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/': {path!r}")
        return self.base_url + path

    def clear_log(self) -> None:
        """Forget :attr:`hits`, :attr:`requests` and :attr:`errors` (e.g. between two crawls)."""
        with self._lock:
            self.hits.clear()
            self.requests.clear()
            self.errors.clear()

    # -- files -------------------------------------------------------------------------------------

    def file_for(self, path: str) -> Path:
        """The file under the root for URL ``path`` (``/`` and ``.../`` map to ``index.html``).

        :raises ValueError: when ``path`` does not start with ``/`` or escapes the root.
        """
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/': {path!r}")
        relative = path.lstrip("/")
        if relative == "" or relative.endswith("/"):
            relative += "index.html"
        root = self.root.resolve()
        target = (root / relative).resolve()
        if not target.is_relative_to(root):
            raise ValueError(f"path escapes the site root: {path!r}")
        return target

    def content_type_for(self, path: str, target: Path | None = None) -> str:
        """``Content-Type`` for URL ``path`` (its file ``target``, when already known): as
        registered, else by file name, else mimetypes."""
        if path in self._types:
            return self._types[path]
        name = (target or self.file_for(path)).name
        if name in _TYPES_BY_NAME:
            return _TYPES_BY_NAME[name]
        for suffix in sorted(_TYPES_BY_SUFFIX, key=len, reverse=True):
            if name.endswith(suffix):
                return _TYPES_BY_SUFFIX[suffix]
        return mimetypes.guess_type(name)[0] or "application/octet-stream"

    def last_modified_for(self, path: str, mtime: float | None = None) -> datetime:
        """``Last-Modified`` for URL ``path``: registered lastmod, else its file's mtime (``mtime``
        in seconds since the epoch, when already known) (UTC, 1 s)."""
        if path in self._lastmods:
            return self._lastmods[path]
        if mtime is None:
            mtime = self.file_for(path).stat().st_mtime
        return _utc(datetime.fromtimestamp(mtime, UTC))

    def etag_of(self, target: Path, file: BinaryIO, stat: os.stat_result) -> str:
        """:func:`etag_for` the bytes of ``file``, open on ``target`` at its start (``stat``: its
        fstat); computed when :meth:`_write` writes the file, and again only if its inode, size or
        mtime changes."""
        version = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        known = self._etags.get(target)
        if known is None or known[0] != version:
            known = self._etags[target] = (version, etag_for(file.read()))
            file.seek(0)
        return known[1]

    def _write(
        self,
        path: str,
        body: bytes,
        *,
        content_type: str | None = None,
        lastmod: datetime | None = None,
    ) -> Path:
        """Write ``body`` for URL ``path``; remember its content type and lastmod when given."""
        target = self.file_for(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_bytes(body)
        stat = tmp.stat()
        self._etags[target] = ((stat.st_ino, stat.st_size, stat.st_mtime_ns), etag_for(body))
        tmp.replace(target)  # atomic: a concurrent request sees the old or the new bytes, never half
        if content_type is not None:
            self._types[path] = content_type
        if lastmod is not None:
            self._lastmods[path] = _utc(lastmod)
        else:
            self._lastmods.pop(path, None)
        return target

    def _record(self, method: str, path: str, headers: dict[str, str]) -> None:
        """Count one request (thread-safe)."""
        with self._lock:
            self.hits[path] += 1
            self.requests.append((method, path, headers))

    # -- documents ---------------------------------------------------------------------------------

    def _urlset(self, pages: list[Page]) -> bytes:
        """A sitemap ``<urlset>`` with ``<loc>`` and ``<lastmod>`` per page, as UTF-8 XML bytes."""
        urlset = etree.Element(qname(SITEMAP_NS, "urlset"), nsmap={None: SITEMAP_NS})
        for page in pages:
            url = etree.SubElement(urlset, qname(SITEMAP_NS, "url"))
            etree.SubElement(url, qname(SITEMAP_NS, "loc")).text = self.url(page.path)
            etree.SubElement(url, qname(SITEMAP_NS, "lastmod")).text = w3c_datetime(page.lastmod)
        return _xml_bytes(urlset)

    def _news_sitemap(self, pages: list[Page]) -> bytes:
        """A Google News sitemap (sitemap-news/0.9) for ``pages``, as UTF-8 XML bytes."""
        urlset = etree.Element(
            qname(SITEMAP_NS, "urlset"), nsmap={None: SITEMAP_NS, "news": NEWS_NS}
        )
        for page in pages:
            url = etree.SubElement(urlset, qname(SITEMAP_NS, "url"))
            etree.SubElement(url, qname(SITEMAP_NS, "loc")).text = self.url(page.path)
            news = etree.SubElement(url, qname(NEWS_NS, "news"))
            publication = etree.SubElement(news, qname(NEWS_NS, "publication"))
            etree.SubElement(publication, qname(NEWS_NS, "name")).text = self.name
            etree.SubElement(publication, qname(NEWS_NS, "language")).text = self.language
            etree.SubElement(news, qname(NEWS_NS, "publication_date")).text = w3c_datetime(
                page.published
            )
            etree.SubElement(news, qname(NEWS_NS, "title")).text = page.title
        return _xml_bytes(urlset)

    def _rss(self, pages: list[Page]) -> bytes:
        """An RSS 2.0 feed of ``pages``, newest published first, as UTF-8 XML bytes."""
        rss = etree.Element("rss", version="2.0", nsmap={"atom": ATOM_NS})
        channel = etree.SubElement(rss, "channel")
        etree.SubElement(channel, "title").text = self.name
        etree.SubElement(channel, "link").text = self.url("/")
        etree.SubElement(channel, "description").text = f"Latest articles from {self.name}"
        etree.SubElement(channel, "language").text = self.language
        etree.SubElement(
            channel,
            qname(ATOM_NS, "link"),
            href=self.url("/rss.xml"),
            rel="self",
            type="application/rss+xml",
        )
        if pages:
            etree.SubElement(channel, "lastBuildDate").text = http_date(
                max(p.lastmod for p in pages)
            )
        for page in _newest_first(pages):
            item = etree.SubElement(channel, "item")
            etree.SubElement(item, "title").text = page.title
            etree.SubElement(item, "link").text = self.url(page.path)
            etree.SubElement(item, "guid", isPermaLink="true").text = self.url(page.path)
            etree.SubElement(item, "pubDate").text = http_date(page.published)
        return _xml_bytes(rss)

    def _atom(self, pages: list[Page]) -> bytes:
        """An Atom 1.0 feed of ``pages``, newest published first, as UTF-8 XML bytes."""
        feed = etree.Element(qname(ATOM_NS, "feed"), nsmap={None: ATOM_NS})
        etree.SubElement(feed, qname(ATOM_NS, "title")).text = self.name
        etree.SubElement(feed, qname(ATOM_NS, "id")).text = self.url("/")
        etree.SubElement(feed, qname(ATOM_NS, "link"), href=self.url("/"), rel="alternate")
        etree.SubElement(feed, qname(ATOM_NS, "link"), href=self.url("/atom.xml"), rel="self")
        newest = max((p.lastmod for p in pages), default=datetime(2000, 1, 1, tzinfo=UTC))
        etree.SubElement(feed, qname(ATOM_NS, "updated")).text = w3c_datetime(newest)
        author = etree.SubElement(feed, qname(ATOM_NS, "author"))
        etree.SubElement(author, qname(ATOM_NS, "name")).text = self.name
        for page in _newest_first(pages):
            entry = etree.SubElement(feed, qname(ATOM_NS, "entry"))
            etree.SubElement(entry, qname(ATOM_NS, "title")).text = page.title
            etree.SubElement(
                entry, qname(ATOM_NS, "link"), href=self.url(page.path), rel="alternate"
            )
            etree.SubElement(entry, qname(ATOM_NS, "id")).text = self.url(page.path)
            etree.SubElement(entry, qname(ATOM_NS, "updated")).text = w3c_datetime(page.lastmod)
            etree.SubElement(entry, qname(ATOM_NS, "published")).text = w3c_datetime(page.published)
        return _xml_bytes(feed)

    def _home(self, pages: list[Page]) -> str:
        """The home page: feed autodiscovery links and one link per article, newest first."""
        esc = html_lib.escape
        items = "\n".join(
            f'      <li><a href="{esc(page.path)}">{esc(page.title)}</a>'
            f' <time datetime="{w3c_datetime(page.published)}">'
            f"{page.published.date().isoformat()}</time></li>"
            for page in _newest_first(pages)
        )
        return (
            "<!DOCTYPE html>\n"
            f'<html lang="{esc(self.language)}">\n'
            "<head>\n"
            '  <meta charset="utf-8">\n'
            f"  <title>{esc(self.name)}</title>\n"
            '  <link rel="alternate" type="application/rss+xml"'
            f' title="{esc(self.name)} (RSS)" href="/rss.xml">\n'
            '  <link rel="alternate" type="application/atom+xml"'
            f' title="{esc(self.name)} (Atom)" href="/atom.xml">\n'
            "</head>\n"
            "<body>\n"
            f"  <header><h1>{esc(self.name)}</h1></header>\n"
            "  <main>\n"
            f'    <ul class="latest">\n{items}\n    </ul>\n'
            "  </main>\n"
            "</body>\n"
            "</html>\n"
        )


class LoopbackRequestHandler(BaseHTTPRequestHandler):
    """Serves a :class:`LoopbackSite`: custom routes first, then files with validators and 304s.

    ``GET`` and ``HEAD`` on files send ``Content-Type``, ``Content-Length``, ``ETag`` (see
    :func:`etag_for`) and ``Last-Modified``; ``If-None-Match`` (takes precedence, ``*`` and weak
    tags accepted) or a not-older ``If-Modified-Since`` gets ``304`` with no body; missing files
    get ``404``.
    Other methods get ``405`` unless a route takes them. Logging to stderr is silenced.
    """

    site: LoopbackSite  # set on the per-site subclass made by LoopbackSite.start()
    server_version = "LoopbackSite/1.0"

    @property
    def url_path(self) -> str:
        """The request's URL path, percent-decoded, without query string or fragment."""
        return unquote(urlsplit(self.path).path) or "/"

    def log_message(self, format: str, *args: object) -> None:
        """Silence the default per-request logging to stderr."""

    def setup(self) -> None:
        """Register the connection, so that :meth:`LoopbackSite.stop` can close it."""
        super().setup()
        with self.site._lock:
            self.site._connections.add(self.connection)

    def finish(self) -> None:
        with self.site._lock:
            self.site._connections.discard(self.connection)
        super().finish()

    def _dispatch(self) -> None:
        """Record the request, then answer from a route or a file."""
        path = self.url_path
        self.site._record(self.command, path, dict(self.headers.items()))
        route = self.site.routes.get(path)
        if route is not None:
            route(self)
        elif self.command in ("GET", "HEAD"):
            self.serve_static()
        else:
            self.send_error(405)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_OPTIONS = do_PATCH = _dispatch

    def serve_static(self) -> None:
        """Answer with the file for this request's path (200, 304 or 404), honouring HEAD.

        The body goes out with ``sendfile`` and its ETag is computed once per file version
        (:meth:`LoopbackSite.etag_of`): the benchmarks serve thousands of pages from this
        process, on the cores the crawl under test runs on.
        """
        site, path = self.site, self.url_path
        try:
            target = site.file_for(path)
            file = target.open("rb")
        except (ValueError, OSError):  # outside the root, missing, a directory
            self.send_error(404)
            return
        with file:
            stat = os.fstat(file.fileno())
            etag = site.etag_of(target, file, stat)
            last_modified = site.last_modified_for(path, stat.st_mtime)
            validators = {"ETag": etag, "Last-Modified": http_date(last_modified)}
            if self._not_modified(etag, last_modified):
                self.send_response(304)
                for name, value in validators.items():
                    self.send_header(name, value)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", site.content_type_for(path, target))
            self.send_header("Content-Length", str(stat.st_size))
            for name, value in validators.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.connection.sendfile(file)

    def send_body(
        self,
        status: int,
        body: bytes | str = b"",
        *,
        content_type: str = "text/plain; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        """Send a whole response: status, ``Content-Type``, ``Content-Length``, extra headers, body.

        For routes. ``str`` bodies are sent as UTF-8; the body is left out for HEAD and 1xx/204/304.
        """
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD" and status not in (204, 304) and status >= 200:
            self.wfile.write(data)

    def _not_modified(self, etag: str, last_modified: datetime) -> bool:
        """Whether the request's conditional headers match (RFC 9110 section 13.2.2 order)."""
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            tags = [tag.strip() for tag in if_none_match.split(",")]
            return "*" in tags or any(tag.removeprefix("W/") == etag for tag in tags)
        if_modified_since = self.headers.get("If-Modified-Since")
        if if_modified_since is not None:
            try:
                since = parsedate_to_datetime(if_modified_since)
            except (TypeError, ValueError):
                return False  # an invalid date is ignored, as RFC 9110 says
            if since.tzinfo is None:
                since = since.replace(tzinfo=UTC)
            return last_modified <= since
        return False


class _QuietThreadingHTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer keeping handler exceptions in ``site.errors`` rather than on stderr."""

    daemon_threads = True
    # socketserver listens with a backlog of 5: a crawler opening dozens of connections at once would
    # see its SYNs dropped and retried after a second, i.e. timeouts that the site never caused.
    request_queue_size = 128
    site: LoopbackSite

    def handle_error(self, request: object, client_address: object) -> None:
        """Ignore clients hanging up; record any other handler exception on the site."""
        error = sys.exc_info()[1]
        if error is not None and not isinstance(error, ConnectionError):
            with self.site._lock:
                self.site.errors.append(error)


# -- ready-made routes -----------------------------------------------------------------------------


def status_route(
    status: int,
    body: bytes | str = b"",
    *,
    content_type: str = "text/plain; charset=utf-8",
    headers: dict[str, str] | None = None,
) -> RouteHandler:
    """A route answering every request with ``status`` (e.g. 500, 503, 410) and ``body``.

    :param headers: extra headers, e.g. ``{"Retry-After": "120"}`` (seconds).
    """

    def route(request: LoopbackRequestHandler) -> None:
        request.send_body(status, body, content_type=content_type, headers=headers)

    return route


def redirect_route(location: str, status: int = 301) -> RouteHandler:
    """A route redirecting with ``status`` (301, 302, 307, 308) to ``location`` (path or URL)."""

    def route(request: LoopbackRequestHandler) -> None:
        request.send_body(status, b"", headers={"Location": location})

    return route


def slow_route(delay_s: float, then: RouteHandler | None = None) -> RouteHandler:
    """A route waiting ``delay_s`` seconds, then answering with ``then`` (default: the file)."""

    def route(request: LoopbackRequestHandler) -> None:
        time.sleep(delay_s)
        if then is None:
            request.serve_static()
        else:
            then(request)

    return route


# -- saved fixture pages ---------------------------------------------------------------------------


def load_fixture_pages(folder: Path = FIXTURES) -> list[dict]:
    """Saved pages with their expected values, sorted by file name.

    Plain function (not a pytest fixture) so tests can use it in ``pytest.mark.parametrize``.

    :returns: one dict per ``host.slug.html`` that has a ``host.slug.json`` beside it:
        ``{"name": "host.slug", "path": Path, "html": str (UTF-8 decoded), "expected": dict}``;
        ``expected`` holds ``url``, and for articles ``headline``, ``body_starts_with``,
        ``body_must_contain``, ``body_must_not_contain``, ``authors``, ``date_published``
        (ISO 8601), ``language`` (ISO 639-1); a non-article page has ``"is_article": false``.
    """
    cases = []
    for html_path in sorted(folder.glob("*.html")):
        json_path = html_path.with_suffix(".json")
        if not json_path.exists():
            continue
        cases.append(
            {
                "name": html_path.stem,
                "path": html_path,
                "html": html_path.read_text(encoding="utf-8"),
                "expected": json.loads(json_path.read_text(encoding="utf-8")),
            }
        )
    return cases


# -- helpers ---------------------------------------------------------------------------------------


def _xml_bytes(element: etree._Element) -> bytes:
    """Serialise ``element`` as a UTF-8 XML document with a declaration, indented."""
    etree.indent(element, space="  ")
    return etree.tostring(element, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _newest_first(pages: list[Page]) -> list[Page]:
    """``pages`` sorted by publication time, newest first (stable for equal times)."""
    return sorted(pages, key=lambda page: page.published, reverse=True)


def _title_of(body: bytes) -> str | None:
    """The page's headline: ``og:title``, else first ``<h1>``, else ``<title>``; else ``None``."""
    try:
        tree = lxml.html.fromstring(body)
    except (etree.ParserError, ValueError):
        return None
    for value in tree.xpath("//meta[@property='og:title']/@content"):
        if value.strip():
            return " ".join(value.split())
    for xpath in ("//h1", "//title"):
        for element in tree.xpath(xpath):
            text = " ".join(element.text_content().split())
            if text:
                return text
    return None
