"""What every newscrawler spider shares: discovery callbacks, the fetch policy, article captures."""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import struct
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Response, TextResponse
from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import sitemap_urls_from_robots
from twisted.python.failure import Failure
from w3lib.url import safe_url_string

from newscrawler.dates import utcnow_iso
from newscrawler.extensions import DISCOVERY_PROBLEM
from newscrawler.health import ENTRIES_STAT, UNREADABLE_STAT
from newscrawler.items import Capture, Outcome
from newscrawler.middlewares import COMPARE, CONDITIONAL, ORIGIN, REFRESH_ELSEWHERE, SAME_BYTES, exchange_of
from newscrawler.policy import should_fetch
from newscrawler.shards import parse_shard
from newscrawler.sitemaps import Entry, parse_feed, parse_sitemap, sniff_xml
from newscrawler.sites import SiteConfig, load_sites
from newscrawler.store import Archive
from newscrawler.urls import clean_url, registered_domain

logger = logging.getLogger(__name__)

# Meta key of the article requests made from the backlog: the host whose queue they came from
# (counted in flight until their callback).
_QUEUED = "archive_queued"
# Statuses that reach the article callback (after retries) so that they become recorded captures:
# 304 answers a conditional request; other 3xx are left to RedirectMiddleware.
ARTICLE_STATUSES = [304, *range(400, 600)]
_FEED_ROOTS = {"rss", "feed", "RDF", "rdf"}
_SITEMAP_ROOTS = {"urlset", "sitemapindex"}
_FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json",
               "application/rdf+xml")


@dataclasses.dataclass(slots=True)
class Lead:
    """An article page queued for fetching (see :meth:`ArchiveSpider.queue_article`)."""

    url: str
    via: str  # how it was found: sitemap, feed, recheck, list
    entry: Entry | None  # what the sitemap or syndication feed said of it
    site: SiteConfig | None  # the watched site it belongs to
    conditional: bool  # send the last capture's validators
    origin: str | None  # the URL the crawl started from, when known


_UNDECODED = re.compile("[\\udc80-\\udcff]")  # an undecodable byte of an argument, as PEP 383 keeps it


def split_urls(value: str | Iterable[str] | None) -> list[str]:
    """Spider argument to URL list: a list, or a string of URLs separated by commas or whitespace.

    Bytes of a command-line argument that are not in the locale's encoding (which Python keeps as
    surrogate escapes, PEP 383) are percent-encoded, as a browser would: ``a\\xff.html`` gives
    ``a%FF.html``.
    """
    if value is None:
        return []
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    return [safe_url_string(os.fsencode(u)) if _UNDECODED.search(u) else u for u in map(str.strip, value) if u]


class ArchiveSpider(scrapy.Spider):
    """Base of newscrawler's spiders (not run by itself).

    Subclasses choose their start requests; every callback here yields more discovery requests,
    queues article pages or returns :class:`newscrawler.items.Capture` items. Article URLs from sitemaps and
    syndication feeds follow :func:`newscrawler.policy.should_fetch` against the archive in
    ``ARCHIVE_DB``; article URLs given directly are always fetched.

    Article pages wait in the spider's own backlog (:meth:`queue_article`), one queue per host, and
    reach the engine so that about ``CONCURRENT_REQUESTS`` of them are in flight at a time, at most
    ``CONCURRENT_REQUESTS_PER_DOMAIN`` per host, the hosts taking turns (:meth:`next_requests`;
    topped up after each article response, when a sitemap or feed was read, on ``scheduler_empty``;
    ``spider_idle`` keeps the spider open while the backlog holds pages). A queued page costs about
    400 bytes instead of a Scrapy request's 1.3-2.8 KB in the scheduler. Those requests are handed
    to the engine (``engine.crawl``): downloader middlewares see them, spider middlewares' output
    hooks do not (no Referer header, no depth). Each article URL is requested once per crawl with
    ``dont_filter`` (our own per-crawl set), so Scrapy's duplicate filter, even a persistent one,
    never blocks a deliberate re-fetch. Re-fetches of archived articles are conditional (the
    request meta asks :class:`newscrawler.middlewares.ConditionalRequestMiddleware` for the last
    capture's validators): a 304, or a body identical to the last capture's, is archived without
    extraction.

    Arguments: ``sites`` (path of a watched-sites TOML file, see :mod:`newscrawler.sites`) and
    ``recheck`` ("1"/"true": also re-fetch archived articles that are due, at most
    ``ARCHIVE_RECHECK_MAX`` per run, most overdue first). With ``ARCHIVE_SHARD`` ("K/N") only the
    watched sites of shard K are read (:mod:`newscrawler.shards`); the others are counted in
    ``archive/shard/skipped_sites``.
    """

    custom_settings: dict[str, Any] = {}

    def __init__(self, *args: Any, sites: str | list[SiteConfig] | None = None,
                 recheck: str | bool = False, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._scheduled: set[str] = set()
        self._backlog: OrderedDict[str, deque[Lead]] = OrderedDict()  # host -> its queued pages, in turn order
        self._in_flight = 0  # article requests from the backlog whose callback has not run yet
        self._host_in_flight: dict[str, int] = {}  # the same, per host
        self._archive_handle: Archive | None = None
        self.sites: list[SiteConfig] = load_sites(sites) if isinstance(sites, (str, Path)) else list(sites or [])
        self.recheck = recheck in (True, "1", "true", "yes", "on")
        self.shard_skipped: dict[str, int] = {}  # stats key -> sites or URLs left to other shards

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> ArchiveSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider._max_size = crawler.settings.getint("DOWNLOAD_MAXSIZE")
        spider._warn_size = crawler.settings.getint("DOWNLOAD_WARNSIZE")
        spider._page_max_size = crawler.settings.getint("ARCHIVE_PAGE_MAXSIZE") or spider._max_size
        spider._default_tz = crawler.settings.get("ARCHIVE_DEFAULT_TZ", "UTC")
        spider._db_path = crawler.settings.get("ARCHIVE_DB")
        spider._recheck_max = crawler.settings.getint("ARCHIVE_RECHECK_MAX", 1000)
        spider._feed_batch = max(1, crawler.settings.getint("CONCURRENT_REQUESTS"))
        spider.shard = parse_shard(crawler.settings.get("ARCHIVE_SHARD"))
        if spider.shard is not None:
            kept = [site for site in spider.sites if spider.shard.holds_site(site)]
            spider.shard_skipped["archive/shard/skipped_sites"] = len(spider.sites) - len(kept)
            spider.sites = kept
        crawler.signals.connect(spider._count_shard, signal=scrapy.signals.spider_opened)
        spider._host_cap = max(1, crawler.settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN"))
        crawler.signals.connect(spider._close_archive, signal=scrapy.signals.spider_closed)
        crawler.signals.connect(spider._feed_engine, signal=scrapy.signals.scheduler_empty)
        crawler.signals.connect(spider._keep_open, signal=scrapy.signals.spider_idle)
        crawler.signals.connect(spider._came_back, signal=scrapy.signals.request_dropped)
        return spider

    @property
    def _archive(self) -> Archive | None:
        """The archive, read-only, once it exists (the storage pipeline creates it)."""
        if self._archive_handle is None and self._db_path and Path(self._db_path).exists():
            self._archive_handle = Archive.open(self._db_path, readonly=True)
        return self._archive_handle

    def _close_archive(self) -> None:
        if self._archive_handle is not None:
            self._archive_handle.close()
            self._archive_handle = None

    def _count_shard(self) -> None:
        for key, value in self.shard_skipped.items():
            self.crawler.stats.set_value(key, value)

    def site_requests(self) -> Iterator[scrapy.Request]:
        """Discovery requests for every sitemap and syndication feed of the watched sites."""
        for site in self.sites:
            for url in site.sitemaps:
                callback = self.parse_robots if url.endswith("/robots.txt") else self.parse_sitemap
                yield self.discovery_request(url, callback, "sitemap", site)
            for url in site.feeds:
                yield self.discovery_request(url, self.parse_feed, "feed", site)

    def queue_rechecks(self) -> None:
        """Queue the archived articles whose re-check is due, most overdue first (capped)."""
        if self._archive is None:
            return
        skipped_sites = {d for site in self.sites if not site.recheck for d in site.domains}
        due = self._archive.due_articles(utcnow_iso(), self._recheck_max)
        self.crawler.stats.set_value("archive/recheck/due", len(due))
        for article in due:
            if article["site"] in skipped_sites:
                continue
            self.queue_article(article["url"], "recheck", site=self._site_of(article["url"]),
                               force=True, conditional=True)

    def _site_of(self, url: str) -> SiteConfig | None:
        domain = registered_domain(url)
        return next((site for site in self.sites if domain in site.domains), None)

    # --- requests ----------------------------------------------------------------------------

    def queue_article(self, url: str, via: str, entry: Entry | None = None, force: bool = False,
                      site: SiteConfig | None = None, conditional: bool | None = None,
                      origin: str | None = None) -> bool:
        """Queue an article page for fetching; False when the policy, the site's patterns or this
        crawl already cover it.

        ``force`` (article URLs named by the user, re-checks) skips the fetch policy but not the
        per-crawl dedupe. ``conditional`` (default: when not forced) sends the last capture's
        validators. ``site`` applies a watched site's allow/deny patterns and prune XPaths;
        ``origin`` is the URL the crawl started from (for :class:`TargetGuardMiddleware`).

        The queue is the spider's own backlog of small :class:`Lead` records, one queue per host,
        not Scrapy's scheduler: :meth:`next_requests` turns them into requests as earlier ones
        come back, so a 50,000-URL sitemap never holds 50,000 requests in memory.
        """
        try:
            key = clean_url(url)
        except ValueError:
            self.crawler.stats.inc_value("archive/discovery/bad_url")
            logger.warning("skipping a URL that is not absolute http(s): %r", url)
            return False
        if key in self._scheduled:
            return False
        if site is not None and not site.allows(url):
            self.crawler.stats.inc_value("archive/discovery/not_allowed")
            return False
        archive = self._archive
        if not force and archive is not None:
            last = archive.last_capture_at(url)
            if not should_fetch(last, entry.lastmod if entry else None, self._default_tz):
                self.crawler.stats.inc_value("archive/discovery/unchanged")
                return False
        self._scheduled.add(key)
        self.crawler.stats.inc_value("archive/scheduled")
        lead = Lead(url, via, entry, site, conditional if conditional is not None else not force, origin)
        self._backlog.setdefault(urlsplit(url).hostname or "", deque()).append(lead)
        return True

    def next_requests(self, limit: int | None = None) -> Iterator[scrapy.Request]:
        """Requests for queued article pages: up to ``limit``, or by default while fewer than
        ``CONCURRENT_REQUESTS`` are in flight; at most ``CONCURRENT_REQUESTS_PER_DOMAIN`` in flight
        per host (a slow or delayed host does not take the others' share), the hosts taking turns,
        each host's pages oldest first. Conditional ones carry the validators of the article's
        last capture.

        A page whose request cannot be made (the archive unreadable) is logged and counted as a
        spider exception (``spider_exceptions/count``, so the crawl ends as failed); the others go on.
        """
        made, passed = 0, 0  # passed: hosts in a row skipped at their cap
        while self._backlog and passed < len(self._backlog):
            if (limit is not None and made >= limit) or (limit is None and self._in_flight >= self._feed_batch):
                return
            host, leads = self._backlog.popitem(last=False)
            if self._host_in_flight.get(host, 0) >= self._host_cap:
                self._backlog[host] = leads
                passed += 1
                continue
            passed = 0
            lead = leads.popleft()
            if leads:
                self._backlog[host] = leads  # to the back of the turn order
            try:
                request = self._article_request(lead, host)
            except Exception as exc:
                logger.exception("cannot request %s", lead.url)
                self.crawler.stats.inc_value("spider_exceptions/count")
                self.crawler.stats.inc_value(f"spider_exceptions/{type(exc).__name__}")
                continue
            made += 1
            self._in_flight += 1
            self._host_in_flight[host] = self._host_in_flight.get(host, 0) + 1
            yield request

    def _article_request(self, lead: Lead, host: str) -> scrapy.Request:
        entry, site = lead.entry, lead.site
        hints: dict[str, Any] = {"title": entry.title, "published": entry.published, "modified": entry.lastmod} \
            if entry else {}
        if site is not None and site.prune_xpath:
            hints["prune_xpath"] = site.prune_xpath
        if site is not None and site.timezone:
            hints["timezone"] = site.timezone
        meta = {"handle_httpstatus_list": ARTICLE_STATUSES, "via": lead.via, "hints": hints,
                "download_maxsize": self._page_max_size, _QUEUED: host,
                CONDITIONAL: lead.conditional, COMPARE: True}
        if lead.origin is not None:
            meta[ORIGIN] = lead.origin
        return scrapy.Request(lead.url, callback=self.parse_article, errback=self.article_failed,
                              dont_filter=True, meta=meta)

    def _feed_engine(self) -> None:
        """Top the engine up to ``CONCURRENT_REQUESTS`` article requests in flight from the backlog."""
        for request in self.next_requests():
            self.crawler.engine.crawl(request)

    def _came_back(self, request: scrapy.Request | None) -> None:
        """An article request from the backlog is done (its callback or errback runs, or the scheduler
        refused it: ``request_dropped``): top up."""
        if request is not None and _QUEUED in request.meta:
            host = request.meta[_QUEUED]
            self._in_flight -= 1
            self._host_in_flight[host] = self._host_in_flight.get(host, 1) - 1
            self._feed_engine()

    def _keep_open(self) -> None:
        """On ``spider_idle``: feed the engine, and keep the spider open, while pages are queued.

        An idle engine has nothing in flight, whatever the count says (a request lost without
        its callback, errback or ``request_dropped`` would otherwise hold the backlog forever).
        """
        if self._in_flight:
            logger.warning("%d article requests ended without a callback, errback or request_dropped "
                           "(dropped by an extension?)", self._in_flight)
            self.crawler.stats.inc_value("archive/discovery/lost_in_flight", self._in_flight)
            self._in_flight = 0
            self._host_in_flight.clear()
        if self._backlog:
            self._feed_engine()
            raise DontCloseSpider

    def discovery_request(self, url: str, callback: Any, via: str, site: SiteConfig | None = None) -> scrapy.Request:
        """A request for a sitemap, syndication feed, robots.txt or home page (of a watched ``site``)."""
        return scrapy.Request(url, callback=callback, errback=self.discovery_failed,
                              dont_filter=True, meta={"via": via, "site": site})

    # --- callbacks ---------------------------------------------------------------------------

    def parse_any(self, response: Response) -> Iterator[Any]:
        """Tell from the response what a user-given URL is, and handle it as that.

        Sitemaps (urlset, index, gzip) and syndication feeds (RSS, Atom) by their XML root;
        robots.txt by its path; a site's home page (path ``/``) by its path; anything else is an
        article page, captured from this very response.
        """
        body = self._unzipped(response)
        root = sniff_xml(body) if body else None
        if root in _SITEMAP_ROOTS:
            yield from self.parse_sitemap(response)
        elif root in _FEED_ROOTS:
            self.parse_feed(response)
        elif urlsplit(response.url).path.endswith("/robots.txt"):
            yield from self.parse_robots(response)
        elif urlsplit(response.url).path in ("", "/") and response.status == 200 \
                and isinstance(response, TextResponse):
            yield from self.parse_home(response)
        else:
            response.meta.setdefault("via", "cli")
            self.crawler.stats.inc_value("archive/scheduled")  # a named URL that is a page
            if len(response.body) > self._page_max_size:  # fetched under the sitemap limit
                yield self.unfetchable_response(response)
            else:
                yield self.parse_article(response)

    def parse_robots(self, response: Response) -> Iterator[scrapy.Request]:
        """The sitemaps named by ``Sitemap:`` lines of a robots.txt.

        They are fetched even where the same robots.txt disallows their path (``Disallow: /``
        with ``Allow`` lines for the sections, case C24): the site names them for crawlers in the
        very file, as sitemaps.org's robots.txt discovery means it.
        """
        for url in sitemap_urls_from_robots(response.body, base_url=response.url):
            request = self.discovery_request(url, self.parse_sitemap, "robots", response.meta.get("site"))
            request.meta["dont_obey_robotstxt"] = True
            yield request

    def parse_home(self, response: TextResponse) -> Iterator[scrapy.Request]:
        """A site's home page: its syndication feeds (``<link rel=alternate>``) and sitemaps."""
        feeds = 0
        for link in response.xpath("//link[@href]"):
            rel = (link.attrib.get("rel") or "").lower().split()
            kind = (link.attrib.get("type") or "").lower()
            if "alternate" in rel and kind in _FEED_TYPES:
                feeds += 1
                yield self.discovery_request(response.urljoin(link.attrib["href"]),
                                             self.parse_feed, "home")
        robots = response.urljoin("/robots.txt")
        yield self.discovery_request(robots, self.parse_robots, "home")
        logger.info("home page %s: %d syndication feeds, sitemaps from %s", response.url, feeds,
                    robots)

    def parse_sitemap(self, response: Response) -> Iterator[scrapy.Request]:
        """Child sitemaps of a sitemap index; the article URLs of a urlset are queued (fetch policy
        applied)."""
        body = self._unzipped(response)
        problems: list[str] = []
        kind, entries = parse_sitemap(body, problems) if body else (None, [])
        if kind is None:
            self.crawler.stats.inc_value("archive/discovery/invalid_sitemap")
            self.crawler.stats.inc_value(f"{ENTRIES_STAT}{registered_domain(response.url)}", 0)
            self.crawler.stats.set_value(f"{UNREADABLE_STAT}{registered_domain(response.url)}",
                                         f"not a sitemap: {response.url}")
            logger.warning("ignoring invalid sitemap %s", response.url)
            self._discovery_problem(response.url, "sitemap", _not_what(response, body, "a sitemap"), 0)
            return
        self.crawler.stats.inc_value(f"archive/discovery/{kind}")
        if problems:
            self.report_malformed(response.url, "sitemap", problems[0], len(entries))
        if kind != "sitemapindex":  # entries per site, for the site health check (newscrawler.health)
            self.crawler.stats.inc_value(f"{ENTRIES_STAT}{registered_domain(response.url)}", len(entries))
        for entry in entries:
            if kind == "sitemapindex":
                yield self.discovery_request(response.urljoin(entry.url), self.parse_sitemap,
                                             "sitemap", response.meta.get("site"))
            else:
                self.queue_article(response.urljoin(entry.url), "sitemap", entry,
                                   site=response.meta.get("site"), origin=response.meta.get(ORIGIN))
        self._feed_engine()

    def parse_feed(self, response: Response) -> None:
        """Queue the entries of an RSS or Atom syndication feed (fetch policy applied)."""
        body = self._unzipped(response)
        problems: list[str] = []
        entries = parse_feed(body, problems) if body else []
        if not entries and sniff_xml(body or b"") not in _FEED_ROOTS:
            self.crawler.stats.inc_value("archive/discovery/invalid_feed")
            logger.warning("ignoring invalid syndication feed %s", response.url)
            self._discovery_problem(response.url, "feed", _not_what(response, body, "a syndication feed"), 0)
            return
        self.crawler.stats.inc_value("archive/discovery/feed")
        if problems:
            self.report_malformed(response.url, "feed", problems[0], len(entries))
        self.crawler.stats.inc_value(f"{ENTRIES_STAT}{registered_domain(response.url)}", len(entries))
        for entry in entries:
            self.queue_article(response.urljoin(entry.url), "feed", entry,
                               site=response.meta.get("site"), origin=response.meta.get(ORIGIN))
        self._feed_engine()

    def report_malformed(self, url: str, kind: str, problem: str, entries: int) -> None:
        """Report a sitemap or syndication feed (``kind`` ``"sitemap"``/``"feed"``) that was read
        with recovery: a WARNING naming the URL and the parse error, the stat
        ``archive/discovery/malformed/<kind>``, a ``discovery_problems`` row (:data:`DISCOVERY_PROBLEM`)."""
        self.crawler.stats.inc_value(f"archive/discovery/malformed/{kind}")
        logger.warning("malformed %s %s: %s (%d entries read all the same)",
                       "syndication feed" if kind == "feed" else kind, url, problem, entries)
        self._discovery_problem(url, kind, problem, entries)

    def _discovery_problem(self, url: str, kind: str, problem: str, entries: int) -> None:
        self.crawler.signals.send_catch_log(DISCOVERY_PROBLEM, url=url, kind=kind, problem=problem,
                                            entries=entries)

    def parse_article(self, response: Response) -> Capture:
        """The capture of an article page, any status, ready for the item pipelines.

        A 304 is a ``not_modified`` capture; a 200 whose bytes equal the last capture of the
        article's current version (:class:`newscrawler.middlewares.ConditionalRequestMiddleware`
        says so) is a ``revisit``: neither is extracted.
        """
        self._came_back(response.request)
        headers = response.headers
        item = Capture(
            requested_url=response.request.meta.get("redirect_urls", [response.request.url])[0]
            if response.request else response.url,
            final_url=response.url,
            status=response.status,
            captured_at=utcnow_iso(),
            content_type=_header(headers, b"Content-Type"),
            etag=_header(headers, b"ETag"),
            last_modified=_header(headers, b"Last-Modified"),
            body=response.body,
            is_text=isinstance(response, TextResponse),
            discovered_via=response.meta.get("via", "cli"),
            hints=response.meta.get("hints") or {},
            exchange=exchange_of(response),
        )
        if response.meta.get(REFRESH_ELSEWHERE):
            item.note = f"meta refresh to another site not followed: {response.meta[REFRESH_ELSEWHERE]}"
        if response.status == 304:
            item.settle(Outcome.NOT_MODIFIED, note="304 to a conditional request: not extracted")
            self.crawler.stats.inc_value("archive/shortcut/not_modified")
        elif response.meta.get(SAME_BYTES):
            item.settle(Outcome.REVISIT, note="same bytes as the last capture: not extracted")
        return item

    def article_failed(self, failure: Failure) -> Capture:
        """A ``failed`` capture for a request that got no usable response (after retries)."""
        request = failure.request
        self._came_back(request)
        response = getattr(failure.value, "response", None)  # HttpError: a status was received
        return Capture.failed(request.meta.get("redirect_urls", [request.url])[0], _describe(failure),
                              status=response.status if isinstance(response, Response) else None,
                              discovered_via=request.meta.get("via", "cli"), hints=request.meta.get("hints"))

    def discovery_failed(self, failure: Failure) -> None:
        """Count and log a sitemap, syndication feed or robots.txt that could not be fetched."""
        self.crawler.stats.inc_value("archive/discovery/failed")
        # For the site health check: the site's discovery read no entries, and why (newscrawler.health).
        domain = registered_domain(failure.request.url)
        self.crawler.stats.inc_value(f"{ENTRIES_STAT}{domain}", 0)
        self.crawler.stats.set_value(f"{UNREADABLE_STAT}{domain}", _describe(failure))
        site = failure.request.meta.get("site")
        logger.warning("%scould not fetch %s: %s", f"site {site.name!r}: " if site else "",
                       failure.request.url, _describe(failure))

    def unfetchable_response(self, response: Response) -> Capture:
        """A ``failed`` capture for a named page over ``ARCHIVE_PAGE_MAXSIZE`` (nothing of it kept)."""
        item = self.parse_article(response)
        item.body = None
        return item.settle(Outcome.FAILED, f"the page is {len(response.body)} bytes, larger than "
                                           f"ARCHIVE_PAGE_MAXSIZE={self._page_max_size}")

    def unfetchable(self, url: str, reason: str) -> Capture:
        """A ``failed`` capture for a user-given URL that cannot even be requested."""
        logger.info("cannot fetch %r: %s", url, reason)  # a failed capture; newscrawler crawl prints it
        self.crawler.stats.inc_value("archive/start/failed")
        self.crawler.stats.inc_value("archive/scheduled")
        return Capture.failed(url, reason)

    def start_failed(self, failure: Failure) -> Capture:
        """A user-given URL that could not be fetched: recorded as a ``failed`` capture."""
        self.crawler.stats.inc_value("archive/start/failed")
        self.crawler.stats.inc_value("archive/scheduled")  # its failed capture is accounted for
        return self.article_failed(failure)

    def _unzipped(self, response: Response) -> bytes | None:
        """The body, gunzipped when it is a gzip file (capped at the request's download_maxsize);
        None when it does not gunzip (corrupt, or a gzip bomb over the cap)."""
        if response.body[:2] != b"\x1f\x8b":
            return response.body
        try:
            return gunzip(response.body, max_size=response.meta.get("download_maxsize", self._max_size))
        except (OSError, EOFError, ValueError, struct.error) as exc:  # max size: a ValueError subclass
            logger.warning("cannot gunzip %s: %s", response.url, exc)
            return None


def _not_what(response: Response, body: bytes | None, what: str) -> str:
    """Why a discovery document was not read at all, in words."""
    if body is None:
        return "a gzip body that does not unpack (corrupt, or over the size limit)"
    if response.status != 200:
        return f"HTTP {response.status}"
    root = sniff_xml(body)
    return f"not {what}: " + (f"its XML root is <{root}>" if root else "no XML root element")


def _header(headers: Any, name: bytes) -> str | None:
    value = headers.get(name)
    return value.decode("latin-1") if value else None


def _describe(failure: Failure) -> str:
    """A failure in words: the exception's class and message, e.g. ``TimeoutError: ...``."""
    from scrapy.spidermiddlewares.httperror import HttpError

    if failure.check(HttpError):
        return f"HTTP {failure.value.response.status}"
    message = str(failure.value) or repr(failure.value)
    return f"{failure.type.__name__}: {message}"
