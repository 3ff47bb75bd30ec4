"""parse_date: aware UTC datetimes, bare dates, None for what is not a date."""

import datetime as dt

import pytest

from newscrawler.dates import isoformat, parse_date


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
