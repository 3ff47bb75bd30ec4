"""WARC in and out (issue 22): the exchange kept per capture, exports checked by warcio and py-wacz,
imports of WARCs ours and other tools', replay through pywb on loopback."""

from __future__ import annotations

import gzip
import json

from tests.crawling import rows, run_crawl
from tests.site import load_fixture_pages

ARTICLES = [p for p in load_fixture_pages() if p["expected"].get("is_article", True)]


def _gzip_route(html: str):
    """A route that answers with ``html`` gzip-encoded (``Content-Encoding: gzip``) and a header
    sent twice."""
    data = gzip.compress(html.encode("utf-8"), mtime=0)

    def route(request):
        request.send_response(200)
        request.send_header("Content-Type", "text/html; charset=utf-8")
        request.send_header("Content-Encoding", "gzip")
        request.send_header("Content-Length", str(len(data)))
        request.send_header("Vary", "Accept-Encoding")
        request.send_header("Vary", "Cookie")
        request.end_headers()
        if request.command != "HEAD":
            request.wfile.write(data)
    return route, data


def test_capture_keeps_the_exchange_as_received(loopback_site, tmp_path):
    """Headers as received before decoding (Content-Encoding, the compressed Content-Length, both Vary
    values in order), the request as sent, the peer IP; the stored payload is marked decoded."""
    route, data = _gzip_route(ARTICLES[1]["html"])
    loopback_site.add_route("/news/gz.html", route)
    loopback_site.add_page("/news/plain.html", ARTICLES[0]["html"])
    db = tmp_path / "news.db"
    run_crawl(db, loopback_site.url("/news/gz.html"), loopback_site.url("/news/plain.html"))
    found = {url: row for url, *row in rows(
        db, "SELECT c.final_url, e.protocol, e.response_headers, e.request_method, e.request_headers, "
            "e.peer_ip, e.payload_decoded, e.payload_encoding, c.content_length "
            "FROM capture_exchanges e JOIN captures c ON c.id = e.capture_id")}
    protocol, headers, method, request_headers, ip, decoded, encoding, length = found[loopback_site.url("/news/gz.html")]
    headers = json.loads(headers)
    assert (protocol, method, ip, decoded, encoding) == ("HTTP/1.0", "GET", "127.0.0.1", 1, None)
    assert ["Content-Encoding", "gzip"] in headers and ["Content-Length", str(len(data))] in headers
    assert [v for n, v in headers if n == "Vary"] == ["Accept-Encoding", "Cookie"]
    assert length == len(ARTICLES[1]["html"].encode("utf-8"))  # the decoded body is what is stored
    request_headers = dict(json.loads(request_headers))
    assert request_headers["Host"] == loopback_site.base_url.removeprefix("http://")
    assert "gzip" in request_headers["Accept-Encoding"] and request_headers["User-Agent"].startswith("newscrawler")
    plain = found[loopback_site.url("/news/plain.html")]
    assert plain[5:7] == [0, None]
    assert not any(n == "Content-Encoding" for n, _ in json.loads(plain[1]))
