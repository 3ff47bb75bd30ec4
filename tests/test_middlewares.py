"""The middlewares one at a time: which requests the guard refuses, what the robots.txt rules become.

Full crawls through them are in ``test_hostile.py``; here each rule meets its edge cases.
"""

from __future__ import annotations

import asyncio

import pytest
from scrapy import Request
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware
from scrapy.exceptions import DownloadCancelledError, IgnoreRequest
from scrapy.http import HtmlResponse, Response, TextResponse
from scrapy.utils.test import get_crawler

from newscrawler import settings as project_settings
from newscrawler.middlewares import (
    ORIGIN,
    HeadMetaRefreshMiddleware,
    OriginMiddleware,
    RobotsTxtMiddleware,
    TargetGuardMiddleware,
    address_kind,
)

PUBLIC = "http://93.184.215.14/sitemap.xml"  # a global address: the crawl started on a public site


def crawler(**settings):
    names = ("URLLENGTH_LIMIT", "DOWNLOAD_MAXSIZE", "ARCHIVE_ALLOW_PRIVATE_ADDRESSES", "ARCHIVE_ROBOTSTXT_MAXSIZE",
             "ROBOTSTXT_OBEY")
    base = {name: getattr(project_settings, name) for name in names if hasattr(project_settings, name)}
    return get_crawler(settings_dict={"URLLENGTH_LIMIT": 2083, **base, **settings})


def guard_verdict(url: str, origin: str | None = PUBLIC, **settings) -> str | None:
    """The guard's refusal of a request for ``url`` (None when it lets it through)."""
    guard = TargetGuardMiddleware.from_crawler(crawler(**settings))
    request = Request(url, meta={ORIGIN: origin} if origin else {})
    try:
        asyncio.run(guard.process_request(request))
    except IgnoreRequest as exc:
        return str(exc)
    return None


@pytest.mark.parametrize(("address", "kind"), [
    ("127.0.0.1", "loopback"), ("127.9.9.9", "loopback"), ("::1", "loopback"), ("[::1]", "loopback"),
    ("::ffff:127.0.0.1", "loopback"), ("10.0.0.1", "private"), ("172.16.5.4", "private"),
    ("192.168.1.1", "private"), ("fd00::1", "private"), ("169.254.169.254", "link-local"),
    ("fe80::1", "link-local"), ("0.0.0.0", "unspecified"), ("224.0.0.1", "multicast"),
    ("100.64.0.1", "non-public"), ("93.184.215.14", None), ("2a00:1450:4001:82a::200e", None),
    ("example.com", None), ("", None),
])
def test_address_kinds(address, kind):
    assert address_kind(address) == kind


@pytest.mark.parametrize(("url", "refusal"), [
    ("http://127.0.0.1:8080/admin", "127.0.0.1 is a loopback address, reached from the public host 93.184.215.14"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
    ("http://[::ffff:10.0.0.7]/", "::ffff:10.0.0.7 is a private address"),
    ("http://93.184.215.15/story.html", None),
])
def test_private_targets_from_a_public_start_are_refused(url, refusal):
    verdict = guard_verdict(url)
    assert verdict is None if refusal is None else verdict.startswith(f"blocked: {refusal}")


def test_the_setting_allows_private_targets_and_a_private_start_may_link_anywhere():
    assert guard_verdict("http://127.0.0.1:8080/x", ARCHIVE_ALLOW_PRIVATE_ADDRESSES=True) is None
    assert guard_verdict("http://10.0.0.1/x", origin="http://10.0.0.9/sitemap.xml") is None
    assert guard_verdict("http://10.0.0.1/x", origin=None) is None  # named by the user: its own origin


@pytest.mark.parametrize(("url", "refusal"), [
    ("file:///etc/passwd", "blocked: file scheme: only http(s) URLs are fetched"),
    ("ftp://example.com/a.html", "blocked: ftp scheme: only http(s) URLs are fetched"),
    ("data:text/html,<p>hi</p>", "blocked: data scheme: only http(s) URLs are fetched"),
    ("http://user:pw@93.184.215.15/a.html", "blocked: the URL carries credentials (user:password@)"),
    ("http://user@93.184.215.15/a.html", "blocked: the URL carries credentials (user:password@)"),
    ("http://93.184.215.15/?q=" + "x" * 2100,
     "blocked: the URL is 2124 characters long, over URLLENGTH_LIMIT=2083"),
])
def test_refused_whatever_the_origin(url, refusal):
    assert guard_verdict(url, origin=None, ARCHIVE_ALLOW_PRIVATE_ADDRESSES=True) == refusal


def test_a_download_cancelled_at_its_size_limit_says_so():
    guard = TargetGuardMiddleware.from_crawler(crawler(DOWNLOAD_MAXSIZE=1000))
    request = Request("http://93.184.215.15/big.html", meta={"download_maxsize": 500})
    asyncio.run(guard.process_request(request))
    for _ in range(3):
        guard._bytes_received(b"x" * 200, request)
    with pytest.raises(DownloadCancelledError, match=r"^Received 600 bytes which is larger than download max "
                                                     r"size \(500\) in request <GET http"):
        guard.process_exception(request, DownloadCancelledError())
    assert guard.process_exception(request, DownloadCancelledError("shutdown")) is None  # has a reason


def test_requests_inherit_the_origin_of_the_page_that_linked_them():
    origin = OriginMiddleware(crawler())
    sitemap = Response("http://93.184.215.14/sitemap.xml", request=Request(PUBLIC, meta={ORIGIN: PUBLIC}))
    child = origin.get_processed_request(Request("http://10.0.0.1/a.html"), sitemap)
    assert child.meta[ORIGIN] == PUBLIC
    assert ORIGIN not in origin.get_processed_request(Request("http://x.example/"), None).meta  # a start request


def robots_rewrite(status: int, body: bytes, flags: list[str] | None = None, max_size: int = 500 * 1024):
    middleware = RobotsTxtMiddleware(crawler(ROBOTSTXT_OBEY=True, ARCHIVE_ROBOTSTXT_MAXSIZE=max_size))
    request = Request("http://93.184.215.14/robots.txt", meta={"dont_obey_robotstxt": True})
    response = TextResponse(request.url, status=status, body=body, request=request, flags=flags or [])
    return middleware, middleware.process_response(request, response).body


def test_robots_txt_5xx_becomes_disallow_all_4xx_allow_all():
    middleware, body = robots_rewrite(503, b"<h1>Service Unavailable</h1>")
    assert body == b"User-agent: *\nDisallow: /\n"
    assert middleware._unreachable == {"93.184.215.14": "robots.txt answered HTTP 503"}
    assert robots_rewrite(404, b"User-agent: *\nDisallow: /\n")[1] == b""  # an error page is no rules
    assert robots_rewrite(200, b"User-agent: *\nDisallow: /x\n")[1] == b"User-agent: *\nDisallow: /x\n"


def test_robots_txt_over_the_limit_is_cut_at_its_last_whole_line():
    body = b"User-agent: *\nDisallow: /private/\nDisallow: /news/"
    assert robots_rewrite(200, body, flags=["download_stopped"], max_size=1000)[1] == \
        b"User-agent: *\nDisallow: /private/\n"  # the cut rule is dropped, not read as "/news/"
    assert robots_rewrite(200, body, max_size=40)[1] == b"User-agent: *\nDisallow: /private/\n"


def test_other_responses_pass_the_robots_middleware_untouched():
    middleware = RobotsTxtMiddleware(crawler(ROBOTSTXT_OBEY=True))
    request = Request("http://93.184.215.14/robots.txt")  # the spider's own fetch, for Sitemap: lines
    response = TextResponse(request.url, status=503, body=b"down", request=request)
    assert middleware.process_response(request, response) is response


# -- meta refresh ------------------------------------------------------------------------------------

REFRESH = '<meta http-equiv="refresh" content="0;url=/caf\u00e9">'
LONG = HeadMetaRefreshMiddleware.HEAD_BYTES + 1000
# (page bytes, Content-Type): long pages (over HEAD_BYTES) and short ones, declared and not.
E_ACUTE, CJK = "\u00e9", "\u6587"
REFRESH_PAGES = {
    "utf-8 declared in <meta>": (
        ('<html><head><meta charset="utf-8">' + REFRESH + "</head><body>" + E_ACUTE * LONG).encode(), "text/html"),
    "utf-8 declared in the header": (
        ("<html><head>" + REFRESH + "</head><body>" + CJK * LONG).encode(), "text/html; charset=utf-8"),
    "cp1252 declared": (
        ('<html><head><meta charset="windows-1252">' + REFRESH + "</head><body>").encode("cp1252") + b"\xe9" * LONG,
        "text/html"),
    "utf-16 with a byte-order mark, tag ending at character 4096": (
        ("<html><head>" + " " * (4096 - 12 - len(REFRESH)) + REFRESH).encode("utf-16") + " ".encode("utf-16-le") * LONG,
        "text/html"),
    "utf-32 with a byte-order mark, tag ending at character 4096": (
        ("<html><head>" + " " * (4096 - 12 - len(REFRESH)) + REFRESH).encode("utf-32") + " ".encode("utf-32-le") * LONG,
        "text/html"),
    # Undeclared: Scrapy guesses from all the bytes, and a head alone could be guessed otherwise.
    "utf-8 undeclared, a character cut at HEAD_BYTES": (
        ("<html><head>" + REFRESH + "</head><body>" + E_ACUTE * LONG).encode(), "text/html"),
    "utf-8 undeclared, CJK title before the tag": (
        ("<html><head><title>" + CJK * 1500 + "</title>" + REFRESH + "</head><body>" + CJK * LONG).encode(),
        "text/html"),
    "undeclared, a cp1252 byte past HEAD_BYTES": (
        ("<html><head>" + REFRESH + "</head><body>").encode() + b"a" * LONG + b"caf\xe9", "text/html"),
    "short, undeclared": (("<html><head>" + REFRESH + "</head><body>caf" + E_ACUTE).encode(), "text/html"),
}


def refresh_outcome(middleware, body: bytes, content_type: str, response_class=HtmlResponse) -> str:
    """Where a middleware sends a request for ``body``: the redirect's URL, or "no redirect"."""
    request = Request("http://example.com/a/")
    response = response_class(request.url, headers={"Content-Type": content_type}, body=body, request=request)
    result = middleware.process_response(request, response)
    return result.url if isinstance(result, Request) else "no redirect"


class _WholeTextForbidden(HtmlResponse):
    @property
    def text(self) -> str:
        raise AssertionError("the whole page was decoded")


@pytest.mark.parametrize("case", list(REFRESH_PAGES))
def test_head_meta_refresh_follows_what_scrapys_middleware_follows(case):
    body, content_type = REFRESH_PAGES[case]
    stock = MetaRefreshMiddleware.from_crawler(crawler())
    head = HeadMetaRefreshMiddleware.from_crawler(crawler())
    expected = refresh_outcome(stock, body, content_type)
    assert expected != "no redirect" or case.startswith("utf-8 undeclared, CJK")  # each case is a redirect page
    assert refresh_outcome(head, body, content_type) == expected


def test_head_meta_refresh_decodes_only_the_head_of_a_declared_page():
    body, content_type = REFRESH_PAGES["utf-8 declared in <meta>"]
    head = HeadMetaRefreshMiddleware.from_crawler(crawler())
    assert refresh_outcome(head, body, content_type, _WholeTextForbidden) == "http://example.com/caf%C3%A9"
    body, content_type = REFRESH_PAGES["utf-8 undeclared, a character cut at HEAD_BYTES"]
    with pytest.raises(AssertionError, match="whole page was decoded"):
        refresh_outcome(head, body, content_type, _WholeTextForbidden)
