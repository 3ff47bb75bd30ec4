"""The 18 shared failure cases (../shared/cases) as full crawls: served on loopback as each README says,
crawled by the real ``newscrawler crawl`` into a real archive, every expectation of ``expected.json``
checked against that archive (#20 part 8).

Each test reads its case's expectations through :class:`tests.cases.Expectations` and ends with
``assert expect.unchecked() == []``, so an expectation added to a case fails here until it is
checked. Cases whose fix belongs to another issue are ``xfail(strict=True)`` with that issue.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path

import pytest

from newscrawler import versioning
from newscrawler.changes import diff_paragraphs, diff_words
from newscrawler.charsets import decode_html
from newscrawler.store import Archive
from tests.cases import CaseWorld, Expectations, case_input, read_headers, texts_in_order
from tests.crawling import REPO


def _dt(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _only_version(world: CaseWorld) -> dict:
    versions = world.versions()
    assert len(versions) == 1, [v["headline"] for v in versions]
    return versions[0]


def check_body(expect: Expectations, body: str) -> None:
    """The body expectations a case may carry, against a stored version's body."""
    for text in expect.get("body_contains", []):
        assert text in body, text
    for key in ("body_not_contains", "stored_body_not_contains"):
        for text in expect.get(key, []):
            assert text not in body, text
    assert list(texts_in_order(body, expect.get("body_contains_in_order", []))) == []
    for text in expect.get("each_update_text_exactly_once", []):
        assert body.count(text) == 1, text
    if "stored_body_chars_below" in expect:
        assert len(body) < expect["stored_body_chars_below"]
    if "max_consecutive_pipe_chars" in expect:
        longest = max((len(run) for run in re.findall(r"\|+", body.replace(" ", ""))), default=0)
        assert longest <= expect["max_consecutive_pipe_chars"]


def crawl_page(world: CaseWorld, url: str, name: str, *, settings: tuple[str, ...] = (),
               headers: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    world.serve(url, case_input(name), headers=headers)
    proc = world.crawl(url, settings=settings)
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return proc


# -- extraction and dates: one page, one crawl ------------------------------------------------------

PAGE_CASES = {
    "C01": "https://ledger.example/transport/council-delays-tram-vote",
    "C02": "https://vbpost.example/finance/regional-bank-raises-deposit-rates",
    "C04": "https://magazine.example/features/night-train",
    "C05": "https://climate.example/news/october-rainfall-records",
    "C21": "https://towncouncil.example/news/parking-charges",
}


@pytest.mark.parametrize("case_id", list(PAGE_CASES))
def test_case_page_is_archived_with_its_article_only(tmp_path, case_id):
    expect = Expectations(case_id)
    url = PAGE_CASES[case_id]
    settings = ()
    if "finishes_within_seconds" in expect:  # the extraction worker is killed past this
        settings = (f"ARCHIVE_EXTRACT_TIMEOUT={expect['finishes_within_seconds']}",)
    with CaseWorld(tmp_path, [url.split("/")[2]]) as world:
        crawl_page(world, url, f"{case_id}.html", settings=settings)
        [capture] = world.captures()
        assert (capture["outcome"], capture["error"]) == ("new", None)
        version = _only_version(world)
    if "title" in expect:
        assert version["headline"] == expect["title"]
    check_body(expect, version["body"])
    if "peak_extra_memory_mb_below" in expect:
        assert _extraction_peak_mb(case_input(f"{case_id}.html")) < expect["peak_extra_memory_mb_below"]
    assert expect.unchecked() == []


def _extraction_peak_mb(page: bytes) -> float:
    """Megabytes the peak resident size of a fresh process grows by while it extracts ``page``."""
    script = (
        "import resource, sys\n"
        "from newscrawler.extraction import extract_article\n"
        "extract_article(b'<html><body><p>warm up</p></body></html>', 'https://x.example/')\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "extract_article(sys.stdin.buffer.read(), 'https://x.example/a')\n"
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)\n")
    proc = subprocess.run([sys.executable, "-c", script], input=page, capture_output=True, cwd=REPO,
                          timeout=120, check=True)
    return float(proc.stdout)


def test_case_C06_live_blog_and_its_next_update(tmp_path):
    expect = Expectations("C06")
    url = "https://citynews.example/live/marathon-2024"
    with CaseWorld(tmp_path, ["citynews.example"]) as world:
        proc = crawl_page(world, url, "C06.html")
        assert expect["no_exception"] and "ERROR" not in proc.stderr
        first = _only_version(world)
        assert first["date_published"] == expect["published_utc"]
        check_body(expect, first["body"])
        crawl_page(world, url, "C06.2.html")
        versions = world.versions()
    second = expect["second_fetch"]
    assert second["new_version"] and len(versions) == 2
    blocks = [b for b in diff_paragraphs(versions[0]["body"], versions[1]["body"]) if b["op"] != "equal"]
    assert [b["op"] for b in blocks] == ["insert"] * len(blocks)
    added = " ".join(b["new"] for b in blocks)
    assert all(text in added for text in second["diff_added_only"])
    assert [b for b in blocks if b["op"] == "delete"] == second["diff_removed"]
    assert expect.unchecked() == []


def test_case_C08_date_is_the_visible_dateline_not_a_script_literal(tmp_path):
    expect = Expectations("C08")
    [answer] = read_headers("C08.headers.txt")
    with CaseWorld(tmp_path, [answer.url.split("/")[2]]) as world:
        crawl_page(world, answer.url, "C08.html", headers=answer.headers)
        version = _only_version(world)
    published, modified = version["date_published"], version["date_modified"]
    assert published[:10] == expect["published_date"]
    with_time, modified_utc = expect["published_utc_if_time_extracted"], expect["modified_utc_if_extracted"]
    assert len(published) == 10 or published == with_time
    assert not modified or modified == modified_utc
    for date in (published, modified):
        assert not any(str(date).startswith(bad) for bad in expect["must_not_be"])
    assert _dt(published if len(published) > 10 else published + "T00:00:00Z") <= \
        _dt(expect["never_after_fetch_time"])
    assert expect.unchecked() == []


#: C09 and C11 are brief news items (226 and 154 characters of body) about dates and charsets: the
#: acceptance rule's default length (ARCHIVE_MIN_BODY_CHARS=250) would record them as not_article.
SHORT_ITEMS = ("ARCHIVE_MIN_BODY_CHARS=100",)


def test_case_C09_utc_offset_is_kept(tmp_path):
    expect = Expectations("C09")
    url = "https://eastcoast.example/news/2019/07/10/late-council-session"
    with CaseWorld(tmp_path, ["eastcoast.example"]) as world:
        crawl_page(world, url, "C09.html", settings=SHORT_ITEMS)
        version = _only_version(world)
    assert version["date_published"] == expect["published_utc"]
    assert version["date_modified"] == expect["modified_utc"]
    raw = version["date_published_raw"]
    assert _dt(raw) == _dt(expect["published_local_with_offset"]) and raw.endswith("-04:00")
    assert expect["must_not_store"] and version["date_published"] not in ("2019-07-10", "2019-07-10T23:30:00")
    assert expect.unchecked() == []


def test_case_C11_bom_wins_over_the_header_charset(tmp_path):
    expect = Expectations("C11")
    [answer] = read_headers("C11.headers.txt")
    with CaseWorld(tmp_path, [answer.url.split("/")[2]]) as world:
        crawl_page(world, answer.url, "C11.html", headers=answer.headers, settings=SHORT_ITEMS)
        version = _only_version(world)
        with Archive.open(world.db, readonly=True) as archive:
            raw = archive.payload(version["payload_digest"])
    assert raw == case_input("C11.html")  # kept as fetched, BOM and all
    assert decode_html(raw, answer.headers["Content-Type"]) == raw.decode(expect["detected_encoding"]).lstrip("\ufeff")
    assert version["headline"] == expect["title"]
    check_body(expect, version["headline"] + "\n" + version["body"])
    assert expect.unchecked() == []


# -- discovery ----------------------------------------------------------------------------------------


def test_case_C13_gzip_child_sitemaps_both_ways(tmp_path):
    expect = Expectations("C13")
    index, may, june = read_headers("C13.headers.txt")
    with CaseWorld(tmp_path, ["harbourtimes.example"]) as world:
        world.serve(index.url, case_input("C13.xml"), headers=index.headers)
        world.serve(may.url, case_input("C13-2024-05.xml.gz"), headers=may.headers)
        world.serve(june.url, case_input("C13-2024-06.xml.gz"), headers=june.headers)
        proc = world.crawl(index.url, check=False)  # the articles themselves are not served: 404s
        assert "Traceback" not in proc.stderr
        requested = {c["requested_url"] for c in world.captures()}
    assert set(expect["article_urls"]) <= requested
    assert expect.unchecked() == []


def test_case_C14_malformed_feed_is_read_and_reported(tmp_path):
    expect = Expectations("C14")
    feed = "https://valleyledger.example/markets/feed/"
    with CaseWorld(tmp_path, ["valleyledger.example"]) as world:
        world.serve(feed, case_input("C14.xml"), content_type="application/rss+xml")
        for url in expect["article_urls"]:  # undated pages: the feed's pubDate is the only date
            world.serve(url, _undated_article(url.rsplit("/", 1)[1].replace("-", " ").capitalize()))
        proc = world.crawl(feed)
        captures = world.captures()
        dates = {world.original(url): published for url, published in world.rows(
            "SELECT c.requested_url, v.date_published FROM captures c JOIN versions v ON v.id = c.version_id")}
        problems = world.rows("SELECT url, kind, problem FROM discovery_problems")
        stats = json.loads(world.rows("SELECT stats FROM crawls")[0][0])
    assert {c["requested_url"] for c in captures} == set(expect["article_urls"])
    for url, published in expect["published_utc"].items():
        assert dates[url] == published
    assert expect["feed_flagged_malformed"]
    [(url, kind, problem)] = problems
    assert (world.original(url), kind) == (feed, "feed")
    assert "not well-formed" in problem
    assert stats["archive/discovery/malformed/feed"] == 1
    assert f"malformed syndication feed {world.local(feed)}" in proc.stderr
    assert expect.unchecked() == []


def _undated_article(title: str) -> bytes:
    paragraphs = "".join(
        f"<p>{title}: paragraph {n} of the markets report, with enough words in it to be read as prose "
        "by the extractor, about grain, credit and retail figures for the valley this spring.</p>"
        for n in range(1, 5))
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{title}</title></head>"
            f"<body><article><h1>{title}</h1>{paragraphs}</article></body></html>").encode()


def test_case_C24_robots_txt_longest_match_and_its_sitemap(tmp_path):
    expect = Expectations("C24")
    robots = "https://www.tidings.example/robots.txt"
    user_agent = "NewsArchiveBot/1.0 (+https://archive.example/bot)"
    assert user_agent.startswith(expect["user_agent"])
    with CaseWorld(tmp_path, ["www.tidings.example"]) as world:
        world.serve(robots, case_input("C24.txt"), content_type="text/plain")
        for url in expect["allowed"] + expect["disallowed"]:
            world.serve(url, _undated_article("Tidings"))
        for url in expect["sitemaps"]:
            world.serve(url, b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"/>',
                        content_type="application/xml")
        proc = world.crawl(*expect["allowed"], *expect["disallowed"], robots,
                           settings=("ROBOTSTXT_OBEY=True", f"USER_AGENT={user_agent}"), check=False)
        assert "Traceback" not in proc.stderr
        captures = {c["requested_url"]: c for c in world.captures()}
        hits = {url: world.hits(url) for url in expect["allowed"] + expect["sitemaps"]}
        hits[robots] = world.hits(robots)
    for url in expect["allowed"]:
        assert captures[url]["outcome"] == "new" and hits[url] == 1, url
    for url in expect["disallowed"]:
        if url not in captures:  # ?sessionid= is dropped from the URL: the same page, named twice
            assert "sessionid" in url and hits[url.split("?")[0]] == 1
            continue
        assert captures[url]["outcome"] == "failed" and "robots.txt" in captures[url]["error"], url
    for url in expect["sitemaps"]:  # named in the robots.txt: fetched although under "Disallow: /"
        assert hits[url] == 1, url
    assert hits[robots] == 2  # the middleware's and the named one: RFC 9309 allows /robots.txt itself
    assert expect.unchecked() == []


# -- versions ---------------------------------------------------------------------------------------


@pytest.mark.xfail(strict=True, reason="issue 18: an article whose slug changes (old URL 301 to the new) "
                                       "is keyed by its canonical URL, so it becomes a second article")
def test_case_C16_headline_edit_that_changes_the_url_is_one_article(tmp_path):
    expect = Expectations("C16")
    [moved] = read_headers("C16.headers.txt")
    old, new = expect["urls_of_the_article"]
    with CaseWorld(tmp_path, ["islanddaily.example"]) as world:
        crawl_page(world, old, "C16.html")
        world.serve(old, b"", status=moved.status, headers=moved.headers)
        world.serve(new, case_input("C16.2.html"))
        proc = world.crawl(old)
        assert "Traceback" not in proc.stderr
        articles = world.rows("SELECT id FROM articles")
        versions = world.versions()
        urls = {u for c in world.captures() for u in (c["requested_url"], c["final_url"])}
    assert len(articles) == expect["articles"]
    assert len(versions) == expect["versions"]
    assert set(expect["urls_of_the_article"]) <= urls
    assert versions[1]["headline"] == expect["version_2_title"]
    assert expect["diff_includes_title_change"] and "headline" in json.loads(versions[1]["changed"])
    assert expect.unchecked() == []


def test_case_C18_whitespace_is_no_edit_a_figure_is(tmp_path):
    expect = Expectations("C18")
    url = "https://citydesk.example/transport/cycle-lanes-funding"
    with CaseWorld(tmp_path, ["citydesk.example"]) as world:
        crawl_page(world, url, "C18.html")
        crawl_page(world, url, "C18.2.html")
        assert len(world.versions()) == expect["after_fetches_1_2"]["versions"]
        crawl_page(world, url, "C18.3.html")
        versions = world.versions()
    after = expect["after_fetch_3"]
    assert len(versions) == after["versions"]
    changes = [(op, text.strip()) for op, text in diff_words(versions[0]["body"], versions[1]["body"])
               if op != "="]
    assert ("-", after["diff"]["removed"].split()[0]) in changes
    assert ("+", after["diff"]["added"].split()[0]) in changes
    assert after["nothing_else_changed"] and changes == [("-", "42"), ("+", "4.2")]
    assert versions[1]["headline"] == versions[0]["headline"]
    assert expect.unchecked() == []


def test_case_C19_page_chrome_makes_no_version(tmp_path):
    expect = Expectations("C19")
    url = "https://riverside.example/news/flood-maps-updated"
    with CaseWorld(tmp_path, ["riverside.example"]) as world:
        crawl_page(world, url, "C19.html")
        crawl_page(world, url, "C19.2.html")
        versions = world.versions()
    assert len(versions) == expect["versions"]
    check_body(expect, versions[0]["body"])
    assert expect.unchecked() == []


# -- content types, storage, untrusted HTML --------------------------------------------------------------


def test_case_C23_pdf_served_as_html_is_no_article(tmp_path):
    expect = Expectations("C23")
    [answer] = read_headers("C23.headers.txt")
    with CaseWorld(tmp_path, [answer.url.split("/")[2]]) as world:
        world.serve(answer.url, case_input("C23.pdf"), headers=answer.headers)
        world.crawl(answer.url)
        [capture] = world.captures()
        versions = world.versions()
    forbidden = expect["article_snapshot_with_text_containing"]["forbidden"]
    assert not any(text in v["body"] for v in versions for text in forbidden)
    assert versions == [] and expect["html_extraction_run"] is False
    assert capture["outcome"] == "not_article"
    assert expect["detected_type"] in (capture["note"] or "") + (capture["error"] or "")
    extracted = " ".join(v["body"] for v in versions)
    if extracted:
        assert all(text in extracted for text in expect["if_pdf_text_extracted_contains"])
    else:
        assert expect["if_pdf_text_extracted_contains"]
    assert expect.unchecked() == []


def test_case_C26_read_then_write_interleaving_loses_no_capture(tmp_path, monkeypatch):
    """C26.py's interleaving on the archive itself: A reads article 1, B stores article 2 and commits,
    A stores version 2 of article 1 (Archive.record on both sides)."""
    from tests.test_writers import _capture, _prose

    expect = Expectations("C26")
    db = tmp_path / "news.db"
    with Archive.open(db) as seed:
        seed.record(_capture("https://news.example/a/1", _prose(1)))
    results: dict[str, object] = {}
    decide, worker_a = versioning.decide, threading.get_ident()

    def store_b() -> None:
        with Archive.open(db, migrate=False) as b:
            try:
                results["B"] = str(b.record(_capture("https://news.example/a/2", _prose(2))).outcome)
            except Exception as exc:  # noqa: BLE001 - what surfaces is the finding
                results["B"] = f"{type(exc).__name__}: {exc}"

    def decide_after_b(*args, **kwargs):
        if threading.get_ident() == worker_a and "thread" not in results:
            results["thread"] = threading.Thread(target=store_b)
            results["thread"].start()
            results["thread"].join(timeout=0.5)
        return decide(*args, **kwargs)

    monkeypatch.setattr(versioning, "decide", decide_after_b)
    with Archive.open(db, migrate=False) as a:
        try:
            edit = _capture("https://news.example/a/1", _prose(1, 1), at="2026-11-29T11:00:00Z")
            results["A"] = str(a.record(edit).outcome)
        except Exception as exc:  # noqa: BLE001 - what surfaces is the finding
            results["A"] = f"{type(exc).__name__}: {exc}"
    results["thread"].join()
    assert expect["no_database_is_locked_error_surfaces"] and "locked" not in f"{results['A']} {results['B']}"
    assert (results["A"], results["B"]) == ("changed", "new")
    import sqlite3

    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM versions").fetchone()[0] == expect["snapshots_stored"]
    conn.close()
    assert expect.unchecked() == []


def test_case_C28_untrusted_page_is_kept_raw_shown_escaped_and_its_refresh_not_followed(tmp_path):
    expect = Expectations("C28")
    url = "https://ferrynews.example/news/ferry-timetable"
    with CaseWorld(tmp_path, ["ferrynews.example", "attacker.example"]) as world:
        sent = world.serve(url, case_input("C28.html"))
        world.crawl(url)
        [capture] = world.captures()
        version = _only_version(world)
        with Archive.open(world.db, readonly=True) as archive:
            raw = archive.payload(version["payload_digest"])
        attacker_hits = sum(world.sites["attacker.example"].hits.values())
        target = world.sites["attacker.example"].base_url + "/landing"
        pages = asyncio.run(_datasette_pages(world.db, version["id"], capture["id"]))
    assert expect["stored"] and raw == sent  # byte for byte as served
    # the meta refresh points to another site: not followed, said in the capture's note
    assert attacker_hits == 0 and capture["outcome"] == "new"
    assert "meta refresh" in capture["note"] and target in capture["note"]
    assert expect["datasette_table_row_and_json_pages"]
    live = ("<script>window.__c28", 'onload="window.__c28', 'onerror="window.__c28', "<iframe srcdoc",
            'http-equiv="refresh"', 'href="javascript:')
    assert all(marker.encode() in raw for marker in live)  # the archived page has them all
    for path, (status, headers, text) in pages.items():
        assert status == 200, path
        if path.endswith(".json"):  # a JSON string, never rendered: served as JSON
            assert headers["content-type"].startswith("application/json") and json.loads(text)
            continue
        for marker in live:
            assert marker not in text, (path, marker)
    assert expect["rendered_snapshot_view_if_any"] and expect["plugins"]
    plugins = {p["name"] for p in json.loads(pages["/-/plugins.json"][2])}
    assert not plugins & {"datasette-render-html", "datasette_render_html"}
    browser = expect["headless_browser_check"]
    assert browser["globals_never_set"] and browser["no_requests_to"] == "attacker.example" and \
        browser["no_navigation_away"]  # in a real browser: tests/test_browser.py::test_untrusted_content_runs_no_script
    assert expect.unchecked() == []


async def _datasette_pages(db: Path, version_id: int, capture_id: int) -> dict[str, tuple]:
    from datasette.app import Datasette

    config = REPO / "archive"
    ds = Datasette(files=[str(db)], metadata=None, plugins_dir=str(config / "plugins"),
                   template_dir=str(config / "templates"))
    name = db.stem
    found = {}
    for path in (f"/{name}/versions", f"/{name}/versions/{version_id}", f"/{name}/versions/{version_id}.json",
                 f"/{name}/payloads", f"/{name}/captures/{capture_id}", "/-/plugins.json"):
        response = await ds.client.get(path)
        found[path] = (response.status_code, dict(response.headers), response.text)
    return found
