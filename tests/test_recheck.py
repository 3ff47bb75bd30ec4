"""Re-checks: conditional requests, identical bytes, gone articles, the watched-sites file."""

from __future__ import annotations

import json

from tests.crawling import rows, run_crawl, summary
from tests.site import load_fixture_pages, status_route

FIXTURES = {c["name"]: c for c in load_fixture_pages() if c["expected"].get("is_article", True)}


def _serve(site):
    for name, case in FIXTURES.items():
        site.add_page(f"/news/{name}.html", case["html"])
    site.write_discovery()
    return [site.url(f"/news/{name}.html") for name in FIXTURES]


def _make_all_due(db):
    import sqlite3

    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE articles SET next_check_at = '2000-01-01T00:00:00Z'")
    conn.close()


def test_recheck_of_unchanged_archive_makes_no_extraction(loopback_site, tmp_path):
    urls = _serve(loopback_site)
    db = tmp_path / "news.db"
    run_crawl(db, loopback_site.url("/sitemap.xml"))
    assert rows(db, "SELECT count(*) FROM articles WHERE next_check_at IS NOT NULL") == [(len(urls),)]
    _make_all_due(db)
    loopback_site.clear_log()
    proc = run_crawl(db, "--recheck")
    assert summary(proc)["not modified"] == len(urls)
    sent = [headers for method, path, headers in loopback_site.requests if path.startswith("/news/")]
    assert len(sent) == len(urls)
    assert all("If-None-Match" in h and "If-Modified-Since" in h for h in sent)
    [(stats,)] = rows(db, "SELECT stats FROM crawls ORDER BY id DESC LIMIT 1")
    stats = json.loads(stats)
    assert stats["archive/shortcut/not_modified"] == len(urls)
    # nothing extracted, and no worker process started (no archive/extraction/processes_started)
    assert stats["archive/extraction/workers"] >= 1
    assert not [k for k in stats if k.startswith("archive/extraction/") and k != "archive/extraction/workers"]
    assert rows(db, "SELECT DISTINCT outcome, note FROM captures WHERE discovered_via = 'recheck'") == [
        ("not_modified", "304 to a conditional request: not extracted")]
    # Nothing is due right after a re-check.
    loopback_site.clear_log()
    assert summary(run_crawl(db, "--recheck"))["fetched"] == 0


def test_identical_bytes_skip_extraction(loopback_site, tmp_path):
    urls = _serve(loopback_site)
    db = tmp_path / "news.db"
    run_crawl(db, *urls)
    again = run_crawl(db, *urls)  # named URLs: fetched in full, no validators sent
    assert summary(again)["revisits"] == len(urls)
    assert rows(db, "SELECT DISTINCT note FROM captures WHERE outcome = 'revisit'") == [
        ("same bytes as the last capture: not extracted",)]


def test_recheck_finds_edit_and_gone_article(loopback_site, tmp_path):
    urls = _serve(loopback_site)
    db = tmp_path / "news.db"
    run_crawl(db, loopback_site.url("/sitemap.xml"))
    names = list(FIXTURES)
    edited = FIXTURES[names[0]]["html"].replace("</h1>", " (updated)</h1>", 1)
    loopback_site.add_page(f"/news/{names[0]}.html", edited)
    loopback_site.add_route(f"/news/{names[1]}.html", status_route(410))
    _make_all_due(db)
    proc = run_crawl(db, "--recheck")
    counts = summary(proc)
    assert (counts["changed"], counts["not modified"]) == (1, len(urls) - 2)
    [(gone_url, gone_at, next_check)] = rows(db, "SELECT url, gone_at, next_check_at FROM articles "
                                                 "WHERE gone_at IS NOT NULL")
    assert gone_url == urls[1] and next_check is None
    assert rows(db, "SELECT count(*) FROM versions v JOIN articles a ON a.id = v.article_id WHERE a.url = ?",
                (urls[1],)) == [(1,)]  # the gone article keeps its version
    [(headline, changed)] = rows(db, "SELECT headline, changed FROM versions WHERE version = 2")
    assert headline.endswith("(updated)")
    assert "headline" in json.loads(changed) and "body" not in json.loads(changed)


def test_sites_file(loopback_site, tmp_path):
    urls = _serve(loopback_site)
    loopback_site.add_page("/video/clip.html", FIXTURES[next(iter(FIXTURES))]["html"])
    loopback_site.write_discovery()
    sites = tmp_path / "sites.toml"
    sites.write_text(f"""
[[site]]
name = "loopback"
sitemaps = ["{loopback_site.url('/sitemap.xml')}"]
feeds = ["{loopback_site.url('/rss.xml')}"]
deny = ['/video/']
prune_xpath = ['//figcaption', '//p[contains(., "Clinton (left)")]']
recheck = false
""")
    db = tmp_path / "news.db"
    run_crawl(db, "--sites", str(sites))
    assert {u for (u,) in rows(db, "SELECT url FROM articles")} == set(urls)
    bodies = [b for (b,) in rows(db, "SELECT body FROM versions")]
    assert not any("Clinton (left)" in b for b in bodies)
    _make_all_due(db)
    loopback_site.clear_log()
    proc = run_crawl(db, "--sites", str(sites), "--recheck")
    assert summary(proc)["fetched"] == 0  # recheck = false for this site


def test_bad_sites_file_is_a_clear_error(tmp_path):
    sites = tmp_path / "sites.toml"
    sites.write_text('[[site]]\nname = "x"\nsitemaps = ["https://example.com/s.xml"]\ndeny = ["("]\n')
    proc = run_crawl(tmp_path / "news.db", "--sites", str(sites), check=False)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        f"{sites}: site 'x': deny = '(': not a regular expression: missing ), unterminated subpattern at "
        "position 0; site skipped",
        f"Error: {sites}: no site can be crawled (each one is skipped above)"]
