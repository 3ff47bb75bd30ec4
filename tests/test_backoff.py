"""Backoff: a site that answers 429 with Retry-After is left alone that long before the retry."""

from __future__ import annotations

import json
import time

import pytest

from newscrawler.middlewares import retry_after_seconds
from tests.crawling import rows, run_crawl
from tests.site import load_fixture_pages

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
