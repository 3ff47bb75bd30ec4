"""The fetch policy for sitemap and feed entries."""

import pytest

from newscrawler.policy import should_fetch

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


def test_never_captured_is_always_fetched():
    assert should_fetch(None, None) is True
    assert should_fetch(None, "2001-01-01") is True
