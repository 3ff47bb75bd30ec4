"""The fetch policy for sitemap and feed entries."""

import datetime as dt

import pytest

from newscrawler.policy import next_check_at, recheck_interval, should_fetch

CAPTURED = "2026-11-29T10:00:00.500000Z"


@pytest.mark.parametrize(("lastmod", "expected"), [
    ("2026-11-29T10:00:01Z", True),  # edited after the capture
    ("2026-11-29T10:00:00Z", True),  # same second: may be after the capture
    ("2026-11-29T09:59:59Z", False),
    ("2026-11-29T11:00:00+01:00", True),  # 10:00:00 UTC, same second
    ("2026-11-29T10:59:59+01:00", False),
    ("2026-11-29", True),  # only a day: same day as the capture
    ("2026-11-28", False),
    (None, False),  # no lastmod: left to the re-check schedule
    ("not a date", False),
])
def test_known_article(lastmod, expected):
    assert should_fetch(CAPTURED, lastmod) is expected


@pytest.mark.parametrize(("captured", "lastmod", "expected"), [
    ("2026-11-29T11:00:00Z", "2026-11-30T14:00:00Z", False),  # 2 h ahead: left to the re-checks
    ("2026-11-30T11:50:00Z", "2099-01-01T00:00:00Z", False),  # a bogus date
    ("2026-11-30T11:59:00Z", "2026-11-30T12:30:00Z", True),  # 30 min ahead: a fast clock, taken as is
    ("2026-11-29T11:00:00Z", "2026-12-02", False),  # two days ahead (date only)
    ("2026-11-30T11:50:00Z", "2026-12-01", True),  # already the 1st in UTC+14: taken as is
    ("2026-11-30T11:50:00Z", "2026-11-30T12:00:00Z", True),  # now: newer than the capture
])
def test_a_lastmod_far_in_the_future_is_left_to_the_recheck_schedule(captured, lastmod, expected):
    now = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
    assert should_fetch(captured, lastmod, now=now) is expected
    later = dt.datetime(2026, 11, 30, 15, 0, tzinfo=dt.UTC)  # once that time has passed, it counts
    assert should_fetch(captured, "2026-11-30T14:00:00Z", now=later) is True


def test_never_captured_is_always_fetched():
    assert should_fetch(None, None) is True
    assert should_fetch(None, "2001-01-01") is True


@pytest.mark.parametrize(("age", "changes", "expected"), [
    (dt.timedelta(hours=1), 0, dt.timedelta(minutes=15)),
    (dt.timedelta(hours=5), 0, dt.timedelta(hours=1)),
    (dt.timedelta(hours=5), 1, dt.timedelta(minutes=30)),
    (dt.timedelta(hours=5), 9, dt.timedelta(minutes=15)),
    (dt.timedelta(days=3), 0, dt.timedelta(hours=3)),
    (dt.timedelta(days=10), 0, dt.timedelta(days=3)),
    (dt.timedelta(days=100), 0, dt.timedelta(days=30)),
    (dt.timedelta(days=100), 1, dt.timedelta(days=15)),
    (dt.timedelta(days=400), 0, None),
])
def test_recheck_tiers(age, changes, expected):
    assert recheck_interval(age, changes) == expected


def test_next_check_at():
    now = dt.datetime(2026, 11, 29, 12, tzinfo=dt.UTC)
    assert next_check_at(now, now - dt.timedelta(hours=1), 0) == now + dt.timedelta(minutes=15)
    assert next_check_at(now, now - dt.timedelta(days=500), 4) is None
