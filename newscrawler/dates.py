"""Date parsing for article metadata; the only module that imports python-dateutil."""

from __future__ import annotations

import datetime as dt
import logging
import re
import warnings

from dateutil import parser as date_parser
from dateutil import tz

logger = logging.getLogger(__name__)

# Two defaults that differ in every time field: a component the string lacks shows up as a difference.
_DEFAULT_A = dt.datetime(2000, 1, 1, 0, 0, 0)
_DEFAULT_B = dt.datetime(2004, 2, 2, 23, 59, 59)
_MIN_YEAR, _MAX_YEAR = 1990, 2100
# ISO 8601 as sitemaps, JSON-LD and our own columns write it: read by the standard library, ten
# times faster than dateutil (a day alone, or a day with a time and perhaps an offset or "Z").
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?\Z")
# Zone abbreviations that news sites print and dateutil does not know by itself (offsets in seconds;
# source: the IANA tz database's abbreviations for these zones).
_TZINFOS = {
    "EST": -5 * 3600, "EDT": -4 * 3600, "CST": -6 * 3600, "CDT": -5 * 3600,
    "MST": -7 * 3600, "MDT": -6 * 3600, "PST": -8 * 3600, "PDT": -7 * 3600,
    "BST": 3600, "CET": 3600, "CEST": 7200, "EET": 7200, "EEST": 10800, "MSK": 10800,
    "IST": 19800, "JST": 9 * 3600, "KST": 9 * 3600, "AEST": 10 * 3600, "AEDT": 11 * 3600,
}


def parse_date(raw: str | None, default_tz: str = "UTC") -> dt.datetime | dt.date | None:
    """Parse a date string from a page, sitemap or syndication feed.

    Returns an aware ``datetime`` in UTC when the string gives a time (a string without a zone is
    read in ``default_tz``, an IANA name), a ``date`` when it gives only a day, and ``None`` when it
    is empty, unparseable, lacks a day, or falls outside 1990-2100 (logos, build numbers and
    other digits that happen to parse). Never raises.
    """
    if not raw or not isinstance(raw, str):
        return None
    text = raw.strip()
    if not text or len(text) > 100:
        return None
    if _ISO_DAY.match(text) or _ISO_TIME.match(text):
        try:
            value = dt.date.fromisoformat(text) if len(text) == 10 else dt.datetime.fromisoformat(text)
        except ValueError:  # "2024-02-30": left to dateutil, which refuses it too
            pass
        else:
            if not _MIN_YEAR <= value.year <= _MAX_YEAR:
                return None
            return value if len(text) == 10 else _to_utc(value, default_tz)
    return _parse_dateutil(text, default_tz)


def _parse_dateutil(text: str, default_tz: str) -> dt.datetime | dt.date | None:
    """:func:`parse_date` of any format dateutil reads (the slow path)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", date_parser.UnknownTimezoneWarning)
            first = date_parser.parse(text, default=_DEFAULT_A, tzinfos=_TZINFOS)
            second = date_parser.parse(text, default=_DEFAULT_B, tzinfos=_TZINFOS)
    except (ValueError, OverflowError, TypeError, date_parser.ParserError):
        logger.debug("unparseable date %r", text)
        return None
    if (first.year, first.month, first.day) != (second.year, second.month, second.day):
        return None  # no full day given ("March 2024")
    if not _MIN_YEAR <= first.year <= _MAX_YEAR:
        return None
    if first.hour != second.hour:
        return first.date()  # no time given; missing minutes or seconds are read as zero
    return _to_utc(first, default_tz)


def _to_utc(value: dt.datetime, default_tz: str) -> dt.datetime | None:
    """An aware datetime in UTC; a naive one is read in ``default_tz``. None when it overflows."""
    zone = value.tzinfo or tz.gettz(default_tz) or dt.UTC
    try:
        return value.replace(tzinfo=zone).astimezone(dt.UTC)
    except (ValueError, OverflowError):
        return None


def isoformat(value: dt.datetime | dt.date | None) -> str | None:
    """Format a parsed date for the archive: ``2024-05-01T12:00:00Z`` (UTC) or ``2024-05-01``."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return value.isoformat()


def utcnow_iso() -> str:
    """Now, as ISO 8601 UTC with microseconds: ``2026-11-29T22:43:05.123456Z``."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def is_zone(name: str) -> bool:
    """Whether ``name`` is an IANA time zone name this system knows (``Europe/Berlin``, ``UTC``)."""
    return isinstance(name, str) and bool(name.strip()) and tz.gettz(name) is not None


def local_day(value: dt.datetime, zone: str) -> dt.date:
    """The calendar day of an aware datetime in the IANA zone ``zone`` (UTC when unknown)."""
    return value.astimezone(tz.gettz(zone) or dt.UTC).date()
