"""Full crawls of a loopback news site through the real command: spiders, pipelines, archive."""

from __future__ import annotations

import json
import re

import pytest

from tests.archive_checks import numbered_story
from tests.crawling import REPO, rows, run, run_crawl, summary
from tests.hooks import extensions_setting
from tests.metrics import shingle_f1
from tests.site import load_fixture_pages

FIXTURES = {c["name"]: c for c in load_fixture_pages()}
ARTICLE_NAMES = [n for n, c in FIXTURES.items() if c["expected"].get("is_article", True)]


def serve_fixtures(site):
    """The fixture articles at /news/<name>.html, listed in every sitemap and feed."""
    for name in ARTICLE_NAMES:
        site.add_page(f"/news/{name}.html", FIXTURES[name]["html"])
    site.write_discovery()
    return {site.url(f"/news/{name}.html"): name for name in ARTICLE_NAMES}


def archived_urls(db):
    return {url for (url,) in rows(db, "SELECT url FROM articles")}


@pytest.mark.parametrize("entry", ["/sitemap.xml", "/sitemap_index.xml.gz", "/news-sitemap.xml",
                                   "/rss.xml", "/atom.xml", "/robots.txt", "/"])
def test_every_discovery_mode_archives_every_article(loopback_site, tmp_path, entry):
    urls = serve_fixtures(loopback_site)
    db = tmp_path / "news.db"
    proc = run_crawl(db, loopback_site.url(entry))
    assert archived_urls(db) == set(urls)
    assert summary(proc)["new"] == len(urls)
    assert rows(db, "SELECT count(*) FROM versions") == [(len(urls),)]
    for name in ARTICLE_NAMES:  # each article page fetched once, however many lists name it
        assert loopback_site.hits[f"/news/{name}.html"] == 1


def test_news_sitemap_title_and_date_are_kept_as_hints(loopback_site, tmp_path):
    html = FIXTURES["www.coastlinetimes.example.harbour-dredging-delayed"]["html"]
    html = re.sub(r'<meta[^>]+(published_time|datePublished)[^>]*>', "", html)
    html = re.sub(r'"datePublished":\s*"[^"]*",?', "", html)
    html = re.sub(r"<time[^>]*>", "<time>", html)
    loopback_site.add_page("/news/harbour.html", html, published=__import__("datetime").datetime(2026, 3, 4, 6, 30))
    loopback_site.write_discovery()
    db = tmp_path / "news.db"
    run_crawl(db, loopback_site.url("/news-sitemap.xml"))
    [(published, raw)] = rows(db, "SELECT date_published, date_published_raw FROM versions")
    assert (published, raw) in {("2026-03-04T06:30:00Z", "2026-03-04T06:30:00+00:00"),
                                ("2026-03-04", raw)}


def test_seed_case_archived_body(loopback_site, tmp_path):
    """The RFE/RL page: the body is the story; its rferl.org canonical does not become the key."""
    case = FIXTURES["www.rferl.org.putin-nato-clinton"]
    loopback_site.add_page("/a/putin-nato-clinton-stone/28530006.html", case["html"])
    url = loopback_site.url("/a/putin-nato-clinton-stone/28530006.html")
    db = tmp_path / "news.db"
    run_crawl(db, url + "?utm_source=twitter&utm_medium=social")
    [(key, canonical, body, headline)] = rows(
        db, "SELECT a.url, a.canonical_url, v.body, v.headline FROM articles a "
            "JOIN versions v ON v.article_id = a.id")
    assert key == url
    assert canonical == "https://www.rferl.org/a/putin-nato-clinton-stone/28530006.html"
    assert headline == case["expected"]["headline"]
    assert body.startswith("Russian President Vladimir Putin has claimed")
    for paragraph in case["expected"]["body_must_contain"]:
        assert paragraph in body.split("\n\n")
    for gone in ("Accessibility links", "Breaking News", "16x9 Image",
                 "RFE/RL journalists report the news in 27 languages"):
        assert gone not in body


def test_recrawl_of_unchanged_pages_adds_captures_not_versions(loopback_site, tmp_path):
    urls = serve_fixtures(loopback_site)
    db = tmp_path / "news.db"
    run_crawl(db, loopback_site.url("/sitemap.xml"))
    again = run_crawl(db, *urls)  # named article URLs are always fetched
    assert summary(again)["revisits"] == len(urls)
    assert rows(db, "SELECT count(*) FROM versions") == [(len(urls),)]
    assert rows(db, "SELECT outcome, count(*) FROM captures GROUP BY outcome ORDER BY outcome") == [
        ("new", len(urls)), ("revisit", len(urls))]
    # The sitemap again: nothing newer than the last capture, so nothing is fetched.
    loopback_site.clear_log()
    quiet = run_crawl(db, loopback_site.url("/sitemap.xml"))
    assert summary(quiet)["fetched"] == 0
    assert not [p for p in loopback_site.hits if p.startswith("/news/")]


def test_edit_with_lastmod_bumped_adds_exactly_one_version(loopback_site, tmp_path):
    urls = serve_fixtures(loopback_site)
    db = tmp_path / "news.db"
    run_crawl(db, loopback_site.url("/sitemap_index.xml.gz"))
    name = "www.coastlinetimes.example.harbour-dredging-delayed"
    edited = FIXTURES[name]["html"].replace("300,000 euros", "350,000 euros")
    assert edited != FIXTURES[name]["html"]
    loopback_site.add_page(f"/news/{name}.html", edited)
    loopback_site.write_discovery()
    proc = run_crawl(db, loopback_site.url("/sitemap_index.xml.gz"))
    assert summary(proc) == {"fetched": 1, "new": 0, "changed": 1, "reverted": 0, "revisits": 0, "not modified": 0,
                             "not comparable": 0, "not articles": 0, "gone": 0, "failed": 0}
    counts = dict(rows(db, "SELECT a.url, count(*) FROM versions v JOIN articles a "
                           "ON a.id = v.article_id GROUP BY a.url"))
    assert counts == {url: (2 if n == name else 1) for url, n in urls.items()}
    [(changed, body)] = rows(db, "SELECT changed, body FROM versions WHERE version = 2")
    assert json.loads(changed) == ["date_modified", "body"]  # the sitemap lastmod moved too
    assert "350,000 euros" in body

    diff = run([*_cli(), "diff", site_url := loopback_site.url(f"/news/{name}.html"), "--db", str(db)])
    assert "[-300,000-] {+350,000+}" in diff.stdout
    history = run([*_cli(), "history", site_url, "--db", str(db)])
    assert "v2" in history.stdout and "[update: date_modified, body]" in history.stdout


def test_pages_that_are_not_articles_are_recorded_as_such(loopback_site, tmp_path):
    loopback_site.add_page("/local/", FIXTURES["www.northfieldcourier.example.section-local"]["html"])
    loopback_site.add_file("/report.pdf", (REPO / "tests" / "fixtures" / "report.pdf").read_bytes())
    loopback_site.add_file("/mislabelled.html", (REPO / "tests" / "fixtures" / "report.pdf").read_bytes(),
                           content_type="text/html")
    loopback_site.add_file("/empty.html", b"", content_type="text/html")
    # No type given and bytes that are no known format: Scrapy reads the response as binary.
    loopback_site.add_file("/unlabelled", bytes(range(256)) * 64, content_type="")
    db = tmp_path / "news.db"
    names = ["/local/", "/report.pdf", "/mislabelled.html", "/empty.html", "/unlabelled", "/missing.html"]
    proc = run_crawl(db, *[loopback_site.url(n) for n in names], check=False)
    assert proc.returncode == 0, proc.stderr
    got = {url.replace(loopback_site.base_url, ""): (outcome, error) for url, outcome, error in rows(
        db, "SELECT requested_url, outcome, error FROM captures")}
    assert got == {
        "/local/": ("not_article", "no prose: the body is headings and link lists (a section front?)"),
        "/report.pdf": ("not_article", "not HTML: the body is a PDF (application/pdf)"),
        "/mislabelled.html": ("not_article", "not HTML: the body is a PDF (application/pdf)"),
        "/empty.html": ("not_article", "empty response"),
        "/unlabelled": ("not_article", "not HTML: the body is not text"),
        "/missing.html": ("failed", "HTTP 404"),
    }
    assert rows(db, "SELECT count(*) FROM versions") == [(0,)]


def test_unreachable_site_fails_the_crawl(tmp_path):
    db = tmp_path / "news.db"
    proc = run_crawl(db, "http://127.0.0.1:9/sitemap.xml", check=False,
                     settings=("RETRY_TIMES=0", "ROBOTSTXT_OBEY=False"))
    assert proc.returncode == 1
    assert "Error: none of the given URLs could be fetched" in proc.stderr
    [(outcome, error)] = rows(db, "SELECT outcome, error FROM captures")
    assert outcome == "failed" and "refused" in error.lower()
    [(reason, stats)] = rows(db, "SELECT finish_reason, stats FROM crawls")
    assert reason == "finished" and json.loads(stats)["archive/start/failed"] == 1


@pytest.mark.parametrize(("spider", "args"), [
    ("sitemap", ["-a", "url={base}/sitemap_index.xml.gz"]),
    ("feed", ["-a", "feed_url={base}/rss.xml,{base}/atom.xml"]),
    ("site", ["-a", "url={base}/"]),
    ("articles", ["-a", "urls={articles}"]),
])
def test_each_spider_runs_with_scrapy_crawl(loopback_site, tmp_path, spider, args):
    urls = serve_fixtures(loopback_site)
    db = tmp_path / "news.db"
    args = [a.format(base=loopback_site.base_url, articles=" ".join(urls)) for a in args]
    settings = [x for s in ("DOWNLOAD_DELAY=0", "AUTOTHROTTLE_ENABLED=False", f"ARCHIVE_DB={db}",
                            "LOG_LEVEL=WARNING") for x in ("-s", s)]
    run([_python(), "-m", "scrapy", "crawl", spider, *args, *settings])
    assert archived_urls(db) == set(urls)
    [(command,)] = rows(db, "SELECT command FROM crawls")
    assert command.startswith(f"{_python()} -m scrapy crawl {spider} -a ")  # as typed, "crawl" included


@pytest.mark.corpus
def test_corpus_sitemap_crawl_then_edits(loopback_site, tmp_path, corpus_pages):
    """The issue's acceptance run: real pages over loopback, F1 >= 0.95, then edits -> one version each."""
    paths = {}
    for page in corpus_pages:
        paths[page["id"]] = f"/articles/{page['id']}.html"
        loopback_site.add_page(paths[page["id"]], page["html"])
    loopback_site.write_discovery()
    db = tmp_path / "news.db"
    first = run_crawl(db, loopback_site.url("/sitemap.xml"), settings=("CONCURRENT_REQUESTS=32",))
    assert summary(first)["new"] == len(corpus_pages)
    bodies = dict(rows(db, "SELECT a.url, v.body FROM versions v JOIN articles a ON a.id = v.article_id"))
    predictions = {pid: bodies.get(loopback_site.url(path), "") for pid, path in paths.items()}
    _p, _r, f1 = shingle_f1(predictions, {p["id"]: p["truth"] for p in corpus_pages})
    assert f1 >= 0.95

    edited = {}
    for page in corpus_pages:
        html = _edit(page["html"], predictions[page["id"]])
        if html is not None:
            edited[page["id"]] = html
        if len(edited) == 10:
            break
    assert len(edited) == 10
    for pid, html in edited.items():
        loopback_site.add_page(paths[pid], html)
    loopback_site.write_discovery()
    second = run_crawl(db, loopback_site.url("/sitemap.xml"))
    assert summary(second)["changed"] == 10
    counts = dict(rows(db, "SELECT a.url, count(*) FROM versions v JOIN articles a "
                           "ON a.id = v.article_id GROUP BY a.url"))
    assert counts == {loopback_site.url(path): 2 if pid in edited else 1 for pid, path in paths.items()}


def _edit(html: str, body: str) -> str | None:
    """The page with one word of its article body changed (a real edit), or None if none is safe.

    The word must stand once in the page, in the text the extractor keeps (not in JSON-LD or a
    meta description only): checked by extracting the edited page.
    """
    from newscrawler.extraction import extract_article

    for paragraph in sorted(body.split("\n\n"), key=len, reverse=True)[:5]:
        for match in re.finditer(r"\b([A-Za-z]+ [A-Za-z]+ [A-Za-z]+ )([A-Za-z]{4,})\b", paragraph):
            run_ = match.group(0)
            if html.count(run_) != 1:
                continue
            edited = html.replace(run_, match.group(1) + "edited" + match.group(2).lower())
            result = extract_article(edited, "http://127.0.0.1/x")
            if result and "edited" + match.group(2).lower() in result.body:
                return edited
    return None


def _python():
    import sys

    return sys.executable


def _cli():
    return [_python(), "-m", "newscrawler"]


def test_a_big_sitemap_reaches_the_scheduler_a_batch_at_a_time(loopback_site, tmp_path):
    """Article pages wait in the spider's backlog: Scrapy's scheduler never holds more than about
    one batch (CONCURRENT_REQUESTS) of them, however long the sitemap, and every page is archived."""
    for n in range(240):
        loopback_site.add_page(f"/news/story-{n}.html", numbered_story("council", n))
    loopback_site.write_discovery()
    db = tmp_path / "news.db"
    proc = run_crawl(db, loopback_site.url("/sitemap.xml"), settings=(
        "CONCURRENT_REQUESTS=8", f"EXTENSIONS={extensions_setting('tests.hooks.SchedulerDepth')}"))
    assert summary(proc)["new"] == 240
    stats = json.loads(rows(db, "SELECT stats FROM crawls")[0][0])
    assert stats["archive/scheduled"] == stats["archive/captured"] == 240
    assert stats["scheduler/enqueued"] >= 241  # the sitemap and every page went through it
    assert 8 <= stats["test/scheduler/max_queued"] <= 2 * 8
