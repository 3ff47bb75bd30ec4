"""The watched-sites file for cron: which sitemaps and feeds to read per site, and how (TOML)."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path
from typing import Any

import lxml.etree

from newscrawler.urls import registered_domain

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
    :data:`NOTIFY_OPTIONS` without their ``notify_`` prefix; :mod:`newscrawler.notify`).
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

    def allows(self, url: str) -> bool:
        """Whether an article URL passes this site's allow and deny patterns."""
        if any(p.search(url) for p in self.deny):
            return False
        return not self.allow or any(p.search(url) for p in self.allow)


def load_sites(path: str | Path) -> list[SiteConfig]:
    """Read a watched-sites file: a TOML array of ``[[site]]`` tables (see :data:`EXAMPLE`).

    :raises ValueError: with the file, site and key at fault, for a file that is not TOML, a site
        without name or without any sitemap or feed, a key of the wrong type, an unknown key, or a
        pattern or XPath that does not compile.
    :raises OSError: when the file cannot be read.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML: {exc}") from exc
    tables = data.get("site")
    if not isinstance(tables, list) or not tables:
        raise ValueError(f"{path}: no [[site]] tables")
    known = {"name", "sitemaps", "feeds", "allow", "deny", "prune_xpath", "recheck", "domains", "notify",
             *(f"notify_{option}" for option in NOTIFY_OPTIONS)}
    sites = []
    for number, table in enumerate(tables, start=1):
        where = f"{path}: site {table.get('name') or number}"
        unknown = set(table) - known
        if unknown:
            raise ValueError(f"{where}: unknown keys {sorted(unknown)} (known: {sorted(known)})")
        lists = {key: table.get(key, []) for key in ("sitemaps", "feeds", "allow", "deny", "prune_xpath", "domains",
                                                      "notify")}
        for key, value in lists.items():
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"{where}: {key} must be a list of strings")
        if not isinstance(table.get("name"), str) or not table["name"].strip():
            raise ValueError(f"{where}: name must be a non-empty string")
        if not lists["sitemaps"] and not lists["feeds"]:
            raise ValueError(f"{where}: give at least one of sitemaps or feeds")
        recheck = table.get("recheck", True)
        if not isinstance(recheck, bool):
            raise ValueError(f"{where}: recheck must be true or false")
        try:
            allow = [re.compile(p) for p in lists["allow"]]
            deny = [re.compile(p) for p in lists["deny"]]
        except re.error as exc:
            raise ValueError(f"{where}: bad pattern {exc.pattern!r}: {exc}") from exc
        for expression in lists["prune_xpath"]:
            try:
                lxml.etree.XPath(expression)
            except lxml.etree.XPathSyntaxError as exc:
                raise ValueError(f"{where}: bad prune_xpath {expression!r}: {exc}") from exc
        domains = {registered_domain(u) for u in lists["sitemaps"] + lists["feeds"]} | set(lists["domains"])
        options = {option: table[f"notify_{option}"] for option in NOTIFY_OPTIONS if f"notify_{option}" in table}
        _check_notify(where, lists["notify"], options)
        sites.append(SiteConfig(table["name"].strip(), lists["sitemaps"], lists["feeds"], allow, deny,
                                lists["prune_xpath"], recheck, domains, lists["notify"], options))
    return sites


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
