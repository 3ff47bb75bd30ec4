"""Fetch policy for discovered URLs: which sitemap and feed entries are worth fetching."""

from __future__ import annotations

import datetime as dt

from newscrawler.dates import parse_date

#: A lastmod up to this far ahead of our clock is taken as it is (the site's clock runs a little fast).
FUTURE_SLACK = dt.timedelta(hours=1)
_EARLIEST_ZONE = dt.timedelta(hours=14)  # UTC+14 (Line Islands)


def should_fetch(last_capture_at: str | None, lastmod_raw: str | None,
                 default_tz: str = "UTC", now: dt.datetime | None = None) -> bool:
    """Whether to fetch a sitemap or feed entry.

    Yes when the URL was never captured, or when its lastmod (raw string from the sitemap or
    feed) is newer than the last capture (ISO 8601 UTC), compared at the lastmod's precision: a
    lastmod in the same second as the capture, or on the same day when it gives only a day,
    counts as newer, since the edit may have come after the capture within that second or day.
    Missing an edit costs more than one extra fetch. An entry without a usable lastmod is left to
    the re-check schedule, and so is one more than :data:`FUTURE_SLACK` after ``now`` (aware;
    default: the current time): a wrong time zone or a bogus date, which would otherwise stay newer
    than every capture, and fetch the page on every crawl, until that time. Once that time has
    passed the lastmod counts again. A date-only lastmod is in the future when it is after today's
    date in UTC+14, the earliest zone.
    """
    if not last_capture_at:
        return True
    lastmod = parse_date(lastmod_raw, default_tz)
    captured = parse_date(last_capture_at)
    if lastmod is None or not isinstance(captured, dt.datetime):
        return False
    now = now or dt.datetime.now(dt.UTC)
    if lastmod > (now + FUTURE_SLACK if isinstance(lastmod, dt.datetime) else (now + _EARLIEST_ZONE).date()):
        return False
    if isinstance(lastmod, dt.datetime):
        if lastmod.microsecond == 0:
            captured = captured.replace(microsecond=0)
        return lastmod >= captured
    return lastmod >= captured.date()


#: Re-check tiers after NewsDiffs' scraper (newsdiffs/parsers, "update frequency"): while the last
#: real change is younger than the first value, check every second value; older than the last tier:
#: never again.
RECHECK_TIERS: tuple[tuple[dt.timedelta, dt.timedelta], ...] = (
    (dt.timedelta(hours=3), dt.timedelta(minutes=15)),
    (dt.timedelta(days=1), dt.timedelta(hours=1)),
    (dt.timedelta(days=7), dt.timedelta(hours=3)),
    (dt.timedelta(days=30), dt.timedelta(days=3)),
    (dt.timedelta(days=365), dt.timedelta(days=30)),
)
MIN_RECHECK_INTERVAL = RECHECK_TIERS[0][1]


def recheck_interval(since_change: dt.timedelta, changes: int) -> dt.timedelta | None:
    """How long to wait before re-checking an article, or None for never again.

    ``since_change`` is the time since the article's last real change (its first version counts
    as one); ``changes`` how many times it changed after the first version. The tier comes from
    :data:`RECHECK_TIERS`; an article with an editing history is checked more often: the interval
    is divided by ``1 + min(changes, 3)``, never below the first tier's 15 minutes.
    """
    for younger_than, interval in RECHECK_TIERS:
        if since_change < younger_than:
            return max(interval / (1 + min(max(changes, 0), 3)), MIN_RECHECK_INTERVAL)
    return None


def next_check_at(now: dt.datetime, last_changed_at: dt.datetime, changes: int) -> dt.datetime | None:
    """When an article is due again (aware UTC), or None when it is old enough to leave alone."""
    interval = recheck_interval(now - last_changed_at, changes)
    return None if interval is None else now + interval
