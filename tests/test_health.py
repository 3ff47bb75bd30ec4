"""Site health: the rules on made-up crawls (pure), then real crawls of a loopback site whose template
changes so that extraction fails, whose robots.txt starts refusing the articles, or whose sitemap
empties: each raises one alert, through a real webhook and in the summary line, shown in Datasette."""

from __future__ import annotations

import json

import pytest

from newscrawler import health
from newscrawler.health import Thresholds
from tests.archive_checks import article_html
from tests.crawling import rows, run_crawl
from tests.receivers import Webhook

T = Thresholds(baseline_crawls=5, min_crawls=2, min_captures=3)


def capture(outcome: str = "new", body: int | None = 2000, headline=True, date=True, authors=True,
            error: str | None = None, site: str | None = "example.org") -> dict:
    shown = outcome in ("new", "changed", "revisit", "reverted", "not_modified")
    return {"site": site if shown else None, "url": "https://www.example.org/news/a.html", "outcome": outcome,
            "error": error, "body_chars": body if shown else None, "has_headline": headline, "has_date": date,
            "has_authors": authors}


def healthy_history(n: int = 3, entries: int = 20) -> list[dict]:
    [m] = health.site_metrics([capture() for _ in range(10)], {"example.org": entries}).values()
    return [{**m, "status": "ok", "crawl_id": 10 - i} for i in range(n)]


def check(captures: list[dict], history: list[dict] | None = None, entries: int | None = 20,
          unreadable: str | None = None) -> list[str]:
    measured = health.site_metrics(captures, {"example.org": entries} if entries is not None else {},
                                   {"example.org": unreadable} if unreadable else {})
    current = measured["example.org"]
    return health.departures(current, health.baseline(healthy_history() if history is None else history, T), T)


def test_site_metrics_shares_median_and_coverage():
    caps = [capture(body=1000), capture(body=3000, authors=False), capture(body=2000, date=False),
            capture("not_article"), capture("failed", error="IgnoreRequest: Forbidden by robots.txt")]
    [m] = health.site_metrics(caps, {"example.org": 7}).values()
    assert m == {"captures": 5, "entries": 7, "extracted": 3, "body_chars": 2000, "robots": 1, "unreadable": None,
                 "not_article": 0.2, "failed": 0.2, "not_comparable": 0.0,
                 "headline": 1.0, "date": pytest.approx(2 / 3), "authors": pytest.approx(2 / 3)}


@pytest.mark.parametrize(("captures", "words"), [
    ([capture("not_article")] * 8 + [capture()] * 2, "80% pages without an article (baseline 0%)"),
    ([capture("not_comparable")] * 10, "100% pages not comparable (walls, teasers, error pages) (baseline 0%)"),
    ([capture("failed", error="HTTP 503")] * 5, "100% failed fetches (baseline 0%)"),
    ([capture("failed", error="IgnoreRequest: Forbidden by robots.txt")] * 5,
     "100% fetches refused by robots.txt (baseline 0%)"),
    ([capture(body=300)] * 6, "median body 300 characters (baseline 2000)"),
    ([capture(date=False)] * 6, "date found in 0% of articles (baseline 100%)"),
    ([capture(authors=False, headline=False)] * 6, "headline found in 0% of articles (baseline 100%)"),
])
def test_each_departure_is_named(captures, words):
    assert words in check(captures)


def test_sitemap_empty_or_unreadable():
    assert check([], entries=0) == ["sitemaps and syndication feeds list no articles (baseline 20)"]
    assert check([], entries=0, unreadable="IgnoreRequest: Forbidden by robots.txt") == [
        "sitemaps or syndication feeds could not be read: IgnoreRequest: Forbidden by robots.txt (baseline 20 entries)"]
    assert health.site_metrics([], {}) == {}  # no discovery and no capture (a re-check): nothing to compare


@pytest.mark.parametrize("captures", [
    [capture() for _ in range(10)],  # as before
    [capture()] * 9 + [capture("not_article")],  # a little worse: within the rise allowed
    [capture("not_article")] * 2,  # too few captures to tell
    [capture(body=1200)] * 6,  # shorter, not halved
    [capture(date=False)] * 2 + [capture()] * 4,  # a few dates missing
])
def test_no_alert_within_the_baseline(captures):
    assert check(captures) == []


def test_no_alert_without_enough_baseline_and_one_alert_per_episode():
    broken = [capture("not_article")] * 10
    assert check(broken, history=healthy_history(1)) == []  # one crawl of baseline: min_crawls is 2
    base = health.baseline(healthy_history(1), T)
    assert health.status([], base, None, T) == "learning"
    base = health.baseline(healthy_history(3), T)
    reasons = check(broken)
    assert health.status(reasons, base, {"status": "ok"}, T) == "alert"
    assert health.status(reasons, base, {"status": "alert"}, T) == "ongoing"  # no second alert
    assert health.status(reasons, base, {"status": "ongoing"}, T) == "ongoing"
    assert health.status([], base, {"status": "ongoing"}, T) == "ok"  # recovered
    assert health.status([], base, {"status": "alert"}, T, judged=False) == "ongoing"  # too few captures to tell
    assert health.status([], base, {"status": "ok"}, T, judged=False) == "ok"
    # Crawls that departed never make the baseline: a lasting breakage does not become normal.
    [bad] = health.site_metrics(broken, {"example.org": 20}).values()
    history = [{**bad, "status": "ongoing"}] * 4 + healthy_history(2)
    assert check(broken, history=history) == ["100% pages without an article (baseline 0%)"]


# --- real crawls --------------------------------------------------------------------------------------

STORIES = [f"Harbour story number {n}" for n in range(6)]
HEALTH = ("ARCHIVE_HEALTH_MIN_CRAWLS=1", "ARCHIVE_PUBLIC_URL=https://archive.example.org")


def redesigned(title: str) -> str:
    """The same story after a redesign that extraction cannot read: the text is rendered by script,
    the page shows a headline and navigation only."""
    story = json.dumps({"headline": title, "paragraphs": ["The council met on Tuesday evening."] * 3})
    return (f"<!DOCTYPE html><html lang='en'><head><title>{title}</title></head><body><div id='app'>"
            f"<nav><a href='/'>Home</a> <a href='/news/'>News</a> <a href='/sport/'>Sport</a></nav>"
            f"<h1>{title}</h1><div id='root'></div></div><script>window.__STORY__ = {story};</script>"
            "</body></html>")


@pytest.mark.parametrize("change", ["template", "robots", "empty sitemap"])
def test_a_site_departing_from_its_baseline_raises_one_alert(loopback_site, tmp_path, change):
    site = loopback_site
    for n, title in enumerate(STORIES):
        site.add_page(f"/news/{n}.html", article_html(title))
    site.write_discovery()
    db = tmp_path / "news.db"
    with Webhook() as hook:
        first = run_crawl(db, site.url("/sitemap.xml"), "--notify", hook.url, settings=HEALTH)
        assert "health alerts" not in first.stdout
        if change == "template":
            for n, title in enumerate(STORIES):
                site.add_page(f"/news/{n}.html", redesigned(title))
            for n in range(3):  # and the new stories in the new template
                site.add_page(f"/news/new-{n}.html", redesigned(f"New story {n}"))
            site.write_discovery()
        elif change == "robots":
            for n, title in enumerate(STORIES):
                site.add_page(f"/news/{n}.html", article_html(title) + " ")  # a new lastmod: fetched again
            site.write_discovery()
            site.add_file("/robots.txt", "User-agent: *\nDisallow: /news/\n")
        else:
            for n in range(len(STORIES)):
                site.remove(f"/news/{n}.html")
            site.write_discovery()
        # Every fetch refused by robots.txt fails the crawl as a whole too (exit 1), as before.
        second = run_crawl(db, site.url("/sitemap.xml"), "--notify", hook.url, settings=HEALTH,
                           check=change != "robots")
        third = run_crawl(db, site.url("/sitemap.xml"), "--notify", hook.url, settings=HEALTH,
                          check=change != "robots")
    expected = {"template": "pages not comparable", "robots": "fetches refused by robots.txt",
                "empty sitemap": "sitemaps and syndication feeds list no articles (baseline 6)"}[change]
    line = second.stdout.strip().splitlines()[-1]
    assert ", health alerts 1 [127.0.0.1: " in line and expected in line, line
    assert "health alerts" not in third.stdout  # the same breakage: no second alert
    [alert] = [p for p in hook.posts if p["title"].startswith("Site health")]
    assert alert["title"] == "Site health: 127.0.0.1 departs from its baseline" and alert["type"] == "warning"
    assert expected in alert["message"] and "https://archive.example.org/news/site_health_alerts" in alert["message"]
    assert len(hook.posts) == 1  # and nothing else: a redesign is no edit
    statuses = rows(db, "SELECT crawl_id, status FROM site_health WHERE site = '127.0.0.1' ORDER BY crawl_id")
    assert statuses == [(1, "learning"), (2, "alert"), (3, "ongoing")]
    # Datasette shows it: the site_health_alerts view, newest first.
    from tests.test_datasette import get

    [response] = get(db, "/news/site_health_alerts.json?_shape=array")
    assert response.status_code == 200
    shown = response.json()
    assert [(r["crawl_id"], r["status"]) for r in shown] == [(3, "ongoing"), (2, "alert")]
    assert any(expected in reason for reason in json.loads(shown[1]["reasons"]))
