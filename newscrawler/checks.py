"""Checks of settings given on the command line (``-s NAME=VALUE``): a known name, a value of its type, in range."""

from __future__ import annotations

import difflib
import json
import math
import zoneinfo
from collections.abc import Mapping
from typing import Any

#: Settings newscrawler reads that have no default in any settings module.
EXTRA_NAMES = frozenset({"ARCHIVE_COMMAND"})

#: Checked where they are read, with their own messages.
CHECKED_WHERE_READ: frozenset[str] = frozenset()

#: Set by options of ``newscrawler crawl`` rather than by ``-s``: setting -> the option.
OPTIONS = {"ARCHIVE_DB": "--db"}

#: Inclusive (lowest, highest) of numeric settings whose range is not just "0 or more"; None: no bound.
RANGES: dict[str, tuple[float | None, float | None]] = {
    "CONCURRENT_REQUESTS": (1, None),
    "CONCURRENT_REQUESTS_PER_DOMAIN": (1, None),
    "CONCURRENT_ITEMS": (1, None),
    "AUTOTHROTTLE_TARGET_CONCURRENCY": (0.01, None),
    "DOWNLOAD_DELAY_JITTER": (0, 1),
    "ARCHIVE_SHRINK_RATIO": (0, 1),
    "ARCHIVE_BOILERPLATE_MIN_ARTICLES": (1, None),
    "REDIRECT_PRIORITY_ADJUST": (None, None),
    "RETRY_PRIORITY_ADJUST": (None, None),
    "DEPTH_PRIORITY": (None, None),
}

#: Whole-number settings (by their default) that take seconds and so fractions too.
_SECONDS_SUFFIXES = ("_DELAY", "_TIMEOUT", "_WAIT", "_SECONDS", "_INTERVAL", "_MAXDELAY", "_TIMEOUT_NO_ITEM")
_TRUE_FALSE = ("1", "0", "True", "False", "true", "false")  # what Scrapy's Settings.getbool accepts
_LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")


class SettingError(ValueError):
    """A ``-s`` value that cannot be used; the message names the setting and the value given."""


def known_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Every setting name a crawl knows, with its value before ``-s``: those of ``settings``
    (Scrapy's defaults and the project's, as ``get_project_settings()`` holds them) and
    :data:`EXTRA_NAMES` (None)."""
    known = {name: settings[name] for name in settings}
    for name in EXTRA_NAMES:
        known.setdefault(name, None)
    return known


def check_setting(name: str, value: str, known: Mapping[str, Any]) -> None:
    """Check one ``-s NAME=VALUE`` against the settings a crawl ``known``\\ s (:func:`known_settings`).

    A name must be known (a misspelling is told the closest known names, by
    :func:`difflib.get_close_matches`); the value must parse as the default's type the way Scrapy's
    ``Settings.getbool/getint/getfloat/getlist/getdict`` will read it (a whole-number setting in
    seconds takes fractions too); numbers must be finite and in range (0 or more unless
    :data:`RANGES` says otherwise); ``LOG_LEVEL`` a level name, ``ARCHIVE_DEFAULT_TZ`` an IANA
    time zone, ``ARCHIVE_EXTRACT_WORKERS`` ``None`` or a count.

    :raises SettingError: saying which setting, what was given and what it must be.
    """
    if name not in known:
        close = difflib.get_close_matches(name.upper(), known, n=3, cutoff=0.75)  # setting names are upper case
        hint = f": did you mean {' or '.join(close)}?" if close else " (neither Scrapy's nor newscrawler's)"
        raise SettingError(f"unknown setting {name}{hint}")
    if name in OPTIONS:
        raise SettingError(f"{name} is set by {OPTIONS[name]}, not by -s")
    if name in CHECKED_WHERE_READ:
        return
    default = known[name]
    if name == "ARCHIVE_EXTRACT_WORKERS":
        if value != "None":
            _number(name, value, int, "None or a whole number")
    elif name == "ARCHIVE_DEFAULT_TZ":
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise SettingError(f"{name} must be an IANA time zone name such as Europe/Paris, "
                               f"got {value!r}") from None
    elif name.endswith("LOG_LEVEL") and isinstance(default, str) and default in _LOG_LEVELS:
        if value.upper() not in _LOG_LEVELS:
            raise SettingError(f"{name} must be one of {', '.join(_LOG_LEVELS)}, got {value!r}")
    elif isinstance(default, bool):
        if value not in _TRUE_FALSE:
            raise SettingError(f"{name} must be True or False (or 1 or 0), got {value!r}")
    elif isinstance(default, int):
        seconds = name.endswith(_SECONDS_SUFFIXES)
        _number(name, value, float if seconds else int,
                "a number of seconds" if seconds else "a whole number")
    elif isinstance(default, float):
        _number(name, value, float, "a number")
    elif isinstance(default, (list, tuple)):
        items = [v.strip() for v in value.split(",")] if value.strip() else []
        if default and all(isinstance(v, int) and not isinstance(v, bool) for v in default):
            for item in items:
                try:
                    int(item)
                except ValueError:
                    raise SettingError(f"{name} must be whole numbers separated by commas, "
                                       f"got {value!r}") from None
    elif isinstance(default, Mapping):  # Scrapy holds dict settings as BaseSettings
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise SettingError(f"{name} must be a JSON object such as "
                               f"'{{\"name\": 100}}', got {value!r}")


def _number(name: str, value: str, kind: type, what: str) -> None:
    """Check ``value`` parses as ``kind`` (int or float), finite and in :data:`RANGES` (default 0 or more)."""
    try:
        number = kind(value)
    except ValueError:
        number = None
    lowest, highest = RANGES.get(name, (0, None))
    ok = number is not None and math.isfinite(number) and (lowest is None or number >= lowest) \
        and (highest is None or number <= highest)
    if not ok:
        if lowest is not None and highest is not None:
            bounds = f" from {lowest:g} to {highest:g}"
        elif lowest is not None:
            bounds = f", {lowest:g} or more"
        else:
            bounds = ""
        raise SettingError(f"{name} must be {what}{bounds}, got {value!r}")
