"""Redirect loops end at the first repeated URL with a failed capture saying so, not after 20 hops."""

from __future__ import annotations

import json

import pytest

from tests.crawling import rows, run_crawl
from tests.site import load_fixture_pages, redirect_route, status_route

CASE = next(c for c in load_fixture_pages() if c["name"] == "www.coastlinetimes.example.harbour-dredging-delayed")


def _refresh(to: str):
    page = f'<html><head><meta http-equiv="refresh" content="0; url={to}"></head><body>moved</body></html>'
    return status_route(200, page, content_type="text/html; charset=utf-8")


@pytest.mark.parametrize(("routes", "start", "came_back", "hops"), [
    ({"/loop/a": redirect_route("/loop/b"), "/loop/b": redirect_route("/loop/a")}, "/loop/a", "/loop/a", 2),
    ({"/self": redirect_route("/self", 302)}, "/self", "/self", 1),
    ({"/x/1": redirect_route("/x/2", 307), "/x/2": redirect_route("/x/3", 308), "/x/3": redirect_route("/x/2")},
     "/x/1", "/x/2", 3),
    # the same URL with its query arguments in another order, or a fragment, is the same URL
    ({"/q": redirect_route("/q2?b=2&a=1"), "/q2": redirect_route("/q?x=1#top")}, "/q?x=1", "/q?x=1#top", 2),
    ({"/m/a": _refresh("/m/b"), "/m/b": _refresh("/m/a")}, "/m/a", "/m/a", 2),  # meta refresh
    ({"/mix": redirect_route("/mix/page"), "/mix/page": _refresh("/mix")}, "/mix", "/mix", 2),
])
def test_a_redirect_loop_stops_at_the_first_repeat(loopback_site, tmp_path, routes, start, came_back, hops):
    for path, route in routes.items():
        loopback_site.add_route(path, route)
    db = tmp_path / "news.db"
    run_crawl(db, loopback_site.url(start), check=False)
    assert sum(loopback_site.hits.values()) - loopback_site.hits["/robots.txt"] == hops  # each URL once
    [(requested, outcome, error)] = rows(db, "SELECT requested_url, outcome, error FROM captures")
    assert (requested, outcome) == (loopback_site.url(start), "failed")
    assert error.startswith("IgnoreRequest: redirect loop: ") and error.endswith(
        f" redirects to {loopback_site.url(came_back)}, already visited "
        f"(after {hops} {'hop' if hops == 1 else 'hops'})"), error
    stats = json.loads(rows(db, "SELECT stats FROM crawls")[0][0])
    assert stats["archive/redirect/loop"] == 1


def test_a_long_chain_without_a_repeat_is_followed(loopback_site, tmp_path):
    loopback_site.add_page("/news/harbour.html", CASE["html"])
    for n in range(1, 8):
        loopback_site.add_route(f"/c/{n}", redirect_route(f"/c/{n + 1}" if n < 7 else "/news/harbour.html"))
    db = tmp_path / "news.db"
    run_crawl(db, loopback_site.url("/c/1"))
    assert rows(db, "SELECT requested_url, final_url, outcome FROM captures") == [
        (loopback_site.url("/c/1"), loopback_site.url("/news/harbour.html"), "new")]
