"""The watched-sites file for cron: which sitemaps and feeds to read per site, and how (TOML)."""

from __future__ import annotations

import dataclasses
import difflib
import logging
import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import lxml.etree

from newscrawler.dates import is_zone
from newscrawler.urls import registered_domain

logger = logging.getLogger(__name__)

EXAMPLE = """\
[[site]]
name = "rferl"
sitemaps = ["https://www.rferl.org/sitemap.xml"]
feeds = ["https://www.rferl.org/api/zrqiteuuir"]
allow = ['/a/']                          # regular expressions searched in article URLs
deny = ['/video/', '/podcast/']
prune_xpath = ['//div[@class="media-block"]']   # removed before extraction
recheck = true                           # re-check this site's articles on schedule
notify = ["mailto://user:password@example.org?to=desk@example.org"]   # Apprise URLs told of changes
notify_kinds = ["correction", "stealth"]  # notify_* filters: see docs/notifications.md
# shard = 2                              # crawl with --shard 2/N only (default: by domain hash)
timezone = "Europe/Prague"               # IANA zone of the site's dates that give no offset
"""

#: Per-site notification options (``notify_<name>``), as :meth:`newscrawler.notify.Filters.from_options`
#: takes them, plus ``digest``.
NOTIFY_OPTIONS = ("headline_only", "kinds", "min_words", "changes", "urls", "digest")


@dataclasses.dataclass
class SiteConfig:
    """One watched site.

    ``allow``/``deny`` are compiled regular expressions searched in article URLs (an empty
    ``allow`` allows all; ``deny`` wins); ``prune_xpath`` XPath expressions whose elements are
    removed before extraction; ``domains`` the registered domains the site's articles live on
    (from its sitemap and feed URLs, plus any listed); ``notify`` Apprise URLs told of this site's
    changes and health alerts, with ``notify_options`` (filters and ``digest``, keys of
    :data:`NOTIFY_OPTIONS` without their ``notify_`` prefix; :mod:`newscrawler.notify`);
    ``shard`` the shard (1-based) whose crawl reads the site, None to let the hash of its domain
    decide (:mod:`newscrawler.shards`);
    ``timezone`` the IANA zone in which a date the site gives without an offset is read (None:
    ``ARCHIVE_DEFAULT_TZ``).
    """

    name: str
    sitemaps: list[str]
    feeds: list[str]
    allow: list[re.Pattern[str]]
    deny: list[re.Pattern[str]]
    prune_xpath: list[str]
    recheck: bool
    domains: set[str]
    notify: list[str] = dataclasses.field(default_factory=list)
    notify_options: dict[str, Any] = dataclasses.field(default_factory=dict)
    shard: int | None = None
    timezone: str | None = None

    def allows(self, url: str) -> bool:
        """Whether an article URL passes this site's allow and deny patterns."""
        if any(p.search(url) for p in self.deny):
            return False
        return not self.allow or any(p.search(url) for p in self.allow)


FIELDS = ("name", "sitemaps", "feeds", "allow", "deny", "prune_xpath", "recheck", "domains", "shard", "timezone",
          "notify", *(f"notify_{option}" for option in NOTIFY_OPTIONS))
"""The keys a ``[[site]]`` table may have."""
_HOST_PORT = re.compile(r"[^/:]+:\d+(/|$)")
_LISTS = ("sitemaps", "feeds", "allow", "deny", "prune_xpath", "domains", "notify")


@dataclasses.dataclass(frozen=True)
class SkippedSite:
    """A ``[[site]]`` table left out of the crawl: ``file`` it is in, ``site`` (its name, or
    ``#N`` for the N-th table when it has no usable name), the ``field`` at fault, its ``value``
    and the ``reason`` in words."""

    file: str
    site: str
    field: str
    value: object
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: site {self.site}: {self.field} = {self.value!r}: {self.reason}; site skipped"


class _Bad(Exception):
    def __init__(self, field: str, value: object, reason: str):
        super().__init__(reason)
        self.field, self.value, self.reason = field, value, reason


def read_sites(path: str | Path) -> tuple[list[SiteConfig], list[SkippedSite]]:
    """Read a watched-sites file: a TOML array of ``[[site]]`` tables (see :data:`EXAMPLE`).

    Each table is checked on its own, up front: a bad one is skipped and returned with its
    reason, so one typo cannot stop the sites listed after it. A table is bad when it has an
    unknown key (the closest known one is suggested, by :func:`difflib.get_close_matches`), no
    name or the name of an earlier site, no sitemap or feed, a value of the wrong type, a sitemap
    or feed URL that is not an absolute http(s) URL or carries credentials (the crawl would refuse
    it), a pattern or XPath that does not compile, or a timezone that is not an IANA zone name.

    :returns: ``(sites, skipped)``, both in file order.
    :raises ValueError: naming the file, when it is not TOML or holds no ``[[site]]`` tables.
    :raises OSError: when the file cannot be read.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text: {exc}") from exc
    tables = data.get("site")
    if not isinstance(tables, list) or not tables or not all(isinstance(t, dict) for t in tables):
        raise ValueError(f"{path}: no [[site]] tables")
    sites: list[SiteConfig] = []
    skipped: list[SkippedSite] = []
    names: set[str] = set()
    for number, table in enumerate(tables, start=1):
        name = table.get("name")
        label = f"{name.strip()!r}" if isinstance(name, str) and name.strip() else f"#{number}"
        try:
            site = _site(table, names)
        except _Bad as bad:
            skipped.append(SkippedSite(str(path), label, bad.field, bad.value, bad.reason))
            continue
        names.add(site.name)
        sites.append(site)
    return sites, skipped


def load_sites(path: str | Path) -> list[SiteConfig]:
    """The usable sites of a watched-sites file (:func:`read_sites`); each skipped one is logged
    as a WARNING.

    :raises ValueError: as :func:`read_sites`.
    :raises OSError: when the file cannot be read.
    """
    sites, skipped = read_sites(path)
    for bad in skipped:
        logger.warning("%s", bad)
    return sites


def _site(table: dict, names: set[str]) -> SiteConfig:
    """One ``[[site]]`` table as a :class:`SiteConfig`.

    :raises _Bad: for the first field at fault.
    """
    for key in table:
        if key not in FIELDS:
            close = difflib.get_close_matches(key, FIELDS, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(FIELDS)}"
            raise _Bad(key, table[key], f"unknown key ({hint})")
    name = table.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _Bad("name", name, "must be a non-empty string")
    if name.strip() in names:
        raise _Bad("name", name, "another site above has this name")
    lists = {key: table.get(key, []) for key in _LISTS}
    for key, value in lists.items():
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _Bad(key, value, "must be a list of strings")
    if not lists["sitemaps"] and not lists["feeds"]:
        raise _Bad("sitemaps", lists["sitemaps"], "give at least one of sitemaps or feeds")
    for key in ("sitemaps", "feeds"):
        for url in lists[key]:
            problem = url_problem(url)
            if problem:
                raise _Bad(key, url, problem)
    recheck = table.get("recheck", True)
    if not isinstance(recheck, bool):
        raise _Bad("recheck", recheck, "must be true or false")
    patterns: dict[str, list[re.Pattern[str]]] = {}
    for key in ("allow", "deny"):
        patterns[key] = []
        for pattern in lists[key]:
            try:
                patterns[key].append(re.compile(pattern))
            except re.error as exc:
                raise _Bad(key, pattern, f"not a regular expression: {exc}") from exc
    for expression in lists["prune_xpath"]:
        try:
            lxml.etree.XPath(expression)
        except lxml.etree.XPathSyntaxError as exc:
            raise _Bad("prune_xpath", expression, f"not an XPath expression: {exc}") from exc
    domains = {registered_domain(u) for u in lists["sitemaps"] + lists["feeds"]} | set(lists["domains"])
    timezone = table.get("timezone")
    if timezone is not None and not is_zone(timezone):
        raise _Bad("timezone", timezone, 'must be an IANA zone name such as "Europe/Berlin"')
    shard = table.get("shard")
    if shard is not None and (isinstance(shard, bool) or not isinstance(shard, int) or shard < 1):
        raise _Bad("shard", shard, "must be a whole number from 1 (the K of --shard K/N)")
    options = {option: table[f"notify_{option}"] for option in NOTIFY_OPTIONS if f"notify_{option}" in table}
    try:
        _check_notify("", lists["notify"], options)
    except ValueError as exc:
        raise _Bad("notify", lists["notify"] or options, str(exc).removeprefix(": ")) from exc
    return SiteConfig(name.strip(), lists["sitemaps"], lists["feeds"], patterns["allow"], patterns["deny"],
                      lists["prune_xpath"], recheck, domains, lists["notify"], options, shard, timezone)


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot start a crawl, in words (with a ``did you mean https://...?`` hint for
    a URL without a scheme), or None when it is an absolute http(s) URL without credentials
    (what :class:`newscrawler.middlewares.TargetGuardMiddleware` lets through)."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError as exc:
        return f"not a URL: {exc}"
    if not parts.scheme or _HOST_PORT.match(url.strip()):  # "host:8080/path" parses as scheme "host"
        first = url.strip().split("/")[0]
        hint = f" (did you mean https://{url.strip()}?)" if "." in first or ":" in first else ""
        return f"not an absolute URL: no scheme{hint}"
    if parts.scheme.lower() not in ("http", "https"):
        return f"{parts.scheme} scheme: only http(s) URLs are fetched"
    if not parts.hostname:
        return "not an absolute URL: no host"
    if parts.username is not None or parts.password is not None:
        return "the URL carries credentials (user:password@), which are never sent"
    if any(c.isspace() for c in url.strip()):
        return "the URL contains white space"
    return None


def _check_notify(where: str, urls: list[str], options: dict[str, Any]) -> None:
    """:raises ValueError: for a notify URL Apprise does not understand or a notify_* option that does not parse."""
    from newscrawler.notify import Filters, check_url

    for url in urls:
        try:
            check_url(url)
        except ValueError as exc:
            raise ValueError(f"{where}: notify: {exc}") from exc
    filters = {k: v for k, v in options.items() if k != "digest"}
    Filters.from_options(filters, where=f"{where}: notify_")
    if "digest" in options and not isinstance(options["digest"], bool):
        raise ValueError(f"{where}: notify_digest must be true or false")
