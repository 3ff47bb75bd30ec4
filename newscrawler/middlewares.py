"""Middlewares that keep a crawl to what an archive may fetch: http(s) URLs, public hosts, robots.txt;
backoff on 429/503; Scrapy's meta refresh redirects, read from a page's head only.

Every request refused here raises :class:`~scrapy.exceptions.IgnoreRequest` from a downloader
middleware, so the request's errback runs and an article URL ends as a ``failed`` capture with the
reason in words, never as a silent drop.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware as ScrapyRobotsTxtMiddleware
from scrapy.exceptions import DownloadCancelledError, IgnoreRequest, StopDownload
from scrapy.http import HtmlResponse, Request, Response
from scrapy.spidermiddlewares.base import BaseSpiderMiddleware
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom

logger = logging.getLogger(__name__)

ORIGIN = "archive_origin"
"""Request meta key: the URL named by the user (start request) that this request descends from."""
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

    Stats: ``robotstxt/unreachable`` (5xx), ``robotstxt/truncated``.
    """

    def __init__(self, crawler: Crawler):
        super().__init__(crawler)
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

    def process_request_2(self, rp: Any, request: Request, *args: Any) -> None:
        try:
            super().process_request_2(rp, request, *args)
        except IgnoreRequest:
            reason = self._unreachable.get(urlparse_cached(request).netloc)
            if reason is None:
                raise
            raise IgnoreRequest(f"{reason}: RFC 9309 says assume complete disallow") from None


def _is_robots_request(request: Request) -> bool:
    """Whether ``request`` is the robots.txt fetch of the robots.txt middleware."""
    return bool(request.meta.get("dont_obey_robotstxt")) and \
        urlparse_cached(request).path == "/robots.txt"


class BackoffMiddleware:
    """Slows a site down when it says so: honours Retry-After and backs off exponentially.

    A response whose status is in ``RETRY_HTTP_CODES`` (429, 503, ...) sets the delay of its
    download slot (the site) before Scrapy's RetryMiddleware schedules the retry: the
    ``Retry-After`` header (seconds, or an HTTP date, RFC 9110 section 10.2.3) when given, else
    ``ARCHIVE_BACKOFF_BASE`` seconds doubled for each retry already made; never more than
    ``ARCHIVE_BACKOFF_MAX`` seconds. The slot's own delay comes back with its next answer that is
    not retried. Stats: ``archive/backoff/count``, ``archive/backoff/max_seconds``.
    """

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        settings = crawler.settings
        self.codes = {int(code) for code in settings.getlist("RETRY_HTTP_CODES")}
        self.base = settings.getfloat("ARCHIVE_BACKOFF_BASE", 2.0)
        self.cap = settings.getfloat("ARCHIVE_BACKOFF_MAX", 120.0)
        self._normal: dict[str, tuple[float, Any]] = {}  # slot key -> (delay, jitter) before backing off

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BackoffMiddleware:
        return cls(crawler)

    def process_response(self, request: Request, response: Response) -> Response:
        downloader = self.crawler.engine.downloader
        key = downloader.get_slot_key(request)
        slot = downloader.slots.get(key)
        if slot is None:
            return response
        if response.status not in self.codes:
            if key in self._normal:
                slot.delay, jitter = self._normal.pop(key)
                setattr(slot, _jitter_attribute(slot), jitter)
            return response
        delay = retry_after_seconds(response.headers.get(b"Retry-After"))
        if delay is None:
            delay = self.base * 2 ** request.meta.get("retry_times", 0)
        delay = min(delay, self.cap)
        self._normal.setdefault(key, (slot.delay, getattr(slot, _jitter_attribute(slot))))
        slot.delay = max(slot.delay, delay)
        setattr(slot, _jitter_attribute(slot), 0)  # RANDOMIZE_DOWNLOAD_DELAY would wait as little as half
        stats = self.crawler.stats
        stats.inc_value("archive/backoff/count")
        stats.max_value("archive/backoff/max_seconds", delay)
        logger.info("HTTP %s from %s: waiting %.1f s between requests to %s", response.status, request.url,
                    delay, key)
        return response


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


class HeadMetaRefreshMiddleware(MetaRefreshMiddleware):
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
        if (not isinstance(response, HtmlResponse) or len(response.body) <= self.HEAD_BYTES
                or not _declared_charset(response)):
            return super().process_response(request, response)
        # The head keeps the page's headers, URL and (declared, so read without decoding) encoding.
        head = response.replace(cls=HtmlResponse, body=response.body[:self.HEAD_BYTES])
        result = super().process_response(request, head)
        return response if result is head else result


def _declared_charset(response: Response) -> str | None:
    """The charset a response declares, in the order Scrapy's TextResponse reads them; None if none."""
    content_type = (response.headers.get(b"Content-Type") or b"").decode("latin-1")
    return (read_bom(response.body)[0] or http_content_type_encoding(content_type)
            or html_body_declared_encoding(response.body))


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
