"""Shards: which crawl process (and archive) a site belongs to, by its registered domain.

A crawl run with ``--shard K/N`` (setting ``ARCHIVE_SHARD``) reads only the sites of shard K out of N,
so N crawls, on one machine or many, split the watched sites between them with nothing shared:
each shard has its own frontier, its own politeness per site and its own SQLite archive, and no
site's history is ever split between two archives (``newscrawler merge`` joins them; see
docs/scaling.md). Shards are numbered from 1.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re

from newscrawler.urls import registered_domain

_SHARD = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


@dataclasses.dataclass(frozen=True, slots=True)
class Shard:
    """Shard ``number`` (1-based) out of ``count``."""

    number: int
    count: int

    def __str__(self) -> str:
        return f"{self.number}/{self.count}"

    def holds_domain(self, domain: str) -> bool:
        """Whether the site on registered domain ``domain`` belongs to this shard (:func:`shard_of`)."""
        return shard_of(domain, self.count) == self.number

    def holds_url(self, url: str) -> bool:
        """Whether the site of ``url`` (its registered domain) belongs to this shard."""
        return self.holds_domain(registered_domain(url))

    def holds_site(self, site: object) -> bool:
        """Whether a watched site (:class:`newscrawler.sites.SiteConfig`) belongs to this shard: its
        ``shard`` when given, else by :func:`site_domain`.

        :raises ValueError: when the site names a shard beyond ``count``.
        """
        explicit = getattr(site, "shard", None)
        if explicit is not None:
            if explicit > self.count:
                raise ValueError(f"site {site.name} has shard = {explicit}, but the crawl runs {self.count} "
                                 f"shards (--shard K/{self.count})")
            return explicit == self.number
        return self.holds_domain(site_domain(site))


def parse_shard(value: str | None) -> Shard | None:
    """``"K/N"`` (1 <= K <= N) as a :class:`Shard`; None or an empty string for no sharding.

    :raises ValueError: for any other text.
    """
    if value is None or not str(value).strip():
        return None
    found = _SHARD.fullmatch(str(value))
    if not found:
        raise ValueError(f"a shard is K/N, e.g. 1/4, got {value!r}")
    number, count = int(found[1]), int(found[2])
    if not 1 <= number <= count:
        raise ValueError(f"shard {number}/{count}: K must be between 1 and N")
    return Shard(number, count)


def shard_of(domain: str, count: int) -> int:
    """The shard (1..``count``) of a registered domain: the first 8 bytes of its SHA-256, big-endian,
    modulo ``count``, plus one. Stable across processes, machines and Python versions (unlike
    ``hash()``), so every shard of a crawl agrees without talking to the others."""
    digest = hashlib.sha256(domain.strip().lower().rstrip(".").encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def site_domain(site: object) -> str:
    """The registered domain a watched site is sharded by: that of its first sitemap, else its first
    syndication feed (the same file always gives the same domain)."""
    urls = [*getattr(site, "sitemaps", []), *getattr(site, "feeds", [])]
    return registered_domain(urls[0]) if urls else ""
