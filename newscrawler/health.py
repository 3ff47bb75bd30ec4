"""Site health: each site's crawl against the baseline of its recent crawls, so a redesign that breaks
extraction, a new wall, a robots.txt that now forbids everything or an emptied sitemap raises an alert.

Measuring and deciding are pure (:func:`site_metrics`, :func:`baseline`, :func:`departures`,
:func:`status`); :func:`check_crawl` reads a crawl's captures through :class:`newscrawler.store.Archive`,
writes one ``site_health`` row per site and queues one alert per departing site through the same
channels as the change notifications (:mod:`newscrawler.notify`). No tool of the field measured this;
the rules are ours (thresholds in the ``ARCHIVE_HEALTH_*`` settings, docs/notifications.md).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import statistics
from collections.abc import Iterable, Sequence
from typing import Any

from newscrawler.dates import utcnow_iso
from newscrawler.urls import registered_domain

logger = logging.getLogger(__name__)

#: Capture shares measured, by ``site_health`` column: the outcomes that say a page held no usable article.
SHARES = ("not_article", "failed", "not_comparable")
#: Field coverage measured among the captures that show a version, by ``site_health`` column.
COVERAGE = {"headline": "has_headline", "date": "has_date", "authors": "has_authors"}
#: Prefix of the stats that count sitemap and syndication feed entries read per registered domain.
ENTRIES_STAT = "archive/discovery/entries/"
#: Prefix of the stats that say, per registered domain, why a sitemap or feed could not be read.
UNREADABLE_STAT = "archive/discovery/unreadable/"


@dataclasses.dataclass(frozen=True)
class Thresholds:
    """When a crawl departs from its site's baseline (the ``ARCHIVE_HEALTH_*`` settings).

    ``baseline_crawls``: healthy crawls the baseline is made of, newest first; ``min_crawls``: how many of
    them an alert needs; ``min_captures``: captures a crawl needs for the share and coverage rules;
    ``share_rise``: rise (0..1) of a share over its baseline; ``body_ratio``: share of the baseline's
    median body length under which bodies departed; ``coverage_drop``: fall (0..1) of a field's coverage.
    """

    baseline_crawls: int = 5
    min_crawls: int = 2
    min_captures: int = 3
    share_rise: float = 0.3
    body_ratio: float = 0.5
    coverage_drop: float = 0.4

    @classmethod
    def from_settings(cls, settings: Any) -> Thresholds:
        return cls(settings.getint("ARCHIVE_HEALTH_BASELINE_CRAWLS", 5),
                   settings.getint("ARCHIVE_HEALTH_MIN_CRAWLS", 2),
                   settings.getint("ARCHIVE_HEALTH_MIN_CAPTURES", 3),
                   settings.getfloat("ARCHIVE_HEALTH_SHARE_RISE", 0.3),
                   settings.getfloat("ARCHIVE_HEALTH_BODY_RATIO", 0.5),
                   settings.getfloat("ARCHIVE_HEALTH_COVERAGE_DROP", 0.4))


def site_metrics(captures: Iterable[dict[str, Any]], entries: dict[str, int],
                 unreadable: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """Per registered domain, what a crawl's captures looked like.

    ``captures``: rows as :meth:`newscrawler.store.Archive.crawl_captures` gives them; ``entries``:
    sitemap and feed entries read per registered domain; ``unreadable``: why a sitemap or feed of a
    domain could not be read (kept under ``"unreadable"``). Returns ``{site: {"captures", "entries",
    "extracted", "body_chars" (median, characters, or None), "not_article", "failed",
    "not_comparable" (shares 0..1, None without captures), "headline", "date", "authors" (coverage
    0..1 among the extracted, None without any), "robots" (failed captures refused by robots.txt)}}``.
    """
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in captures:
        site = row.get("site") or registered_domain(row["url"])
        grouped.setdefault(site, []).append(row)
    out = {}
    for site in set(grouped) | set(entries):
        rows = grouped.get(site, [])
        shown = [r for r in rows if r.get("body_chars") is not None]
        n = len(rows)
        median = int(statistics.median(r["body_chars"] for r in shown)) if shown else None
        metrics: dict[str, Any] = {"captures": n, "entries": entries.get(site), "extracted": len(shown),
                                   "body_chars": median,
                                   "robots": sum(1 for r in rows if r["outcome"] == "failed"
                                                 and "robots.txt" in (r.get("error") or "")),
                                   "unreadable": (unreadable or {}).get(site)}
        for share in SHARES:
            metrics[share] = sum(1 for r in rows if r["outcome"] == share) / n if n else None
        for field, column in COVERAGE.items():
            metrics[field] = sum(1 for r in shown if r.get(column)) / len(shown) if shown else None
        out[site] = metrics
    return out


def baseline(history: Sequence[dict[str, Any]], thresholds: Thresholds) -> dict[str, Any]:
    """The baseline of a site from its earlier ``site_health`` rows (newest first): the means of the
    healthy ones (status ``ok`` or ``learning``) among the last ``baseline_crawls``, each metric over
    the rows that measured it (shares and coverage: rows with ``min_captures``). Returns the means by
    metric and, under ``"crawls"``, how many rows each mean is of (``{"crawls": {metric: n}}``)."""
    healthy = [h for h in history if h["status"] in ("ok", "learning")][:thresholds.baseline_crawls]
    means: dict[str, Any] = {"crawls": {}}
    for metric in (*SHARES, *COVERAGE, "body_chars", "entries"):
        if metric in SHARES:
            values = [h[metric] for h in healthy if h[metric] is not None and h["captures"] >= thresholds.min_captures]
        elif metric in COVERAGE or metric == "body_chars":
            values = [h[metric] for h in healthy if h[metric] is not None and h["extracted"] >= thresholds.min_captures]
        else:
            values = [h[metric] for h in healthy if h[metric] is not None]
        means["crawls"][metric] = len(values)
        means[metric] = statistics.fmean(values) if values else None
    return means


def _pct(share: float) -> str:
    return f"{share * 100:.0f}%"


_SHARE_WORDS = {"not_article": "pages without an article", "failed": "failed fetches",
                "not_comparable": "pages not comparable (walls, teasers, error pages)"}


def departures(current: dict[str, Any], base: dict[str, Any], thresholds: Thresholds) -> list[str]:
    """How a crawl's metrics (:func:`site_metrics`) depart from the site's :func:`baseline`, in words;
    empty when they do not, or when the baseline has fewer than ``min_crawls`` crawls of a metric."""
    reasons = []

    def known(metric: str) -> bool:
        return base[metric] is not None and base["crawls"][metric] >= thresholds.min_crawls

    if current["captures"] >= thresholds.min_captures:
        for share in SHARES:
            if known(share) and current[share] - base[share] >= thresholds.share_rise:
                words = _SHARE_WORDS[share]
                if share == "failed" and current["robots"] * 2 >= current["failed"] * current["captures"]:
                    words = "fetches refused by robots.txt"
                reasons.append(f"{_pct(current[share])} {words} (baseline {_pct(base[share])})")
    if current["extracted"] >= thresholds.min_captures:
        if known("body_chars") and current["body_chars"] < thresholds.body_ratio * base["body_chars"]:
            reasons.append(f"median body {current['body_chars']} characters (baseline {base['body_chars']:.0f})")
        for field in COVERAGE:
            if known(field) and base[field] - current[field] >= thresholds.coverage_drop:
                reasons.append(f"{field} found in {_pct(current[field])} of articles (baseline {_pct(base[field])})")
    if current["entries"] == 0 and known("entries") and base["entries"] >= 1:
        if current.get("unreadable"):
            reasons.append(f"sitemaps or syndication feeds could not be read: {current['unreadable']} "
                           f"(baseline {base['entries']:.0f} entries)")
        else:
            reasons.append(f"sitemaps and syndication feeds list no articles (baseline {base['entries']:.0f})")
    return reasons


def status(reasons: list[str], base: dict[str, Any], previous: dict[str, Any] | None,
           thresholds: Thresholds, judged: bool = True) -> str:
    """``alert`` (a departure, new), ``ongoing`` (the previous crawl departed too: no second alert; or
    it did and this crawl had too few captures to tell, ``judged`` False), ``learning`` (no metric has
    ``min_crawls`` baseline crawls yet) or ``ok``."""
    departed_before = previous is not None and previous["status"] in ("alert", "ongoing")
    if reasons or (departed_before and not judged):
        return "ongoing" if departed_before else "alert"
    if max(base["crawls"].values(), default=0) < thresholds.min_crawls:
        return "learning"
    return "ok"


def from_stats(stats: dict[str, Any], prefix: str) -> dict[str, Any]:
    """Per registered domain, the stats under ``prefix`` (:data:`ENTRIES_STAT`, :data:`UNREADABLE_STAT`)."""
    return {key[len(prefix):]: value for key, value in stats.items() if key.startswith(prefix)}


def check_crawl(archive: Any, crawl_id: int, stats: dict[str, Any], settings: Any, channels: Sequence[Any] = (),
                sites: Sequence[Any] = ()) -> list[str]:
    """Measure crawl ``crawl_id`` per site against each site's baseline, write its ``site_health`` rows,
    and queue one alert per site that newly departs on the ``channels`` that cover it
    (:func:`newscrawler.notify.queue_rows`; ``sites``: the watched sites, for their names).

    Returns the new alerts in words, one per site (``"example.org: 100% pages without an article
    (baseline 0%)"``), for the crawl's summary line; each is logged as a WARNING.
    """
    from newscrawler import notify

    thresholds = Thresholds.from_settings(settings)
    names = {domain: site.name for site in sites for domain in site.domains}
    public_url = settings.get("ARCHIVE_PUBLIC_URL")
    alerts = []
    now = utcnow_iso()
    measured = site_metrics(archive.crawl_captures(crawl_id), from_stats(stats, ENTRIES_STAT),
                            from_stats(stats, UNREADABLE_STAT))
    for site, current in sorted(measured.items()):
        history = archive.site_health_history(site, crawl_id, thresholds.baseline_crawls * 4)
        base = baseline(history, thresholds)
        reasons = departures(current, base, thresholds)
        state = status(reasons, base, history[0] if history else None, thresholds,
                       judged=current["captures"] >= thresholds.min_captures)
        archive.insert_site_health({
            "crawl_id": crawl_id, "site": site, "checked_at": now,
            **{k: v for k, v in current.items() if k not in ("robots", "unreadable")},
            "baseline_crawls": max(base["crawls"].values(), default=0),
            "baseline": json.dumps(base, sort_keys=True), "status": state,
            "reasons": json.dumps(reasons) if reasons else None})
        if state != "alert":
            continue
        label = f"{names[site]} ({site})" if site in names else site
        alert = f"{label}: " + "; ".join(reasons)
        alerts.append(alert)
        logger.warning("site health: crawl %d departs from the baseline of %s", crawl_id, alert)
        link = (f"{public_url.rstrip('/')}/{notify.database_name(archive.path)}/site_health_alerts"
                if public_url else None)
        text = "\n".join([f"Crawl {crawl_id} of {label} departs from the site's recent crawls:",
                          *(f"- {r}" for r in reasons),
                          "Extraction may have broken (a redesign), or a wall, a robots.txt or an empty "
                          "sitemap keeps the articles out.", *([f"site health: {link}"] if link else [])]) + "\n"
        html = "<p>" + "<br>".join(notify.html_lib.escape(line) for line in text.splitlines()) + "</p>"
        message = notify.Message(f"Site health: {label} departs from its baseline", text, html)
        site_name = names.get(site)

        def passes(filters: notify.Filters, site: str = site, site_name: str | None = site_name) -> bool:
            return not filters.sites or bool({site, site_name} & filters.sites)

        rows = notify.queue_rows(channels, "health", f"health:{crawl_id}:{site}", message, now, site=site,
                                 passes=passes, crawl_id=crawl_id)
        if rows:
            archive.queue_notifications(rows)
    return alerts
