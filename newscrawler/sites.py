"""The watched-sites file for cron: which sitemaps and feeds to read per site, and how (TOML)."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

import lxml.etree

from newscrawler.dates import is_zone
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
timezone = "Europe/Prague"               # IANA zone of the site's dates that give no offset
"""


@dataclasses.dataclass
class SiteConfig:
    """One watched site.

    ``allow``/``deny`` are compiled regular expressions searched in article URLs (an empty
    ``allow`` allows all; ``deny`` wins); ``prune_xpath`` XPath expressions whose elements are
    removed before extraction; ``domains`` the registered domains the site's articles live on
    (from its sitemap and feed URLs, plus any listed); ``timezone`` the IANA zone in which a date
    the site gives without an offset is read (None: ``ARCHIVE_DEFAULT_TZ``).
    """

    name: str
    sitemaps: list[str]
    feeds: list[str]
    allow: list[re.Pattern[str]]
    deny: list[re.Pattern[str]]
    prune_xpath: list[str]
    recheck: bool
    domains: set[str]
    timezone: str | None = None

    def allows(self, url: str) -> bool:
        """Whether an article URL passes this site's allow and deny patterns."""
        if any(p.search(url) for p in self.deny):
            return False
        return not self.allow or any(p.search(url) for p in self.allow)


def load_sites(path: str | Path) -> list[SiteConfig]:
    """Read a watched-sites file: a TOML array of ``[[site]]`` tables (see :data:`EXAMPLE`).

    :raises ValueError: with the file, site and key at fault, for a file that is not TOML, a site
        without name or without any sitemap or feed, a key of the wrong type, an unknown key, a
        pattern or XPath that does not compile, or a timezone that is not an IANA zone name.
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
    known = {"name", "sitemaps", "feeds", "allow", "deny", "prune_xpath", "recheck", "domains", "timezone"}
    sites = []
    for number, table in enumerate(tables, start=1):
        where = f"{path}: site {table.get('name') or number}"
        unknown = set(table) - known
        if unknown:
            raise ValueError(f"{where}: unknown keys {sorted(unknown)} (known: {sorted(known)})")
        lists = {key: table.get(key, []) for key in ("sitemaps", "feeds", "allow", "deny", "prune_xpath", "domains")}
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
        timezone = table.get("timezone")
        if timezone is not None and not is_zone(timezone):
            raise ValueError(f"{where}: timezone must be an IANA zone name such as \"Europe/Berlin\", "
                             f"not {timezone!r}")
        domains = {registered_domain(u) for u in lists["sitemaps"] + lists["feeds"]} | set(lists["domains"])
        sites.append(SiteConfig(table["name"].strip(), lists["sitemaps"], lists["feeds"], allow, deny,
                                lists["prune_xpath"], recheck, domains, timezone))
    return sites
