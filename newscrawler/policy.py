"""Fetch policy for discovered URLs: which sitemap and feed entries are worth fetching."""

from __future__ import annotations

import datetime as dt

from newscrawler.dates import parse_date


def should_fetch(last_capture_at: str | None, lastmod_raw: str | None,
                 default_tz: str = "UTC") -> bool:
    """Whether to fetch a sitemap or feed entry.

    Yes when the URL was never captured, or when its lastmod (raw string from the sitemap or
    feed) is newer than the last capture (ISO 8601 UTC), compared at the lastmod's precision: a
    lastmod in the same second as the capture, or on the same day when it gives only a day,
    counts as newer, since the edit may have come after the capture within that second or day.
    Missing an edit costs more than one extra fetch. An entry without a usable lastmod is left to
    the re-check schedule.
    """
    if not last_capture_at:
        return True
    lastmod = parse_date(lastmod_raw, default_tz)
    captured = parse_date(last_capture_at)
    if lastmod is None or not isinstance(captured, dt.datetime):
        return False
    if isinstance(lastmod, dt.datetime):
        if lastmod.microsecond == 0:
            captured = captured.replace(microsecond=0)
        return lastmod >= captured
    return lastmod >= captured.date()
