"""One small case of each churn and edit kind, through two real crawls of a loopback site."""

from __future__ import annotations

import pytest

from newscrawler.extraction import extract_article
from tests.crawling import rows, run_crawl
from tests.mutations import CHURN, EDITS
from tests.site import load_fixture_pages

PAGES = [c for c in load_fixture_pages() if c["name"] in (
    "www.coastlinetimes.example.harbour-dredging-delayed", "www.rferl.org.putin-nato-clinton")]


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    """Versions per (kind, page) after round 1 (mutation's first form) and round 2 (its second)."""
    from tests.site import LoopbackSite

    tmp = tmp_path_factory.mktemp("kinds")
    site = LoopbackSite(tmp / "site")
    plan, second = {}, {}
    with site.serve():
        for n, page in enumerate(PAGES):
            body = extract_article(page["html"], page["expected"]["url"]).body
            for kind, mutate in {**CHURN, **EDITS}.items():
                pair = mutate(page["html"], body, 101 + n)
                assert pair is not None, f"{kind} found no place in {page['name']}"
                path = f"/{kind}/{page['name']}.html"
                plan[path] = kind
                site.add_page(path, pair[0])
                second[path] = pair[1]
        site.write_discovery()
        db = tmp / "news.db"
        run_crawl(db, site.url("/sitemap.xml"))
        for path in plan:
            site.add_page(path, second[path])
        site.write_discovery()
        run_crawl(db, site.url("/sitemap.xml"))
        versions = dict(rows(db, "SELECT a.url, count(*) FROM versions v JOIN articles a ON a.id = v.article_id "
                                 "GROUP BY a.id"))
        return {(kind, path.rsplit("/", 1)[1]): versions.get(site.url(path), 0) for path, kind in plan.items()}


@pytest.mark.parametrize("kind", list(CHURN))
def test_churn_makes_no_version(crawled, kind):
    counts = {page: n for (k, page), n in crawled.items() if k == kind}
    assert counts and all(n == 1 for n in counts.values()), counts


@pytest.mark.parametrize("kind", list(EDITS))
def test_edit_makes_exactly_one_version(crawled, kind):
    counts = {page: n for (k, page), n in crawled.items() if k == kind}
    assert counts and all(n == 2 for n in counts.values()), counts
