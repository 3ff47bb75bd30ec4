"""Middlewares that keep a crawl to what an archive may fetch: http(s) URLs, public hosts, robots.txt;
backoff on 429/503; Scrapy's redirects, stopped at the first repeated URL, and meta refresh redirects,
read from a page's head only; conditional re-fetches of archived articles and the same-bytes short cut.

Every request refused here raises :class:`~scrapy.exceptions.IgnoreRequest` from a downloader
middleware, so the request's errback runs and an article URL ends as a ``failed`` capture with the
reason in words, never as a silent drop.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from typing import Any
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware
from scrapy.downloadermiddlewares.redirect import RedirectMiddleware as ScrapyRedirectMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware as ScrapyRobotsTxtMiddleware
from scrapy.exceptions import DownloadCancelledError, IgnoreRequest, NotConfigured, StopDownload
from scrapy.http import HtmlResponse, Request, Response
from scrapy.spidermiddlewares.base import BaseSpiderMiddleware
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred
from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom
from w3lib.url import canonicalize_url

from newscrawler.changes import payload_digest
from newscrawler.store import Archive

logger = logging.getLogger(__name__)

ORIGIN = "archive_origin"
"""Request meta key: the URL named by the user (start request) that this request descends from."""
REFRESH_ELSEWHERE = "archive_refresh_elsewhere"
"""Request meta key: the target URL of a meta refresh to another site, not followed."""
_RECEIVED = "archive_bytes_received"  # request meta key: body bytes received so far


def address_kind(address: str) -> str | None:
    """What kind of non-public IP address ``address`` is (``loopback``, ``private``, ...), or None.

    None for a global (public) address and for anything that is not an IP address. IPv4-mapped
    IPv6 addresses (``::ffff:127.0.0.1``) are judged by their IPv4 address.
    """
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return None
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for kind in ("loopback", "unspecified", "link_local", "multicast", "private", "reserved"):
        if getattr(ip, f"is_{kind}"):
            return kind.replace("_", "-")
    return None if ip.is_global else "non-public"


class TargetGuardMiddleware:
    """Downloader middleware refusing requests an archive must not make.

    Refused, whatever started the crawl: URLs that are not http(s) (``file:``, ``ftp:``, ``data:``,
    ``s3:``: Scrapy would read a local file), URLs carrying credentials (``user:password@host``) and
    URLs longer than ``URLLENGTH_LIMIT``. Refused unless ``ARCHIVE_ALLOW_PRIVATE_ADDRESSES``: a
    loopback, private, link-local or otherwise non-public address (host names are resolved, through
    Scrapy's DNS cache) reached from a crawl that started on a public host, by a sitemap entry, a
    feed link or a redirect; a crawl whose start URL is itself on such an address (an intranet
    site, the tests' 127.0.0.1) may fetch them. Rule after the SSRF guidance of OWASP: a public
    page must not make the crawler read the machine's or its network's private services (cloud
    metadata at 169.254.169.254, admin ports on localhost).

    A download Scrapy cancels at ``DOWNLOAD_MAXSIZE`` (or the request's ``download_maxsize``) while
    reading it fails with the sizes in its message, which Scrapy only logs.

    Stats: ``archive/blocked/<scheme|credentials|url_length|private_address>``.
    """

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.allow_private = crawler.settings.getbool("ARCHIVE_ALLOW_PRIVATE_ADDRESSES")
        self.max_length = crawler.settings.getint("URLLENGTH_LIMIT")
        self.max_size = crawler.settings.getint("DOWNLOAD_MAXSIZE")
        self._kinds: dict[str, str | None] = {}  # host -> address kind (None: public or unknown)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> TargetGuardMiddleware:
        guard = cls(crawler)
        crawler.signals.connect(guard._bytes_received, signal=signals.bytes_received)
        return guard

    async def process_request(self, request: Request) -> None:
        parts = urlparse_cached(request)
        if parts.scheme not in ("http", "https"):
            self._refuse(request, "scheme", f"{parts.scheme or 'no'} scheme: only http(s) URLs "
                                            "are fetched")
        if parts.username is not None or parts.password is not None:
            self._refuse(request, "credentials", "the URL carries credentials (user:password@)")
        if self.max_length and len(request.url) > self.max_length:
            self._refuse(request, "url_length", f"the URL is {len(request.url)} characters long, "
                                                f"over URLLENGTH_LIMIT={self.max_length}")
        origin = request.meta.setdefault(ORIGIN, request.url)
        request.meta[_RECEIVED] = 0  # per attempt: a retry or redirect copies the meta
        if self.allow_private:
            return
        kind = await self._kind(parts.hostname or "")
        if kind is None:
            return
        origin_host = urlsplit(origin).hostname or ""
        if await self._kind(origin_host) is not None:
            return  # the crawl started on a private network: its links may stay there
        self._refuse(request, "private_address",
                     f"{parts.hostname} is a {kind} address, reached from the public host "
                     f"{origin_host} (ARCHIVE_ALLOW_PRIVATE_ADDRESSES=True fetches it)")

    def process_exception(self, request: Request, exception: Exception) -> None:
        """Give a download cancelled at its size limit the reason Scrapy only logs.

        :raises DownloadCancelledError: with the sizes, in place of the bare one.
        """
        if isinstance(exception, DownloadCancelledError) and not str(exception):
            limit = request.meta.get("download_maxsize", self.max_size)
            received = request.meta.get(_RECEIVED, 0)
            if limit and received > limit:
                raise DownloadCancelledError(f"Received {received} bytes which is larger than download "
                                             f"max size ({limit}) in request {request}.") from exception

    def _bytes_received(self, data: bytes, request: Request) -> None:
        request.meta[_RECEIVED] = request.meta.get(_RECEIVED, 0) + len(data)

    async def _kind(self, host: str) -> str | None:
        """The address kind of a host (an IP literal, or a name resolved like Scrapy resolves it)."""
        if host not in self._kinds:
            kind = address_kind(host)
            if kind is None and host and not _is_ip(host):
                from twisted.internet import reactor

                try:
                    kind = address_kind(await maybe_deferred_to_future(reactor.resolve(host)))
                except Exception:  # unresolvable: the fetch itself fails and says so
                    kind = None
            self._kinds[host] = kind
        return self._kinds[host]

    def _refuse(self, request: Request, key: str, reason: str) -> None:
        self.crawler.stats.inc_value(f"archive/blocked/{key}")
        logger.debug("refusing %s: %s", request.url, reason)
        raise IgnoreRequest(f"blocked: {reason}")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False


class OriginMiddleware(BaseSpiderMiddleware):
    """Spider middleware: requests a callback yields inherit their response's ``archive_origin``.

    So :class:`TargetGuardMiddleware` knows which start URL a sitemap entry or feed link came from.
    """

    def get_processed_request(self, request: Request, response: Response | None) -> Request:
        if response is not None and ORIGIN in response.meta:
            request.meta.setdefault(ORIGIN, response.meta[ORIGIN])
        return request


class RobotsTxtMiddleware(ScrapyRobotsTxtMiddleware):
    """Scrapy's robots.txt middleware with the status and size rules of RFC 9309 (sections 2.3.1, 2.5).

    A robots.txt answered with 4xx allows everything (Scrapy would parse the error page as rules);
    one answered with 5xx (after retries) disallows everything for this crawl, and the refused
    requests say why; only the first ``ARCHIVE_ROBOTSTXT_MAXSIZE`` bytes are read (RFC 9309 asks
    crawlers to parse at least 500 KiB) and obeyed up to their last whole line, so a huge
    robots.txt costs neither the download nor a parser slowed down by millions of rules. Network
    errors keep Scrapy's rule (allow all): the article fetch then fails with its own error.

    A robots.txt that cannot be downloaded at all is logged at DEBUG only (Scrapy logs it at ERROR
    with a traceback): the request it was fetched for fails the same way and says so itself.

    Stats: ``robotstxt/unreachable`` (5xx), ``robotstxt/truncated``.
    """

    def __init__(self, crawler: Crawler):
        super().__init__(crawler)
        robots_logger = logging.getLogger(ScrapyRobotsTxtMiddleware.__module__)
        if not any(isinstance(f, _DemoteFetchErrors) for f in robots_logger.filters):
            robots_logger.addFilter(_DemoteFetchErrors())
        self.max_size = crawler.settings.getint("ARCHIVE_ROBOTSTXT_MAXSIZE")
        self._unreachable: dict[str, str] = {}  # netloc -> why its robots.txt disallows everything
        crawler.signals.connect(self._bytes_received, signal=signals.bytes_received)

    def _bytes_received(self, data: bytes, request: Request) -> None:
        """Stop reading a robots.txt past the size limit; the response keeps what came so far."""
        if self.max_size and _is_robots_request(request):
            received = request.meta.get("_robotstxt_bytes", 0) + len(data)
            request.meta["_robotstxt_bytes"] = received
            if received > self.max_size:
                raise StopDownload(fail=False)

    def process_response(self, request: Request, response: Response) -> Response:
        """Rewrite the body of a robots.txt response into the rules RFC 9309 gives it."""
        if not _is_robots_request(request):
            return response
        if response.status >= 500:
            netloc = urlparse_cached(request).netloc
            self._unreachable[netloc] = f"robots.txt answered HTTP {response.status}"
            self._stats.inc_value("robotstxt/unreachable")
            logger.warning("%s answered HTTP %d: nothing on %s is fetched in this crawl "
                           "(RFC 9309: a server error means complete disallow)",
                           response.url, response.status, netloc)
            return response.replace(body=b"User-agent: *\nDisallow: /\n")
        if response.status >= 400:
            return response.replace(body=b"")
        if "download_stopped" in response.flags or (self.max_size and
                                                    len(response.body) > self.max_size):
            self._stats.inc_value("robotstxt/truncated")
            logger.warning("%s is larger than ARCHIVE_ROBOTSTXT_MAXSIZE=%d bytes: only its "
                           "beginning is obeyed", response.url, self.max_size)
            body = response.body[:self.max_size]
            return response.replace(body=body[:body.rfind(b"\n") + 1])
        return response

    async def robot_parser(self, request: Request) -> Any:
        """The parsed robots.txt of the request's site (None: allow all), for every waiting request.

        Scrapy (2.13+, since scrapy/scrapy#6802) has the requests that arrive while the robots.txt
        is being fetched await its Deferred through ``maybe_deferred_to_future``, whose callback
        returns None: only the first of them gets the parser, every other one gets None and is let
        through, whatever the rules say (case C24 of ../shared/cases, crawled with several URLs).
        The parser is read back from ``_parsers`` once the Deferred has fired.
        """
        parser = await super().robot_parser(request)
        stored = self._parsers.get(urlparse_cached(request).netloc)
        return parser if parser is not None or isinstance(stored, Deferred) else stored

    def process_request_2(self, rp: Any, request: Request, *args: Any) -> None:
        if urlparse_cached(request).path == "/robots.txt":
            return  # RFC 9309 section 2.2.2: "The /robots.txt URI is implicitly allowed."
        try:
            super().process_request_2(rp, request, *args)
        except IgnoreRequest:
            reason = self._unreachable.get(urlparse_cached(request).netloc)
            if reason is None:
                raise
            raise IgnoreRequest(f"{reason}: RFC 9309 says assume complete disallow") from None


class _DemoteFetchErrors(logging.Filter):
    """Logs Scrapy's robots.txt download errors (``Error downloading ...`` and a 50-line
    traceback, at ERROR) at DEBUG: the site's own requests then fail with their own error, which
    their errback records or reports in one line, so an unreachable site says so once."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR and str(record.msg).startswith("Error downloading"):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


def _is_robots_request(request: Request) -> bool:
    """Whether ``request`` is the robots.txt fetch of the robots.txt middleware."""
    return bool(request.meta.get("dont_obey_robotstxt")) and \
        urlparse_cached(request).path == "/robots.txt"


_BACKING_OFF = "archive_backing_off"  # request meta: the site's delay was raised for this retry


class BackoffMiddleware:
    """Slows a site down when it says so: honours Retry-After and backs off exponentially, for as
    long as a request it was raised for still has a retry to come.

    A response whose status is in ``RETRY_HTTP_CODES`` (429, 503, ...) and that Scrapy's
    RetryMiddleware will retry sets the delay of its download slot (the site) before the retry is
    scheduled: the ``Retry-After`` header (seconds, or an HTTP date, RFC 9110 section 10.2.3) when
    given, else ``ARCHIVE_BACKOFF_BASE`` seconds doubled for each retry already made; never more
    than ``ARCHIVE_BACKOFF_MAX`` seconds. The retry carries a mark; when it is answered (any
    answer: a page, a redirect, an error, the last retryable status once retries are used up) the
    mark is settled, and the slot's own delay comes back once no marked retry of the site is left.
    So a URL whose retries gave up, or one that redirects, holds nothing up afterwards. Sees every
    answer before RedirectMiddleware (600) and RetryMiddleware (550) act on it.

    Stats: ``archive/backoff/count``, ``archive/backoff/max_seconds``.
    """

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        settings = crawler.settings
        self.codes = {int(code) for code in settings.getlist("RETRY_HTTP_CODES")}
        self.retrying = settings.getbool("RETRY_ENABLED")
        self.max_retry_times = settings.getint("RETRY_TIMES")
        self.base = settings.getfloat("ARCHIVE_BACKOFF_BASE", 2.0)
        self.cap = settings.getfloat("ARCHIVE_BACKOFF_MAX", 120.0)
        self._normal: dict[str, tuple[float, Any]] = {}  # slot key -> (delay, jitter) before backing off
        self._pending: dict[str, int] = {}  # slot key -> marked retries not answered yet

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BackoffMiddleware:
        return cls(crawler)

    def process_response(self, request: Request, response: Response) -> Response:
        downloader = self.crawler.engine.downloader
        key = downloader.get_slot_key(request)
        slot = downloader.slots.get(key)
        if slot is None:
            return response
        self._settle(request, key, slot)
        if response.status not in self.codes or not self._will_retry(request):
            return response
        delay = retry_after_seconds(response.headers.get(b"Retry-After"))
        if delay is None:
            delay = self.base * 2 ** request.meta.get("retry_times", 0)
        delay = min(delay, self.cap)
        self._normal.setdefault(key, (slot.delay, getattr(slot, _jitter_attribute(slot))))
        slot.delay = max(slot.delay, delay)
        setattr(slot, _jitter_attribute(slot), 0)  # RANDOMIZE_DOWNLOAD_DELAY would wait as little as half
        request.meta[_BACKING_OFF] = True  # RetryMiddleware copies it into the retry
        self._pending[key] = self._pending.get(key, 0) + 1
        stats = self.crawler.stats
        stats.inc_value("archive/backoff/count")
        stats.max_value("archive/backoff/max_seconds", delay)
        logger.info("HTTP %s from %s: waiting %.1f s between requests to %s", response.status, request.url,
                    delay, key)
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        """A marked retry that ended in an error (timeout, reset) is settled too."""
        downloader = self.crawler.engine.downloader
        key = downloader.get_slot_key(request)
        slot = downloader.slots.get(key)
        if slot is not None:
            self._settle(request, key, slot)

    def _will_retry(self, request: Request) -> bool:
        """Whether RetryMiddleware retries this request on a retryable status (its rule and meta keys)."""
        if not self.retrying or request.meta.get("dont_retry"):
            return False
        limit = request.meta.get("max_retry_times", self.max_retry_times)
        return request.meta.get("retry_times", 0) < limit

    def _settle(self, request: Request, key: str, slot: Any) -> None:
        """A marked retry was answered: give the slot its own delay back when it was the last one."""
        if not request.meta.pop(_BACKING_OFF, False):
            return
        self._pending[key] = self._pending.get(key, 1) - 1
        if self._pending[key] > 0:
            return
        del self._pending[key]
        if key in self._normal:
            slot.delay, jitter = self._normal.pop(key)
            setattr(slot, _jitter_attribute(slot), jitter)
            logger.debug("%s: back to %.1f s between requests", key, slot.delay)


def _jitter_attribute(slot: Any) -> str:
    """The download slot's delay-randomisation attribute: ``jitter`` (Scrapy >= 2.14) or the older name."""
    return "jitter" if hasattr(slot, "jitter") else "randomize_delay"


def retry_after_seconds(value: bytes | None) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP date; None if absent or bad."""
    if not value:
        return None
    text = value.decode("latin-1").strip()
    if text.isdigit():
        return float(text)
    import datetime as dt
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


class StopRedirectLoops:
    """Mixin for Scrapy's redirect middlewares (``BaseRedirectMiddleware._redirect``): a redirect
    to a URL already visited in the same chain ends the chain there, instead of following the
    loop until ``REDIRECT_MAX_TIMES`` (20) is used up.

    URLs are compared after :func:`w3lib.url.canonicalize_url` (query arguments sorted, fragment
    dropped). The request fails with :class:`~scrapy.exceptions.IgnoreRequest` saying which URL
    came back, so an article URL ends as a ``failed`` capture with the loop in its error.
    Stats: ``archive/redirect/loop``.
    """

    def _redirect(self, redirected: Request, request: Request, *args: Any, **kwargs: Any) -> Request:
        chain = [*request.meta.get("redirect_urls", []), request.url]
        seen = {canonicalize_url(url) for url in chain}
        if canonicalize_url(redirected.url) in seen:
            self.crawler.stats.inc_value("archive/redirect/loop")
            hops = len(chain)
            logger.debug("redirect loop: %s redirects back to %s", request.url, redirected.url)
            raise IgnoreRequest(f"redirect loop: {request.url} redirects to {redirected.url}, already "
                                f"visited (after {hops} {'hop' if hops == 1 else 'hops'})")
        return super()._redirect(redirected, request, *args, **kwargs)  # type: ignore[misc]


class RedirectMiddleware(StopRedirectLoops, ScrapyRedirectMiddleware):
    """Scrapy's RedirectMiddleware (3xx ``Location``), stopped at the first repeated URL
    (:class:`StopRedirectLoops`)."""


class HeadMetaRefreshMiddleware(StopRedirectLoops, MetaRefreshMiddleware):
    """Scrapy's MetaRefreshMiddleware, shown only the first HEAD_BYTES of a page whose charset is declared.

    Scrapy looks for ``<meta http-equiv="refresh">`` (and ``<base href>``) in the first 4,096
    characters of a page, but gets them from ``response.text``: the whole page decoded and kept
    with the response, 0.3-0.6 ms and the page's size again in memory for every article, when the
    pipelines decode it anyway (:func:`newscrawler.charsets.decode_html`). When the page declares
    its charset (byte-order mark, Content-Type header, or ``<meta>`` in its first 4,096 bytes: what
    Scrapy itself reads before guessing), its first HEAD_BYTES decode to the same first 4,096
    characters in the same encoding, so the redirects followed are Scrapy's. A page that declares
    none goes to Scrapy whole: Scrapy guesses its encoding from all of its bytes, and a head could
    be guessed otherwise. Settings as Scrapy's: ``METAREFRESH_ENABLED``,
    ``METAREFRESH_IGNORE_TAGS``, ``METAREFRESH_MAXDELAY`` (seconds).
    """

    #: Bytes of a page shown: 4,096 characters (Scrapy's window) of up to 8 bytes each, room for a
    #: byte-order mark, UTF-32 and ISO-2022-JP's shift sequences.
    HEAD_BYTES = 32 * 1024

    def process_response(self, request: Request, response: Response) -> Request | Response:
        """Follow a page's meta refresh within its site; a refresh to another site is not followed.

        The page that carries a refresh to another registered domain
        (:func:`newscrawler.urls.registered_domain`) is itself the capture, its request meta
        :data:`REFRESH_ELSEWHERE` set to the refresh's target URL (the spider writes it in the
        capture's note): a page must not be able to make the archive store another site's page under
        its URL, nor make a crawl leave its site (case C28 of ../shared/cases). Stats:
        ``archive/meta_refresh/followed``, ``archive/meta_refresh/other_site``.
        """
        if (not isinstance(response, HtmlResponse) or len(response.body) <= self.HEAD_BYTES
                or not _declared_charset(response)):
            return self._same_site(request, response, super().process_response(request, response))
        # The head keeps the page's headers, URL and (declared, so read without decoding) encoding.
        head = response.replace(cls=HtmlResponse, body=response.body[:self.HEAD_BYTES])
        result = super().process_response(request, head)
        return response if result is head else self._same_site(request, response, result)

    def _same_site(self, request: Request, response: Response, result: Request | Response) -> Request | Response:
        if not isinstance(result, Request):
            return result
        from newscrawler.urls import registered_domain

        if registered_domain(result.url) == registered_domain(response.url):
            self.crawler.stats.inc_value("archive/meta_refresh/followed")
            return result
        self.crawler.stats.inc_value("archive/meta_refresh/other_site")
        logger.info("%s refreshes to another site, %s: not followed, the page itself is archived",
                    response.url, result.url)
        request.meta[REFRESH_ELSEWHERE] = result.url
        return response


def _declared_charset(response: Response) -> str | None:
    """The charset a response declares, in the order Scrapy's TextResponse reads them; None if none."""
    content_type = (response.headers.get(b"Content-Type") or b"").decode("latin-1")
    return (read_bom(response.body)[0] or http_content_type_encoding(content_type)
            or html_body_declared_encoding(response.body))


CONDITIONAL = "archive_conditional"
"""Request meta key: True to send the validators (ETag, Last-Modified) of the URL's last capture."""
COMPARE = "archive_compare"
"""Request meta key: True to compare a 200 body with the URL's last capture (the same-bytes short cut)."""
SAME_BYTES = "archive_same_bytes"
"""Response meta key, set by :class:`ConditionalRequestMiddleware`: the body is byte for byte the
last capture of the article's current version, so it need not be extracted."""
_UNARCHIVED = "archive_unarchived"  # request meta: no capture when requested; no short cut looked up


class ConditionalRequestMiddleware:
    """Conditional re-fetches of archived articles, and the same-bytes short cut, against ``ARCHIVE_DB``.

    The shape of Scrapy's ``RFC2616Policy._set_conditional_validators`` (``extensions/httpcache.py``),
    with the archive as the cache. A request whose meta has :data:`CONDITIONAL` gets
    ``If-None-Match`` and ``If-Modified-Since`` from the last 200 capture of its article's current
    version (:meth:`newscrawler.store.Archive.last_fetch`, looked up by the URL first requested,
    before redirects); headers already set are kept. A 200 response to a request whose meta has
    :data:`COMPARE` is compared with that capture's payload digest (SHA-256 of the body): when they
    are equal, ``response.meta[SAME_BYTES]`` is True and the spider records a revisit without
    extraction. A URL with no capture when it was requested is never short-cut (an article
    archived meanwhile from another URL is still compared, by extraction). The archive is opened
    read-only once it exists (the storage pipeline creates it). Stats:
    ``archive/conditional/sent``, ``archive/shortcut/same_bytes``.

    :raises NotConfigured: when ``ARCHIVE_DB`` is not set.
    """

    def __init__(self, crawler: Crawler, path: str):
        self.stats = crawler.stats
        self.path = path
        self._archive: Archive | None = None
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ConditionalRequestMiddleware:
        path = crawler.settings.get("ARCHIVE_DB")
        if not path:
            raise NotConfigured("ARCHIVE_DB must be set")
        return cls(crawler, path)

    @property
    def archive(self) -> Archive | None:
        """The archive, read-only, once it exists (else None)."""
        if self._archive is None and os.path.exists(self.path):
            self._archive = Archive.open(self.path, readonly=True)
        return self._archive

    def _last_fetch(self, request: Request) -> dict[str, Any] | None:
        archive = self.archive
        return None if archive is None else archive.last_fetch(request.meta.get("redirect_urls", [request.url])[0])

    def process_request(self, request: Request) -> None:
        if not (request.meta.get(CONDITIONAL) or request.meta.get(COMPARE)) or request.meta.get(_UNARCHIVED):
            return
        if "redirect_urls" in request.meta:  # a redirect carries its first request's validators
            return
        last = self._last_fetch(request)
        if last is None:
            request.meta[_UNARCHIVED] = True
            return
        if request.meta.get(CONDITIONAL):
            sent = False
            for header, field in ((b"If-None-Match", "etag"), (b"If-Modified-Since", "last_modified")):
                if last[field] and header not in request.headers:
                    request.headers[header] = last[field]
                    sent = True
            if sent:
                self.stats.inc_value("archive/conditional/sent")

    def process_response(self, request: Request, response: Response) -> Response:
        if response.status == 200 and request.meta.get(COMPARE) and not request.meta.get(_UNARCHIVED):
            last = self._last_fetch(request)
            if last is not None and last["payload_digest"] == payload_digest(response.body):
                request.meta[SAME_BYTES] = True  # the response's meta, once Scrapy ties them
                self.stats.inc_value("archive/shortcut/same_bytes")
        return response

    def spider_closed(self) -> None:
        if self._archive is not None:
            self._archive.close()
            self._archive = None
EXCHANGE = "archive_exchange"
"""Request meta key: the HTTP exchange as it went over the wire (:class:`ExchangeMiddleware`)."""

#: Request headers whose values are never kept (credentials): their names are kept, the value
#: becomes ``***``, as credentials in URLs are (:func:`newscrawler.store.redact_url`).
REDACTED_REQUEST_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


def _header_pairs(headers: Any) -> list[list[str]]:
    """Scrapy or Twisted headers as ``[[name, value], ...]`` (latin-1 text), each name's values in
    the order received, names in the order first seen (all Scrapy and Twisted keep)."""
    pairs = []
    for name, values in headers.items():
        name = name.decode("latin-1") if isinstance(name, bytes) else str(name)
        for value in values if isinstance(values, list) else [values]:
            pairs.append([name, value.decode("latin-1") if isinstance(value, bytes) else str(value)])
    return pairs


class ExchangeMiddleware:
    """Keeps what a WARC record of the fetch needs, as it went over the wire (``request.meta[EXCHANGE]``).

    Placed next to the download handler (``DOWNLOADER_MIDDLEWARES`` 950, above HttpCache 900,
    HttpCompression 590 and Redirect 600), so ``process_response`` sees each hop's response as
    received, before Scrapy undoes its Content-Encoding (and drops that header), and its request
    with every header the other middlewares set. ``request.meta[EXCHANGE]`` becomes::

        {"protocol": "HTTP/1.1", "peer_ip": "127.0.0.1" or None,
         "response_headers": [[name, value], ...], "request_method": "GET",
         "request_headers": [[name, value], ...]}

    Header names come as Scrapy normalises them (``Content-Type``), each name's values in the order
    received, names in the order first seen: Twisted keeps no finer order. The Host header Twisted's
    agent adds is listed when the request had none; credentials are redacted
    (:data:`REDACTED_REQUEST_HEADERS`). Scrapy gives no reason phrase: a WARC export writes the
    standard one (:class:`http.HTTPStatus`). The peer IP is ``response.ip_address`` (None from the
    HTTP cache or a handler that does not set it).
    """

    def process_response(self, request: Request, response: Response) -> Response:
        request_headers = _header_pairs(request.headers)
        if not any(name.lower() == "host" for name, _ in request_headers):
            request_headers.insert(0, ["Host", urlparse_cached(request).netloc])
        for pair in request_headers:
            if pair[0].lower() in REDACTED_REQUEST_HEADERS:
                pair[1] = "***"
        ip = getattr(response, "ip_address", None)
        request.meta[EXCHANGE] = {
            "protocol": getattr(response, "protocol", None) or None,
            "peer_ip": str(ip) if ip is not None else None,
            "response_headers": _header_pairs(response.headers),
            "request_method": request.method,
            "request_headers": request_headers,
        }
        return response


def exchange_of(response: Response) -> dict[str, Any] | None:
    """The exchange :class:`ExchangeMiddleware` kept for ``response``, completed with what the
    stored payload is: ``payload_decoded`` (True when Scrapy undid a Content-Encoding, so the body
    is not the bytes received) and ``payload_encoding`` (the Content-Encoding the body still has,
    e.g. one Scrapy cannot undo; None for none). None without the middleware."""
    exchange = response.meta.get(EXCHANGE) if response.request is not None else None
    if exchange is None:
        return None
    received = _codings(v for n, v in exchange["response_headers"] if n.lower() == "content-encoding")
    remaining = _codings(v.decode("latin-1") for v in response.headers.getlist("Content-Encoding"))
    return {**exchange, "payload_decoded": bool(received) and received != remaining,
            "payload_encoding": ", ".join(remaining) or None}


def _codings(values: Any) -> list[str]:
    """Content-Encoding header values as a list of codings, lower case, ``identity`` left out."""
    return [c for value in values for c in (part.strip().lower() for part in value.split(",")) if c and c != "identity"]
