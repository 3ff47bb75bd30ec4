"""The test kit itself: the loopback news site, the shingle metric and the saved fixture pages."""

from __future__ import annotations

import gzip
import http.client
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from lxml import etree

from tests.conftest import SHARED
from tests.metrics import exact_share, page_counts, shingle_f1
from tests.site import (
    ATOM_NS,
    FIXTURES,
    NEWS_NS,
    SITEMAP_NS,
    LoopbackSite,
    etag_for,
    http_date,
    load_fixture_pages,
    qname,
    redirect_route,
    slow_route,
    status_route,
)

NOV_1 = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
NOV_2 = datetime(2026, 11, 2, 8, 30, tzinfo=UTC)
ARTICLE = (
    "<!DOCTYPE html><html lang='en'><head><title>Bridge reopens</title></head>"
    "<body><h1>Bridge reopens</h1><p>The bridge reopened on Sunday.</p></body></html>"
)


def fetch(
    site: LoopbackSite, path: str, headers: dict[str, str] | None = None, method: str = "GET"
):
    """One request, redirects not followed: ``(status, headers dict, body bytes)``."""
    netloc = urlsplit(site.base_url).netloc
    connection = http.client.HTTPConnection(netloc, timeout=10)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def site_with_pages(site: LoopbackSite, count: int = 3) -> list[str]:
    """Add ``count`` articles a day apart from NOV_1 and write discovery files; return the paths."""
    paths = []
    for number in range(1, count + 1):
        path = f"/news/story-{number}.html"
        moment = NOV_1.replace(day=number)
        site.add_page(path, ARTICLE.replace("Bridge reopens", f"Story {number}"), lastmod=moment)
        paths.append(path)
    site.write_discovery()
    return paths


# -- serving ---------------------------------------------------------------------------------------


def test_new_page_lastmod_is_the_previous_second_and_an_edit_moves_it(loopback_site):
    """A crawl run at once captures a new page in a later second than its lastmod (the fetch policy
    fetches again a page whose lastmod is in its last capture's second); an edit's lastmod is now."""
    before = datetime.now(UTC).replace(microsecond=0)
    page = loopback_site.add_page("/news/a.html", "<html><body><p>One.</p></body></html>")
    after = datetime.now(UTC).replace(microsecond=0)
    assert before - timedelta(seconds=1) <= page.lastmod <= after - timedelta(seconds=1)
    edited = loopback_site.add_page("/news/a.html", "<html><body><p>Two.</p></body></html>")
    assert before <= edited.lastmod <= datetime.now(UTC) + timedelta(seconds=1)
    assert edited.lastmod > page.lastmod


def test_page_served_with_content_type_and_validators(loopback_site):
    page = loopback_site.add_page("/news/bridge.html", ARTICLE, lastmod=NOV_1)

    status, headers, body = fetch(loopback_site, "/news/bridge.html")

    assert status == 200
    assert body == ARTICLE.encode("utf-8")
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Content-Length"] == str(len(body))
    assert headers["ETag"] == etag_for(body)
    assert headers["Last-Modified"] == "Sun, 01 Nov 2026 10:00:00 GMT"
    assert page.title == "Bridge reopens"
    assert loopback_site.hits["/news/bridge.html"] == 1
    method, path, request_headers = loopback_site.requests[0]
    assert (method, path) == ("GET", "/news/bridge.html")
    assert "Host" in request_headers


def test_keep_alive_answers_several_requests_on_one_connection_until_stopped(tmp_path: Path):
    site = LoopbackSite(tmp_path / "site", keep_alive=True)
    site.start()
    site.add_page("/news/bridge.html", ARTICLE, lastmod=NOV_1)
    connection = http.client.HTTPConnection(urlsplit(site.base_url).netloc, timeout=10)
    try:
        answers, sockets = [], []
        for _ in range(3):
            connection.request("GET", "/news/bridge.html")
            response = connection.getresponse()
            answers.append((response.version, response.status, response.read()))
            sockets.append(connection.sock)
        site.stop()
        with pytest.raises((ConnectionError, http.client.HTTPException)):
            connection.request("GET", "/news/bridge.html")
            connection.getresponse()
    finally:
        connection.close()
        site.stop()
    assert answers == [(11, 200, ARTICLE.encode("utf-8"))] * 3
    assert sockets[0] is not None and sockets.count(sockets[0]) == 3  # one connection, never reopened
    assert site.hits["/news/bridge.html"] == 3  # nothing served after stop()


def test_registered_content_type_and_head(loopback_site):
    loopback_site.add_page(
        "/old/page.html", ARTICLE.encode("cp1252"), content_type="text/html; charset=windows-1252"
    )

    status, headers, body = fetch(loopback_site, "/old/page.html", method="HEAD")

    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=windows-1252"
    assert body == b""
    assert loopback_site.hits["/old/page.html"] == 1


def test_if_none_match_gives_304_until_the_page_is_edited(loopback_site):
    loopback_site.add_page("/news/bridge.html", ARTICLE, lastmod=NOV_1)
    _, first, _ = fetch(loopback_site, "/news/bridge.html")

    status, headers, body = fetch(
        loopback_site, "/news/bridge.html", {"If-None-Match": first["ETag"]}
    )
    assert (status, body) == (304, b"")
    assert headers["ETag"] == first["ETag"]

    loopback_site.add_page("/news/bridge.html", ARTICLE.replace("Sunday", "Monday"), lastmod=NOV_2)
    status, headers, body = fetch(
        loopback_site, "/news/bridge.html", {"If-None-Match": first["ETag"]}
    )
    assert status == 200
    assert b"Monday" in body
    assert headers["ETag"] != first["ETag"]
    assert headers["Last-Modified"] == http_date(NOV_2)
    assert loopback_site.hits["/news/bridge.html"] == 3


def test_if_modified_since(loopback_site):
    loopback_site.add_page("/news/bridge.html", ARTICLE, lastmod=NOV_1)

    assert (
        fetch(loopback_site, "/news/bridge.html", {"If-Modified-Since": http_date(NOV_1)})[0] == 304
    )
    assert (
        fetch(loopback_site, "/news/bridge.html", {"If-Modified-Since": http_date(NOV_2)})[0] == 304
    )
    older = http_date(NOV_1.replace(hour=9))
    assert fetch(loopback_site, "/news/bridge.html", {"If-Modified-Since": older})[0] == 200
    # If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2)
    both = {"If-None-Match": '"other"', "If-Modified-Since": http_date(NOV_2)}
    assert fetch(loopback_site, "/news/bridge.html", both)[0] == 200


def test_edit_without_lastmod_moves_last_modified(loopback_site):
    first = loopback_site.add_page("/news/live.html", ARTICLE)
    second = loopback_site.add_page("/news/live.html", ARTICLE + "<!-- edit -->")

    assert second.lastmod > first.lastmod
    assert second.published == first.published
    assert second.edits == 1
    status, _, _ = fetch(
        loopback_site, "/news/live.html", {"If-Modified-Since": http_date(first.lastmod)}
    )
    assert status == 200


def test_missing_file_is_404_and_counted(loopback_site):
    status, _, _ = fetch(loopback_site, "/news/nothing-here.html")

    assert status == 404
    assert loopback_site.hits["/news/nothing-here.html"] == 1
    assert fetch(loopback_site, "/../../etc/passwd")[0] == 404


def test_routes(loopback_site):
    loopback_site.add_page("/news/bridge.html", ARTICLE, lastmod=NOV_1)
    loopback_site.add_route(
        "/broken.html", status_route(500, "boom", headers={"Retry-After": "120"})
    )
    loopback_site.add_route("/moved.html", redirect_route("/news/bridge.html", 301))
    loopback_site.add_route("/news/slow.html", slow_route(0.2, then=status_route(200, "late")))

    status, headers, body = fetch(loopback_site, "/broken.html")
    assert (status, body, headers["Retry-After"]) == (500, b"boom", "120")
    status, headers, _ = fetch(loopback_site, "/moved.html")
    assert (status, headers["Location"]) == (301, "/news/bridge.html")
    started = time.monotonic()
    assert fetch(loopback_site, "/news/slow.html")[2] == b"late"
    assert time.monotonic() - started >= 0.2
    assert loopback_site.hits == {"/broken.html": 1, "/moved.html": 1, "/news/slow.html": 1}
    assert loopback_site.errors == []


def test_add_file_serves_pdf(loopback_site):
    pdf = (FIXTURES / "report.pdf").read_bytes()
    loopback_site.add_file("/documents/report.pdf", pdf)

    status, headers, body = fetch(loopback_site, "/documents/report.pdf")

    assert (status, headers["Content-Type"], body) == (200, "application/pdf", pdf)
    assert body.startswith(b"%PDF-1.4") and body.rstrip().endswith(b"%%EOF")


def test_write_discovery_needs_a_running_server(tmp_path: Path):
    site = LoopbackSite(tmp_path)
    site.add_page("/a.html", ARTICLE)
    with pytest.raises(RuntimeError, match="start"):
        site.write_discovery()
    with site.serve():
        assert site.url("/a.html") == site.base_url + "/a.html"
        assert site.base_url.startswith("http://127.0.0.1:")
    assert site.base_url is None


# -- discovery documents ---------------------------------------------------------------------------


def test_sitemap_lists_every_page_with_w3c_lastmod(loopback_site):
    paths = site_with_pages(loopback_site)

    status, headers, body = fetch(loopback_site, "/sitemap.xml")

    assert (status, headers["Content-Type"]) == (200, "application/xml")
    root = etree.fromstring(body)
    assert root.tag == qname(SITEMAP_NS, "urlset")
    locs = root.findall(f"{qname(SITEMAP_NS, 'url')}/{qname(SITEMAP_NS, 'loc')}")
    assert [loc.text for loc in locs] == [loopback_site.url(path) for path in paths]
    lastmods = root.findall(f"{qname(SITEMAP_NS, 'url')}/{qname(SITEMAP_NS, 'lastmod')}")
    assert lastmods[0].text == "2026-11-01T10:00:00+00:00"


def test_sitemap_index_gz_decompresses_to_a_sitemapindex(loopback_site):
    paths = site_with_pages(loopback_site)

    status, headers, body = fetch(loopback_site, "/sitemap_index.xml.gz")

    assert (status, headers["Content-Type"]) == (200, "application/gzip")
    index = etree.fromstring(gzip.decompress(body))
    assert index.tag == qname(SITEMAP_NS, "sitemapindex")
    parts = [loc.text for loc in index.iter(qname(SITEMAP_NS, "loc"))]
    assert parts == [
        loopback_site.url("/sitemaps/part-1.xml.gz"),
        loopback_site.url("/sitemaps/part-2.xml"),
    ]
    part_1 = etree.fromstring(gzip.decompress(fetch(loopback_site, "/sitemaps/part-1.xml.gz")[2]))
    part_2 = etree.fromstring(fetch(loopback_site, "/sitemaps/part-2.xml")[2])
    listed = [loc.text for part in (part_1, part_2) for loc in part.iter(qname(SITEMAP_NS, "loc"))]
    assert listed == [loopback_site.url(path) for path in paths]
    assert len(list(part_1.iter(qname(SITEMAP_NS, "loc")))) == 2


def test_news_sitemap_has_news_title(loopback_site):
    loopback_site.add_page(
        "/news/bridge.html",
        ARTICLE,
        lastmod=NOV_2,
        published=NOV_1,
        title="Bridge reopens after repairs",
    )
    loopback_site.write_discovery()

    root = etree.fromstring(fetch(loopback_site, "/news-sitemap.xml")[2])

    news = {"n": NEWS_NS, "s": SITEMAP_NS}
    assert root.nsmap["news"] == NEWS_NS
    assert root.xpath("//n:news/n:title/text()", namespaces=news) == [
        "Bridge reopens after repairs"
    ]
    assert root.xpath("//n:publication/n:name/text()", namespaces=news) == ["Loopback News"]
    assert root.xpath("//n:publication/n:language/text()", namespaces=news) == ["en"]
    assert root.xpath("//n:publication_date/text()", namespaces=news) == [
        "2026-11-01T10:00:00+00:00"
    ]
    assert root.xpath("//s:url/s:loc/text()", namespaces=news) == [
        loopback_site.url("/news/bridge.html")
    ]


def test_rss_and_atom_feeds(loopback_site):
    site_with_pages(loopback_site, 2)

    status, headers, body = fetch(loopback_site, "/rss.xml")
    assert (status, headers["Content-Type"]) == (200, "application/rss+xml")
    rss = etree.fromstring(body)
    assert rss.get("version") == "2.0"
    assert rss.xpath("//item/link/text()") == [
        loopback_site.url("/news/story-2.html"),
        loopback_site.url("/news/story-1.html"),
    ]
    assert rss.xpath("//item/title/text()") == ["Story 2", "Story 1"]
    assert rss.xpath("//item/pubDate/text()")[1] == "Sun, 01 Nov 2026 10:00:00 GMT"

    status, headers, body = fetch(loopback_site, "/atom.xml")
    assert (status, headers["Content-Type"]) == (200, "application/atom+xml")
    atom = etree.fromstring(body)
    ns = {"a": ATOM_NS}
    assert atom.xpath("//a:entry/a:link/@href", namespaces=ns)[1] == loopback_site.url(
        "/news/story-1.html"
    )
    assert (
        atom.xpath("//a:entry/a:published/text()", namespaces=ns)[1] == "2026-11-01T10:00:00+00:00"
    )
    assert atom.xpath("//a:entry/a:updated/text()", namespaces=ns)[0] == "2026-11-02T10:00:00+00:00"


def test_robots_and_home_page(loopback_site):
    paths = site_with_pages(loopback_site, 2)

    status, headers, body = fetch(loopback_site, "/robots.txt")
    assert (status, headers["Content-Type"]) == (200, "text/plain; charset=utf-8")
    assert body.decode().splitlines() == [
        "User-agent: *",
        "Allow: /",
        "",
        "Sitemap: {}".format(loopback_site.url("/sitemap_index.xml.gz")),
    ]

    status, headers, body = fetch(loopback_site, "/")
    assert (status, headers["Content-Type"]) == (200, "text/html; charset=utf-8")
    home = etree.HTML(body)
    assert home.xpath("//link[@rel='alternate'][@type='application/rss+xml']/@href") == ["/rss.xml"]
    assert home.xpath("//link[@rel='alternate'][@type='application/atom+xml']/@href") == [
        "/atom.xml"
    ]
    assert sorted(home.xpath("//main//a/@href")) == paths
    assert loopback_site.hits["/"] == 1


# -- metric ----------------------------------------------------------------------------------------


def test_shingle_f1_identical_and_disjoint():
    truth = {"a": "The harbour board met on Tuesday to discuss dredging."}

    assert shingle_f1(dict(truth), truth) == (1.0, 1.0, 1.0)
    assert shingle_f1({"a": "Completely different words appear in this sentence here."}, truth) == (
        0.0,
        0.0,
        0.0,
    )


def test_shingle_f1_averages_pages_and_skips_empty_predictions_in_precision():
    truths = {"a": "one two three four five", "b": "six seven eight nine ten"}
    # page a: "one two three four" -> 1 right shingle of 2: P=1, R=1/2; page b: empty -> R=0
    precision, recall, f1 = shingle_f1({"a": "one two three four", "b": ""}, truths)

    assert page_counts(truths["a"], "one two three four") == (1, 0, 1)
    assert precision == 1.0
    assert recall == 0.25
    assert f1 == pytest.approx(2 * 1.0 * 0.25 / 1.25)
    assert shingle_f1({}, truths) == (0.0, 0.0, 0.0)
    assert (
        exact_share(
            {"a": "One, two three four five!", "b": None},
            {"a": "One two three four five", "b": "x"},
        )
        == 0.5
    )


# -- fixture pages ---------------------------------------------------------------------------------

ARTICLE_KEYS = {
    "url",
    "headline",
    "body_starts_with",
    "body_must_contain",
    "body_must_not_contain",
    "authors",
    "date_published",
    "language",
}


def test_fixture_pages_have_expected_values():
    cases = load_fixture_pages()
    names = {case["name"] for case in cases}

    assert "www.rferl.org.putin-nato-clinton" in names
    assert "www.northfieldcourier.example.section-local" in names
    assert sorted(path.stem for path in FIXTURES.glob("*.html")) == sorted(names)
    for case in cases:
        expected = case["expected"]
        if expected.get("is_article") is False:
            continue
        assert set(expected) == ARTICLE_KEYS, case["name"]
        assert case["name"].startswith(urlsplit(expected["url"]).netloc + "."), case["name"]
        assert len(expected["body_must_contain"]) >= 6, case["name"]


def test_seed_fixture_keeps_the_seed_text_exactly():
    seed = SHARED / "seed" / "article-text.txt"
    if not seed.is_file():
        pytest.skip(f"../shared/seed is absent: {seed} not found")
    lines = [line.strip() for line in seed.read_text(encoding="utf-8").splitlines() if line.strip()]
    start = next(
        i
        for i, line in enumerate(lines)
        if line.startswith("Russian President Vladimir Putin has claimed")
    )
    story = lines[start : lines.index("With reporting by AFP") + 1]

    expected = next(
        c for c in load_fixture_pages() if c["name"] == "www.rferl.org.putin-nato-clinton"
    )["expected"]
    page = etree.HTML((FIXTURES / "www.rferl.org.putin-nato-clinton.html").read_bytes())
    paragraphs = [
        " ".join(p.xpath("string()").split()) for p in page.xpath("//div[@class='wsw']/p")
    ]

    assert paragraphs == story
    assert expected["body_must_contain"] == story
    assert page.xpath("//html/@lang") == ["en"]
    assert page.xpath("//link[@rel='canonical']/@href") == [expected["url"]]


ARTICLE_FIXTURES = [
    case for case in load_fixture_pages() if case["expected"].get("is_article", True)
]


@pytest.mark.parametrize("case", ARTICLE_FIXTURES, ids=lambda case: case["name"])
def test_fixture_expectations_hold_for_trafilatura(case):
    """Guards the fixtures themselves: the markup must let trafilatura's defaults find the story."""
    trafilatura = pytest.importorskip("trafilatura")
    expected = case["expected"]

    document = trafilatura.bare_extraction(
        case["html"],
        url=expected["url"],
        with_metadata=True,
        include_comments=False,
        deduplicate=False,
    )

    text = document.text
    assert text.startswith(expected["body_starts_with"])
    assert [part for part in expected["body_must_contain"] if part not in text] == []
    assert [part for part in expected["body_must_not_contain"] if part in text] == []
    assert document.title == expected["headline"]
