"""Backoff: a site that answers 429 with Retry-After is left alone that long before the retry."""

from __future__ import annotations

import json
import time

import pytest

from newscrawler.middlewares import retry_after_seconds
from tests.crawling import rows, run_crawl
from tests.site import load_fixture_pages, redirect_route, slow_route, status_route

CASE = next(c for c in load_fixture_pages() if c["name"] == "www.coastlinetimes.example.harbour-dredging-delayed")


def test_retry_after_is_honoured(loopback_site, tmp_path):
    loopback_site.add_page("/news/harbour.html", CASE["html"])
    arrivals = []

    def busy_once(request):
        arrivals.append(time.monotonic())
        if len(arrivals) == 1:
            request.send_body(429, b"slow down", headers={"Retry-After": "2"})
        else:
            request.serve_static()

    loopback_site.add_route("/news/harbour.html", busy_once)
    db = tmp_path / "news.db"
    run_crawl(db, loopback_site.url("/news/harbour.html"),
              settings=("ARCHIVE_BACKOFF_MAX=120", "RETRY_TIMES=2"))
    assert len(arrivals) == 2
    assert arrivals[1] - arrivals[0] >= 1.9  # the retry waited for Retry-After
    assert rows(db, "SELECT outcome, status FROM captures") == [("new", 200)]
    stats = json.loads(rows(db, "SELECT stats FROM crawls")[0][0])
    assert (stats["archive/backoff/count"], stats["archive/backoff/max_seconds"]) == (1, 2.0)


@pytest.mark.parametrize(("value", "expected"), [
    (b"120", 120.0), (b" 7 ", 7.0), (None, None), (b"", None), (b"soon", None),
    (b"Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # a date in the past: no wait
])
def test_retry_after_seconds(value, expected):
    assert retry_after_seconds(value) == expected


def test_retry_after_date_in_the_future():
    import datetime as dt
    from email.utils import format_datetime

    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)
    assert 25 <= retry_after_seconds(format_datetime(when, usegmt=True).encode()) <= 30


def _arrivals(loopback_site, path, then):
    """Route ``path`` through ``then`` and return the list its arrival times go to (monotonic seconds)."""
    arrivals = []

    def route(request):
        arrivals.append(time.monotonic())
        then(request)

    loopback_site.add_route(path, route)
    return arrivals


@pytest.mark.parametrize("retry_after", [{"Retry-After": "3"}, {}])
def test_backoff_ends_when_the_retries_give_up(loopback_site, tmp_path, retry_after):
    """A URL that answers 503 until its retries give up slows the site down for its own retry only:
    the site's redirects and pages requested after it go at the site's own pace (before, each hop of
    the chain waited the backoff delay, since a redirect never reached the middleware)."""
    loopback_site.add_page("/news/harbour.html", CASE["html"])
    broken = _arrivals(loopback_site, "/news/broken.html",
                       status_route(503, "busy", headers=retry_after))
    loopback_site.add_route("/r/1", slow_route(4.5, redirect_route("/r/2")))
    hops = {path: _arrivals(loopback_site, path, redirect_route(to)) for path, to in
            (("/r/2", "/r/3"), ("/r/3", "/r/4"), ("/r/4", "/news/harbour.html"))}
    db = tmp_path / "news.db"
    run_crawl(db, loopback_site.url("/news/broken.html"), loopback_site.url("/r/1"),
              settings=("RETRY_TIMES=1", "ARCHIVE_BACKOFF_BASE=3", "ARCHIVE_BACKOFF_MAX=120"))
    assert len(broken) == 2 and broken[1] - broken[0] >= 2.9  # the retry still waited
    assert broken[1] < hops["/r/2"][0]  # the chain went on after the retries gave up
    chain = hops["/r/4"][0] - hops["/r/2"][0]
    assert chain < 2.0, f"the redirects after the give-up waited {chain:.1f} s"
    assert sorted(rows(db, "SELECT requested_url, outcome, status FROM captures")) == [
        (loopback_site.url("/news/broken.html"), "failed", 503),
        (loopback_site.url("/r/1"), "new", 200)]
    stats = json.loads(rows(db, "SELECT stats FROM crawls")[0][0])
    assert stats["archive/backoff/count"] == 1  # the answer that gave up did not back off again


def test_a_retry_that_succeeds_gives_the_site_its_pace_back(loopback_site, tmp_path):
    loopback_site.add_page("/news/harbour.html", CASE["html"])
    loopback_site.add_page("/news/other.html", CASE["html"].replace("Harbour", "Marina"))
    calls = []

    def busy_once(request):
        calls.append(time.monotonic())
        if len(calls) == 1:
            request.send_body(503, b"busy", headers={"Retry-After": "2"})
        else:
            request.serve_static()

    loopback_site.add_route("/news/harbour.html", busy_once)
    other = _arrivals(loopback_site, "/news/other.html", slow_route(3.5, redirect_route("/r/x")))
    after = _arrivals(loopback_site, "/r/x", redirect_route("/r/y"))
    last = _arrivals(loopback_site, "/r/y", redirect_route("/news/harbour.html?from=y"))
    run_crawl(tmp_path / "news.db", loopback_site.url("/news/harbour.html"), loopback_site.url("/news/other.html"),
              settings=("RETRY_TIMES=2", "ARCHIVE_BACKOFF_MAX=120"))
    assert len(calls) >= 2 and calls[1] - calls[0] >= 1.9
    assert other and last[0] - after[0] < 1.5
