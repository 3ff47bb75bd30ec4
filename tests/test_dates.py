"""parse_date: aware UTC datetimes, bare dates, None for what is not a date."""

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newscrawler.dates import _parse_dateutil, isoformat, parse_date


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2017-06-02T17:23:14Z", "2017-06-02T17:23:14Z"),
        ("2017-06-02T17:23:14.123+05:30", "2017-06-02T11:53:14Z"),
        ("Mon, 06 Sep 2021 16:45:00 +0200", "2021-09-06T14:45:00Z"),
        ("Tue, 10 Jun 2003 04:00:00 GMT", "2003-06-10T04:00:00Z"),
        ("Nov 19, 2019 8:05 AM EST", "2019-11-19T13:05:00Z"),
        ("2024-05-01 10:30", "2024-05-01T10:30:00Z"),  # no zone: ARCHIVE_DEFAULT_TZ (UTC)
        ("2024-05-01", "2024-05-01"),  # only a day: kept as a date
        ("June 3, 2024", "2024-06-03"),
    ],
)
def test_parses(raw, expected):
    assert isoformat(parse_date(raw)) == expected


def test_default_zone_applies_to_naive_strings():
    value = parse_date("2024-05-01 10:30", default_tz="Europe/Berlin")
    assert value == dt.datetime(2024, 5, 1, 8, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize("raw", ["", None, "garbage", "12", "March 2024", "0", "9999-01-01", "x" * 500])
def test_not_a_date(raw):
    assert parse_date(raw) is None


ISO_SHAPES = ["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f"]
ISO_ZONES = ["", "Z", "+00:00", "+05:30", "-0800", "+14:00"]


@given(moment=st.datetimes(min_value=dt.datetime(1985, 1, 1), max_value=dt.datetime(2105, 12, 31)),
       shape=st.sampled_from(ISO_SHAPES), zone=st.sampled_from(ISO_ZONES),
       default_tz=st.sampled_from(["UTC", "America/New_York", "Asia/Kolkata"]))
@settings(max_examples=300, deadline=None)
def test_iso_fast_path_reads_what_dateutil_reads(moment, shape, zone, default_tz):
    """ISO 8601 strings go through the standard library, and must read exactly as through dateutil."""
    text = moment.strftime(shape) + ("" if shape == "%Y-%m-%d" else zone)
    assert parse_date(text, default_tz) == _parse_dateutil(text, default_tz)


@pytest.mark.parametrize("raw", ["2024-02-30", "2024-13-01T10:00Z", "1989-12-31", "2101-01-01T00:00Z"])
def test_iso_fast_path_refuses_what_dateutil_refuses(raw):
    assert parse_date(raw) is None


@pytest.mark.parametrize("raw", ["1990-01-01T00:30:00+05:30", "2100-12-31T23:00:00-05:00"])
def test_iso_fast_path_checks_the_year_as_written(raw):
    assert parse_date(raw) == _parse_dateutil(raw, "UTC") is not None
