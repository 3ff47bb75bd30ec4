"""Datasette on the archive: metadata, canned queries, the diff and article views, the Atom feed of
changes, inert untrusted content and reads while a crawl writes.

The archive is filled through the real pipeline: ``newscrawler crawl`` in a subprocess against a
:class:`~tests.site.LoopbackSite`, twice, with edits in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote
from xml.etree import ElementTree

import lxml.html
import pytest
import yaml
import zstandard
from click.testing import CliRunner

from newscrawler.cli import _exit_on_signal, _stopped_by_signals_cleanly, cli
from tests.site import FIXTURES, LoopbackSite, slow_route, status_route

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = ROOT / "archive"
ATOM = "{http://www.w3.org/2005/Atom}"
_SCRIPT = Path(sys.executable).with_name("newscrawler")
NEWSCRAWLER = [str(_SCRIPT)] if _SCRIPT.exists() else [
    sys.executable, "-c", "from newscrawler.cli import cli; cli()"]
"""The installed console script (or the same entry point through this interpreter)."""

HARBOUR = "/news/harbour-dredging-delayed.html"
INJECTION = "/news/injection-test.html"
BUS_DEPOT = "/news/council-approves-electric-bus-depot.html"
SECTION = "/local/index.html"
BROKEN = "/news/broken.html"

#: Strings from the open web that must show as text, never act (they sit in the page as escaped
#: text, so extraction keeps them literally in the headline and body).
INJECTIONS = (
    "<script>window.__xss = 'script'; alert(1)</script>",
    "<img src=x onerror=\"window.__xss = 'img'; alert(1)\">",
    "<a href=\"javascript:window.__xss = 'link'\">click here</a>",
    "</textarea><script>window.__xss = 'textarea'</script>",
)
INJECTION_HEADLINE = "Council <script>window.__xss = 'headline'</script> vote delayed"


def injection_page(extra: str = "") -> str:
    """An article whose visible text holds the :data:`INJECTIONS` (escaped in the markup)."""
    esc = html.escape
    paragraphs = [
        "The regional council postponed its vote on the harbour budget on Tuesday after members "
        "asked for more time to read the amended figures, the council clerk said.",
        f"A reader wrote to us quoting the markup {esc(INJECTIONS[0])} which we print as text.",
        f"Another reader sent the image tag {esc(INJECTIONS[1])} to test our comment form.",
        f"A third message held the link {esc(INJECTIONS[2])} in its signature line.",
        f"The last one closed a form with {esc(INJECTIONS[3])} and nothing else happened.",
        "The council will meet again next Thursday, when the finance committee expects to publish "
        "a revised draft of the budget with the changes members asked for." + esc(extra),
    ]
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{esc(INJECTION_HEADLINE)}</title></head><body><article>"
        f"<h1>{esc(INJECTION_HEADLINE)}</h1>"
        "<p class='byline'>By Alex Example</p>"
        f"{body}</article></body></html>"
    )


def harbour_page(edited: bool) -> str:
    """The Coastline Times fixture, optionally edited: headline and two sentences reworded, a
    paragraph removed and one added."""
    page = (FIXTURES / "www.coastlinetimes.example.harbour-dredging-delayed.html").read_text(
        encoding="utf-8")
    if not edited:
        return page
    page = page.replace("Harbour dredging delayed again as permit dispute drags on",
                        "Harbour dredging delayed a third time as permit dispute drags on")
    page = page.replace("will not start before autumn", "will not start before winter")
    page = page.replace("next Tuesday", "next Monday")
    page = page.replace(
        "<p>The environment office said in a statement that the eelgrass beds were among the last "
        "in the bay and that the original survey, carried out in 2021, no longer reflected their "
        "extent.</p>", "")
    return page.replace(
        "<p>At low tide",
        "<p>A spokeswoman for the regional environment office declined to say when the new survey "
        "would be finished, adding that the office had received the board's application only last "
        "week.</p>\n<p>At low tide")


def crawl(site: LoopbackSite, db: Path) -> subprocess.CompletedProcess:
    """Run ``newscrawler crawl`` on the site's sitemap in a subprocess, as a person would."""
    return subprocess.run(
        [*NEWSCRAWLER, "crawl", site.url("/sitemap.xml"), "--db", str(db),
         "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "ROBOTSTXT_OBEY=False",
         "-s", "RETRY_ENABLED=False"],
        capture_output=True, text=True, timeout=300, cwd=ROOT, check=False,
    )


def fill_archive(site: LoopbackSite, db: Path) -> None:
    """Crawl the site twice with edits in between: the harbour and injection articles get two
    versions, the bus depot article one; a section front is not an article and a page fails."""
    first = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
    site.add_page(HARBOUR, harbour_page(edited=False), lastmod=first)
    site.add_page(INJECTION, injection_page(), lastmod=first)
    site.add_page(BUS_DEPOT, (FIXTURES / (
        "www.northfieldcourier.example.council-approves-electric-bus-depot.html")).read_text(
        encoding="utf-8"), lastmod=first)
    site.add_page(SECTION, (FIXTURES / "www.northfieldcourier.example.section-local.html")
                  .read_text(encoding="utf-8"), lastmod=first)
    site.add_page(BROKEN, "<html><body>gone</body></html>", lastmod=first)
    site.add_route(BROKEN, status_route(404, "Not Found"))
    site.write_discovery()
    result = crawl(site, db)
    assert result.returncode == 0, result.stdout + result.stderr

    # newer than the first captures, whatever the clock says (lastmod has one-second resolution)
    second = datetime.now(UTC) + timedelta(seconds=2)
    site.add_page(HARBOUR, harbour_page(edited=True), lastmod=second)
    site.add_page(INJECTION, injection_page(
        extra=" It was <script>window.__xss = 'diff'</script> adjourned."), lastmod=second)
    site.write_discovery()
    result = crawl(site, db)
    assert result.returncode == 0, result.stdout + result.stderr


# --- fixtures and helpers ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """An archive filled by two real crawls, with the ids tests need.

    ``{"db": Path, "base": site URL, "articles": {path: article id}, "versions": {(path, n): version
    id}, "payloads": {(path, n): payload digest}}``.
    """
    root = tmp_path_factory.mktemp("archive")
    db = root / "news.db"
    site = LoopbackSite(root / "site")
    with site.serve():
        fill_archive(site, db)
        base = site.base_url
    conn = sqlite3.connect(db)
    articles, versions, payloads = {}, {}, {}
    for article_id, url in conn.execute("SELECT id, url FROM articles"):
        articles[url.removeprefix(base)] = article_id
    for version_id, article_id, number, digest in conn.execute(
            "SELECT id, article_id, version, payload_digest FROM versions"):
        path = next(p for p, a in articles.items() if a == article_id)
        versions[(path, number)] = version_id
        payloads[(path, number)] = digest
    conn.close()
    # the second crawl fetched both edited pages concurrently: newest first, as feeds list them
    changed = sorted((HARBOUR, INJECTION), key=lambda p: versions[(p, 2)], reverse=True)
    return {"db": db, "base": base, "articles": articles, "versions": versions,
            "payloads": payloads, "changed": changed}


def datasette_for(db: Path):
    """Datasette over ``db`` with archive/'s metadata, settings and templates; the plugin
    (newscrawler.web) loads by its entry point.

    The parts are passed one by one rather than as ``config_dir`` so that a developer's own
    archive/news.db is not served alongside.
    """
    from datasette.app import Datasette

    return Datasette(
        [str(db)],
        metadata=yaml.safe_load((CONFIG_DIR / "metadata.yml").read_text(encoding="utf-8")),
        settings=json.loads((CONFIG_DIR / "settings.json").read_text(encoding="utf-8")),
        template_dir=str(CONFIG_DIR / "templates"),
    )


def run(coroutine_function, *args):
    """Run ``await coroutine_function(*args)`` on a fresh event loop in its own thread.

    A thread keeps it clear of any reactor or loop pytest-twisted runs in the main thread.
    """
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine_function(*args)).result()


def get(db: Path, *paths: str) -> list:
    """GET each path from a fresh in-process Datasette over ``db``; the httpx responses."""

    async def fetch():
        ds = datasette_for(db)
        return [await ds.client.get(path) for path in paths]

    return run(fetch)


def page(response) -> lxml.html.HtmlElement:
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"].startswith("text/html")
    return lxml.html.fromstring(response.text)


def texts(tree: lxml.html.HtmlElement, css: str) -> list[str]:
    return [" ".join(el.text_content().split()) for el in tree.cssselect(css)]


def outcome_counts(archive) -> dict[str, int]:
    """Captures per outcome, straight from SQLite."""
    with contextlib.closing(sqlite3.connect(archive["db"])) as conn:
        return dict(conn.execute("SELECT outcome, count(*) FROM captures GROUP BY outcome"))


# --- metadata ------------------------------------------------------------------------------------


def test_metadata_describes_the_archive_every_table_and_column(archive):
    metadata = yaml.safe_load((CONFIG_DIR / "metadata.yml").read_text(encoding="utf-8"))
    for key in ("title", "description", "source", "source_url", "license"):
        assert metadata.get(key), key
    tables = metadata["databases"]["news"]["tables"]
    conn = sqlite3.connect(archive["db"])
    names = [row[0] for row in conn.execute(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name")]
    assert {"articles", "versions", "versions_fts", "captures", "crawls", "payloads"} <= set(names)
    for table in names:
        assert tables.get(table, {}).get("description"), f"{table} has no description"
        columns = [row[1] for row in conn.execute(f"PRAGMA table_info([{table}])")]
        described = tables[table].get("columns", {})
        undescribed = [c for c in columns if not described.get(c)]
        assert undescribed == [], f"{table}: columns without a description"
        assert set(described) <= set(columns), f"{table}: descriptions of columns it does not have"
    conn.close()


def test_facets_stay_fast(archive):
    """Default facets only on a leading indexed column (or the one-row-per-run crawls table);
    facet suggestions, which scan every column, are off."""
    metadata = yaml.safe_load((CONFIG_DIR / "metadata.yml").read_text(encoding="utf-8"))
    settings = json.loads((CONFIG_DIR / "settings.json").read_text(encoding="utf-8"))
    assert settings["suggest_facets"] is False
    conn = sqlite3.connect(archive["db"])
    faceted = {}
    for table, meta in metadata["databases"]["news"]["tables"].items():
        if not meta.get("facets"):
            continue
        leading = {conn.execute(f"PRAGMA index_info([{index[1]}])").fetchone()[2]
                   for index in conn.execute(f"PRAGMA index_list([{table}])")}
        faceted[table] = meta["facets"]
        if table != "crawls":
            assert set(meta["facets"]) <= leading, f"{table}: facet on an unindexed column"
    conn.close()
    assert faceted == {"articles": ["site"], "captures": ["outcome"], "crawls": ["finish_reason"]}
    [response] = get(archive["db"], "/news/captures.json?_shape=objects")
    facet = {r["value"]: r["count"] for r in response.json()["facet_results"]["outcome"]["results"]}
    assert facet == outcome_counts(archive)
    assert {k: facet[k] for k in ("new", "changed", "not_article")} == {
        "new": 3, "changed": 2, "not_article": 1}
    assert facet["failed"] >= 1  # the 404 page (fetched again by later crawls or not)
    assert response.json()["suggested_facets"] == []


# --- canned queries ------------------------------------------------------------------------------


def test_canned_queries_are_listed(archive):
    [response] = get(archive["db"], "/news.json")
    assert {q["name"] for q in response.json()["queries"]} == {
        "recent_changes", "recent_stealth_edits", "changed_headlines", "most_edited", "article_history", "search",
        "failing_sites"}


def test_recent_changes(archive):
    v = archive["versions"]
    json_response, html_response = get(archive["db"], "/news/recent_changes.json?_shape=array",
                                       "/news/recent_changes")
    rows = json_response.json()
    assert [(r["url"].removeprefix(archive["base"]), r["version"], r["diff"]) for r in rows] == [
        (p, 2, v[(p, 2)]) for p in archive["changed"]]
    harbour = rows[archive["changed"].index(HARBOUR)]
    assert harbour["headline"] == "Harbour dredging delayed a third time as permit dispute drags on"
    assert json.loads(harbour["changed"])[:1] == ["headline"]
    assert harbour["timeline"] == archive["articles"][HARBOUR]
    tree = page(html_response)
    links = tree.xpath("//table[contains(@class, 'rows-and-columns')]//a/@href")
    assert f"/news/-/diff/{v[(HARBOUR, 2)]}" in links
    assert f"/news/-/article/{archive['articles'][HARBOUR]}" in links


def test_changed_headlines(archive):
    json_response, html_response = get(archive["db"], "/news/changed_headlines.json?_shape=array",
                                       "/news/changed_headlines")
    assert [(r["old_headline"], r["new_headline"], r["diff"]) for r in json_response.json()] == [
        ("Harbour dredging delayed again as permit dispute drags on",
         "Harbour dredging delayed a third time as permit dispute drags on",
         archive["versions"][(HARBOUR, 2)])]
    assert "Harbour dredging delayed a third time" in page(html_response).text_content()


def test_most_edited(archive):
    json_response, html_response = get(archive["db"], "/news/most_edited.json?_shape=array",
                                       "/news/most_edited")
    rows = json_response.json()
    assert sorted((r["url"].removeprefix(archive["base"]), r["versions"]) for r in rows) == [
        (HARBOUR, 2), (INJECTION, 2)]
    assert BUS_DEPOT not in page(html_response).text_content()


def test_article_history_by_url_with_tracking_parameters(archive):
    url = archive["base"] + HARBOUR + "?utm_source=newsletter"
    query = "/news/article_history{}?url=" + quote(url, safe="")
    json_response, html_response = get(archive["db"], query.format(".json") + "&_shape=array",
                                       query.format(""))
    rows = json_response.json()
    assert [(r["version"], r["diff"], r["raw_html"]) for r in rows] == [
        (n, archive["versions"][(HARBOUR, n)], archive["payloads"][(HARBOUR, n)]) for n in (1, 2)]
    tree = page(html_response)
    assert tree.cssselect("input[name=url]")[0].get("value") == url
    links = tree.xpath("//table[contains(@class, 'rows-and-columns')]//a/@href")
    assert f"/news/-/payload/{archive['payloads'][(HARBOUR, 1)]}" in links
    [missing] = get(archive["db"], "/news/article_history.json?_shape=array&url="
                    + quote("http://nowhere.example/", safe=""))
    assert missing.json() == []


def test_search_finds_old_versions_too_with_marked_snippets(archive):
    # "original survey" was in the paragraph version 2 deleted: only version 1 matches.
    json_response, html_response = get(
        archive["db"], "/news/search.json?_shape=array&q=original+survey",
        "/news/search?q=original+survey")
    rows = json_response.json()
    assert [r["diff"] for r in rows] == [archive["versions"][(HARBOUR, 1)]]
    assert "the \u27e6original\u27e7 \u27e6survey\u27e7, carried" in rows[0]["snippet"]
    tree = page(html_response)
    assert texts(tree, "td mark") == ["original", "survey"]
    [empty] = get(archive["db"], "/news/search.json?_shape=array&q=")
    assert empty.json() == []


def test_search_stems_and_searches_headlines(archive):
    [response] = get(archive["db"], "/news/search.json?_shape=array&q=delays")
    assert sorted(r["diff"] for r in response.json()) == sorted(
        archive["versions"][(p, n)] for p in (HARBOUR, INJECTION) for n in (1, 2))


def test_failing_sites_query_lists_every_outcome():
    """The query names every outcome so that the captures_outcome index serves its time range."""
    from newscrawler.store import OUTCOMES

    metadata = yaml.safe_load((CONFIG_DIR / "metadata.yml").read_text(encoding="utf-8"))
    sql = metadata["databases"]["news"]["queries"]["failing_sites"]["sql"]
    listed = sql.split("where outcome in (", 1)[1].split(")", 1)[0]
    assert sorted(o.strip(" '\n") for o in listed.split(",")) == sorted(OUTCOMES)


def test_failing_sites(archive):
    json_response, html_response = get(archive["db"], "/news/failing_sites.json?_shape=array",
                                       "/news/failing_sites")
    [row] = json_response.json()
    counts = outcome_counts(archive)  # every capture was made within the last minutes
    total, failed = sum(counts.values()), counts["failed"]
    assert {k: row[k] for k in ("site", "captures", "failed", "not_article", "percent_bad")} == {
        "site": "127.0.0.1", "captures": total, "failed": failed, "not_article": 1,
        "percent_bad": round(100 * (failed + 1) / total, 1)}
    assert total >= 7 and failed >= 1
    assert row["last_bad_url"] in (archive["base"] + SECTION, archive["base"] + BROKEN)
    assert row["last_bad_reason"] in ("failed: HTTP 404", "not_article: no prose: the body is "
                                      "headings and link lists (a section front?)")
    assert "127.0.0.1" in texts(page(html_response), "td.col-site")


# --- diff view and article timeline --------------------------------------------------------------


def test_diff_json_is_diff_versions(archive):
    from newscrawler.changes import diff_versions
    from newscrawler.store import Archive

    version_id = archive["versions"][(HARBOUR, 2)]
    [response] = get(archive["db"], f"/news/-/diff/{version_id}.json")
    data = response.json()
    with Archive.open(archive["db"], readonly=True) as store:
        old, new = store.versions(archive["articles"][HARBOUR])
    expected = json.loads(json.dumps(diff_versions(old, new)))
    assert {k: data[k] for k in expected} == expected
    assert data["from"]["version"] == 1 and data["to"]["version"] == 2
    assert data["headline"] == [["=", "Harbour dredging delayed "], ["-", "again "],
                                ["+", "a third time "], ["=", "as permit dispute drags on"]]
    assert [b["op"] for b in data["body"] if b["op"] != "equal"] == [
        "replace", "insert", "delete", "replace"]


def test_diff_page_marks_inserted_and_deleted_words(archive):
    version_id = archive["versions"][(HARBOUR, 2)]
    inline, side = get(archive["db"], f"/news/-/diff/{version_id}",
                       f"/news/-/diff/{version_id}?layout=side")
    tree = page(inline)
    assert texts(tree, "#diff del") == [
        "again", "autumn,", "The environment office said in a statement that the eelgrass beds "
        "were among the last in the bay and that the original survey, carried out in 2021, no "
        "longer reflected their extent.", "Tuesday"]
    assert texts(tree, "#diff ins") == [
        "a third time", "winter,", "A spokeswoman for the regional environment office declined "
        "to say when the new survey would be finished, adding that the office had received the "
        "board's application only last week.", "Monday"]
    assert texts(tree, "#diff .headline") == [
        "Harbour dredging delayed again a third time as permit dispute drags on"]
    assert texts(tree, ".changed-fields") == ["headline, title, date_modified, body"]
    assert f"/news/-/diff/{archive['versions'][(HARBOUR, 1)]}" in tree.xpath("//a/@href")

    tree = page(side)
    assert texts(tree, "#diff p.old del") == texts(page(inline), "#diff del")
    assert tree.cssselect("#diff p.old ins") == []
    assert texts(tree, "#diff p.new ins") == texts(page(inline), "#diff ins")
    assert tree.cssselect("#diff p.new del") == []
    assert texts(tree, "#diff p.headline.old") == [
        "Harbour dredging delayed again as permit dispute drags on"]
    assert texts(tree, "#diff p.headline.new") == [
        "Harbour dredging delayed a third time as permit dispute drags on"]


def test_diff_of_a_first_version_and_against_a_chosen_version(archive):
    first = archive["versions"][(HARBOUR, 1)]
    second = archive["versions"][(HARBOUR, 2)]
    html_first, json_from, missing, bad, nonsense = get(
        archive["db"], f"/news/-/diff/{first}", f"/news/-/diff/{first}.json?from=2",
        "/news/-/diff/99999", f"/news/-/diff/{second}?from=7", f"/news/-/diff/{second}?from=x")
    tree = page(html_first)
    assert tree.cssselect("#diff ins, #diff del") == []
    assert "the first version" in texts(tree, "h1")[0]
    assert json_from.json()["headline"][1:3] == [["-", "a third time "], ["+", "again "]]
    assert (missing.status_code, bad.status_code, nonsense.status_code) == (404, 404, 404)


def test_article_page_shows_the_timeline(archive):
    article_id = archive["articles"][HARBOUR]
    html_response, json_response = get(archive["db"], f"/news/-/article/{article_id}",
                                       f"/news/-/article/{article_id}.json")
    tree = page(html_response)
    items = tree.cssselect("ol.timeline li.version")
    assert [li.get("value") for li in items] == ["2", "1"]
    assert [li.cssselect("a")[0].get("href") for li in items] == [
        f"/news/-/diff/{archive['versions'][(HARBOUR, n)]}" for n in (2, 1)]
    assert texts(tree, ".version-headline") == [
        "Harbour dredging delayed a third time as permit dispute drags on",
        "Harbour dredging delayed again as permit dispute drags on"]
    data = json_response.json()
    assert [v["version"] for v in data["versions"]] == [1, 2]
    assert {o["outcome"]: o["n"] for o in data["outcomes"]} == {"new": 1, "changed": 1}
    [missing] = get(archive["db"], "/news/-/article/99999")
    assert missing.status_code == 404


def test_table_cells_link_to_diffs_timelines_and_downloads(archive):
    versions, articles, payloads, captures = get(
        archive["db"], "/news/versions", "/news/articles", "/news/payloads", "/news/captures")
    links = page(versions).xpath("//td[contains(@class, 'col-version')]//a/@href")
    assert sorted(links) == sorted(f"/news/-/diff/{i}" for i in archive["versions"].values())
    links = page(articles).xpath("//td[contains(@class, 'col-url')]//a/@href")
    assert sorted(links) == sorted(f"/news/-/article/{i}" for i in archive["articles"].values())
    links = page(payloads).xpath("//td[contains(@class, 'col-data')]//a/@href")
    assert sorted(links) == sorted(f"/news/-/payload/{d}" for d in archive["payloads"].values())
    links = page(captures).xpath("//td[contains(@class, 'col-payload_digest')]//a/@href")
    with contextlib.closing(sqlite3.connect(archive["db"])) as conn:
        digests = [r[0] for r in conn.execute(
            "SELECT payload_digest FROM captures WHERE payload_digest IS NOT NULL ORDER BY id DESC")]
    assert links == [f"/news/-/payload/{d}" for d in digests]


# --- untrusted content ---------------------------------------------------------------------------


def injection_pages(archive) -> list[str]:
    """Every page that shows the injection article's text."""
    article_id = archive["articles"][INJECTION]
    v1, v2 = archive["versions"][(INJECTION, 1)], archive["versions"][(INJECTION, 2)]
    return [
        f"/news/-/diff/{v2}", f"/news/-/diff/{v2}?layout=side", f"/news/-/diff/{v1}",
        f"/news/-/article/{article_id}", f"/news/versions/{v2}", f"/news/versions/{v1}",
        "/news/versions", f"/news/versions?_search={quote('textarea')}",
        "/news/search?q=textarea", "/news/search?q=" + quote("</textarea><script>"),
        "/news/recent_changes", "/news/most_edited",
        "/news/article_history?url=" + quote(archive["base"] + INJECTION, safe=""),
        "/news?sql=" + quote("select headline, body from versions"),
    ]


def test_untrusted_text_is_shown_as_text_never_as_markup(archive):
    paths = injection_pages(archive)
    for path, response in zip(paths, get(archive["db"], *paths), strict=True):
        tree = page(response)
        for script in tree.iter("script"):
            assert "__xss" not in (script.text or ""), path
        assert tree.xpath("//img[@onerror]") == [], path
        hrefs = [a.strip().lower() for a in tree.xpath("//a/@href")]
        assert [a for a in hrefs if a.startswith("javascript:")] == [], path
        for textarea in tree.iter("textarea"):  # Datasette's SQL editor keeps the SQL only
            assert "__xss" not in (textarea.text or "") or "select" in textarea.text, path
        assert "window.__xss" in tree.text_content(), f"{path} does not show the text"
    # the text reads as it was archived, not as an HTML fragment
    [diff] = get(archive["db"], f"/news/-/diff/{archive['versions'][(INJECTION, 2)]}")
    shown = page(diff).text_content()
    for injection in INJECTIONS:
        assert injection in shown
    assert INJECTION_HEADLINE in shown
    assert texts(page(diff), "#diff ins") == [
        "It was <script>window.__xss = 'diff'</script> adjourned."]


def test_raw_html_is_a_download_never_rendered(archive):
    from datasette.utils import tilde_encode

    digest = archive["payloads"][(HARBOUR, 1)]
    response, missing, blob = get(
        archive["db"], f"/news/-/payload/{digest}", "/news/-/payload/sha256:" + "0" * 64,
        f"/news/payloads/{tilde_encode(digest)}.blob?_blob_column=data")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="{digest.replace(":", "-")}.html"')
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in response.headers["content-security-policy"]
    assert response.content == harbour_page(edited=False).encode("utf-8")
    assert missing.status_code == 404
    # Datasette's own blob download (the compressed bytes) is an attachment too, and zstd with the
    # documented dictionary (another download) gives the page back: readable without newscrawler
    assert blob.headers["content-disposition"].startswith("attachment")
    conn = sqlite3.connect(archive["db"])
    [(compression, dictionary)] = conn.execute(
        "SELECT compression, dictionary FROM payloads WHERE digest = ?", [digest]).fetchall()
    conn.close()
    assert compression == "zstd"
    if dictionary is None:
        assert zstandard.ZstdDecompressor().decompress(blob.content) == response.content
    else:
        [raw_dictionary] = get(archive["db"], f"/news/-/payload/{dictionary}")
        decompressor = zstandard.ZstdDecompressor(dict_data=zstandard.ZstdCompressionDict(
            raw_dictionary.content, dict_type=zstandard.DICT_TYPE_RAWCONTENT))
        assert decompressor.decompress(blob.content) == response.content


# --- Atom feed -----------------------------------------------------------------------------------


def test_atom_feed_of_changes(archive):
    feed, by_site, other_site = get(archive["db"], "/news/-/changes.atom",
                                    "/news/-/changes.atom?site=127.0.0.1",
                                    "/news/-/changes.atom?site=example.com")
    assert feed.headers["content-type"] == "application/atom+xml; charset=utf-8"
    root = ElementTree.fromstring(feed.content)
    assert root.tag == f"{ATOM}feed"
    entries = root.findall(f"{ATOM}entry")
    titles = {HARBOUR: "Harbour dredging delayed a third time as permit dispute drags on",
              INJECTION: INJECTION_HEADLINE}
    assert [e.findtext(f"{ATOM}title") for e in entries] == [
        f"{titles[p]} (version 2)" for p in archive["changed"]]
    assert [e.find(f"{ATOM}link").get("href") for e in entries] == [
        f"http://localhost/news/-/diff/{archive['versions'][(p, 2)]}" for p in archive["changed"]]
    assert [e.findtext(f"{ATOM}id") for e in entries] == [
        archive["base"] + p + "#version-2" for p in archive["changed"]]
    harbour, injection = (entries[archive["changed"].index(p)] for p in (HARBOUR, INJECTION))
    content = harbour.find(f"{ATOM}content")
    assert content.get("type") == "html"
    assert "<del>again</del> <ins>a third time</ins> " in content.text
    injected = injection.find(f"{ATOM}content").text
    assert "&lt;script&gt;window.__xss = &#x27;diff&#x27;&lt;/script&gt;" in injected
    assert "<script>" not in injected
    assert len(ElementTree.fromstring(by_site.content).findall(f"{ATOM}entry")) == 2
    empty = ElementTree.fromstring(other_site.content)
    assert empty.findall(f"{ATOM}entry") == [] and empty.findtext(f"{ATOM}updated")


# --- reading while a crawl writes ----------------------------------------------------------------


def test_reads_do_not_block_the_writer_nor_wait_for_it(archive, tmp_path):
    """WAL: Datasette reads while a write transaction is open, and a writer commits while
    Datasette holds a read transaction. ``timeout=0`` makes any lock wait fail at once."""
    db = tmp_path / "news.db"
    db.write_bytes(archive["db"].read_bytes())
    count_sql = "/news.json?_shape=array&sql=" + quote("select count(*) as n from crawls")

    async def scenario():
        ds = datasette_for(db)
        store = ds.get_database("news")
        mode = await store.execute("PRAGMA journal_mode")
        writer = sqlite3.connect(db, timeout=0, isolation_level=None, check_same_thread=False)
        writer.execute("PRAGMA journal_mode = wal")
        writer.execute("BEGIN EXCLUSIVE")
        writer.execute("INSERT INTO crawls (started_at) VALUES ('2026-11-30T00:00:00Z')")
        during_write = (await ds.client.get(count_sql)).json()

        def read_across_a_commit(conn):
            conn.execute("BEGIN")
            before = conn.execute("SELECT count(*) FROM crawls").fetchone()[0]
            writer.execute("COMMIT")  # raises "database is locked" if the reader blocked it
            still = conn.execute("SELECT count(*) FROM crawls").fetchone()[0]
            conn.execute("COMMIT")
            return before, still

        snapshot = await store.execute_fn(read_across_a_commit)
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("INSERT INTO crawls (started_at) VALUES ('2026-11-30T00:00:01Z')")
        writer.execute("COMMIT")
        after = (await ds.client.get(count_sql)).json()
        writer.close()
        return mode.first()[0], during_write, snapshot, after

    mode, during_write, snapshot, after = run(scenario)
    assert mode == "wal"
    assert during_write == [{"n": 2}]  # the two crawls; the open write is not visible
    assert snapshot == (2, 2)  # Datasette's read kept its snapshot while the writer committed
    assert after == [{"n": 4}]  # both commits visible without reopening


def test_browsing_during_a_crawl(loopback_site, tmp_path):
    """A real crawl writes while Datasette serves pages: both succeed, nothing breaks."""
    from newscrawler.store import Archive

    db = tmp_path / "news.db"
    Archive.open(db).close()  # the empty archive Datasette opens first
    when = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
    loopback_site.add_page(HARBOUR, harbour_page(edited=False), lastmod=when)
    loopback_site.add_page(INJECTION, injection_page(), lastmod=when)
    loopback_site.add_page(BUS_DEPOT, (FIXTURES / (
        "www.northfieldcourier.example.council-approves-electric-bus-depot.html")).read_text(
        encoding="utf-8"), lastmod=when)
    loopback_site.add_route(BUS_DEPOT, slow_route(1.5))  # keeps the crawl open a while
    loopback_site.write_discovery()
    paths = ["/news/recent_changes.json", "/news/articles.json", "/news/-/changes.atom",
             "/news/search.json?q=harbour", "/news/captures"]

    async def browse():
        ds = datasette_for(db)
        process = subprocess.Popen(
            [*NEWSCRAWLER, "crawl", loopback_site.url("/sitemap.xml"), "--db", str(db),
             "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False",
             "-s", "ROBOTSTXT_OBEY=False"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        statuses, during = [], 0
        for _ in range(2000):  # bounded: the crawl ends long before
            crawling = process.poll() is None
            for path in paths:
                statuses.append((path, (await ds.client.get(path)).status_code))
            during += crawling
            if not crawling:
                break
            await asyncio.sleep(0.02)
        out, err = process.communicate(timeout=120)
        articles = (await ds.client.get("/news/articles.json?_shape=array")).json()
        return process.returncode, out + err, statuses, during, articles

    returncode, output, statuses, during, articles = run(browse)
    assert returncode == 0, output
    assert during >= 1
    assert [s for s in statuses if s[1] != 200] == []
    assert sorted(a["url"].removeprefix(loopback_site.base_url) for a in articles) == sorted(
        [HARBOUR, INJECTION, BUS_DEPOT])


# --- newscrawler serve ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(db: Path, exits: list[int] | None = None, temp: Path | None = None,
            stop: signal.Signals = signal.SIGTERM) -> Iterator[str]:
    """``newscrawler serve`` on a free 127.0.0.1 port in a subprocess; yields its base URL.

    The process is stopped with ``stop``; its exit status is appended to ``exits`` if given.
    ``temp`` is its TMPDIR, if given.
    """
    port = free_port()
    env = {**os.environ, "TMPDIR": str(temp)} if temp else None
    process = subprocess.Popen([*NEWSCRAWLER, "serve", "--db", str(db), "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):  # up to about a minute for Datasette to start listening
            if process.poll() is not None:
                raise AssertionError("newscrawler serve exited: " + process.stdout.read())
            try:
                with urllib.request.urlopen(base + "/-/versions.json", timeout=5):
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise AssertionError("newscrawler serve did not start listening")
        yield base
    finally:
        process.send_signal(stop)
        try:
            status = process.wait(timeout=30)
        finally:
            if process.poll() is None:  # still running: not left behind, whatever the test says
                process.kill()
                process.wait()
            process.stdout.close()
        if exits is not None:
            exits.append(status)


def test_serve_runs_datasette_on_the_archive(archive, tmp_path):
    # any file name: the metadata of the "news" database applies to it
    db = tmp_path / "other.db"
    db.write_bytes(archive["db"].read_bytes())
    version_id = archive["versions"][(HARBOUR, 2)]
    temp, exits = tmp_path / "temp", []
    temp.mkdir()
    with serving(db, exits, temp) as base:
        # the metadata renamed for "other" is written to a temporary directory
        assert [p.name for p in temp.glob("newscrawler-serve-*/*")] == ["metadata.json"]
        with urllib.request.urlopen(base + "/other/recent_changes.json?_shape=array") as response:
            rows = json.load(response)
        with urllib.request.urlopen(f"{base}/other/-/diff/{version_id}") as response:
            diff = lxml.html.fromstring(response.read())
        with urllib.request.urlopen(base + "/-/settings.json") as response:
            settings = json.load(response)
        with urllib.request.urlopen(base + "/-/databases.json") as response:
            databases = json.load(response)
        with urllib.request.urlopen(base + "/-/metadata.json") as response:
            charts = json.load(response)["plugins"]["datasette-dashboards"]["desk"]["charts"]
        with urllib.request.urlopen(base + "/") as response:
            landing = lxml.html.fromstring(response.read())
    # the charts read the database as it is named here
    assert {c["db"] for c in charts.values()} == {"other"}
    assert len(landing.cssselect(".nc-changes tr.nc-change")) == 2
    assert [r["diff"] for r in rows] == [archive["versions"][(p, 2)] for p in archive["changed"]]
    assert texts(diff, "#diff ins")[0] == "a third time"
    assert settings["suggest_facets"] is False
    assert settings["sql_time_limit_ms"] == 3000
    # mutable: read through "mode=ro", seeing each commit (immutable would ignore the WAL)
    assert [(d["name"], d["is_mutable"], d["hash"]) for d in databases] == [("other", True, None)]
    # stopped by SIGTERM, it exits with 143 and leaves no temporary directory behind
    assert exits == [143] and list(temp.iterdir()) == []


@pytest.mark.parametrize(("stop", "status"), [(signal.SIGINT, 130), (signal.SIGHUP, 143)])
def test_serve_stopped_by_ctrl_c_or_a_hangup_leaves_nothing_behind(archive, tmp_path, stop, status):
    db = tmp_path / "other.db"  # not news.db: the renamed metadata goes to a temporary directory
    db.write_bytes(archive["db"].read_bytes())
    temp, exits = tmp_path / "temp", []
    temp.mkdir()
    with serving(db, exits, temp, stop) as base:
        with urllib.request.urlopen(base + "/-/databases.json") as response:
            assert [d["name"] for d in json.load(response)] == ["other"]
        assert len(list(temp.iterdir())) == 1
    # Ctrl-C: 130 (asyncio's own handler would have exited 0); a hangup stops it as SIGTERM does
    assert exits == [status] and list(temp.iterdir()) == []


def test_serve_puts_the_signal_handlers_back():
    # newscrawler serve called in-process (a CliRunner) leaves the process's handlers as it found them
    handlers = [signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)]
    with pytest.raises(RuntimeError), _stopped_by_signals_cleanly():
        assert signal.getsignal(signal.SIGTERM) is _exit_on_signal
        raise RuntimeError("Datasette failed")
    assert [signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)] == handlers


def test_serve_help_and_errors(tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["serve", "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output and "newscrawler serve --db archive/news.db" in result.output
    result = runner.invoke(cli, ["serve", "--db", str(tmp_path / "missing.db")])
    assert result.exit_code == 1
    assert result.output == (f"Error: no archive at {tmp_path / 'missing.db'}: run 'newscrawler "
                             "crawl' first\n")
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    result = runner.invoke(cli, ["serve", "--db", str(other)])
    assert (result.exit_code, result.output) == (
        1, f"Error: {other} is not a newscrawler archive\n")
    result = runner.invoke(cli, ["serve", "--db", str(other), "--config-dir", str(tmp_path)])
    assert result.exit_code == 1 and "no Datasette configuration" in result.output


# --- the archivist's desk (issue 24) -------------------------------------------------------------


def test_plugin_loads_once_by_its_entry_point(archive):
    [plugins] = get(archive["db"], "/-/plugins.json")
    assert [p["name"] for p in plugins.json()].count("newscrawler") == 1
    assert not (CONFIG_DIR / "plugins").exists()  # datasette archive/ would load a second copy


def test_landing_page(archive):
    [response] = get(archive["db"], "/")
    tree = page(response)
    rows = tree.cssselect(".nc-changes tr.nc-change")
    # both edits of the second crawl (fetched concurrently: newest capture first)
    assert sorted(r.cssselect("td:nth-child(4) > a")[0].get("href") for r in rows) == sorted(
        f"/news/-/diff/{archive['versions'][(p, 2)]}?from=1" for p in archive["changed"])
    shown = [r.cssselect("time")[0].get("datetime") for r in rows]
    assert shown == sorted(shown, reverse=True)
    # both pages' sitemap lastmod moved with the edit, so date_modified moved: an update (issue 18 part 2)
    assert texts(tree, ".nc-changes .nc-kind") == ["update", "update"]
    assert "Harbour dredging delayed a third time as permit dispute drags on" in texts(
        tree, ".nc-changes td:nth-child(4) > a")
    assert sorted(a.get("href") for a in tree.cssselect(".nc-most-edited a")) == sorted(
        f"/news/-/article/{archive['articles'][p]}" for p in (HARBOUR, INJECTION))
    counts = outcome_counts(archive)
    [health] = [[" ".join(td.text_content().split()) for td in tr.cssselect("td")]
                for tr in tree.cssselect(".nc-health tr") if tr.cssselect("td")]
    assert health[0] == "127.0.0.1" and health[1] == "3"
    assert health[3:] == [str(sum(counts.values())), str(counts["failed"]), "1"]
    assert tree.cssselect("form.nc-search")[0].get("action") == "/news/-/search"
    # internal tables: not listed on the landing page, listed as hidden on the database page
    listed = [a.text_content() for a in tree.cssselect("section.content p a")]
    assert "versions" in listed and "site_paragraphs" not in listed
    database, internal = get(archive["db"], "/news.json", "/news/site_paragraphs.json")
    hidden = {t["name"] for t in database.json()["tables"] if t["hidden"]}
    assert {"site_paragraphs", "site_paragraph_counts", "reextractions", "site_dictionaries"} <= hidden
    assert internal.status_code == 200


def test_landing_page_shows_each_versions_change_kind(archive, tmp_path):
    db = tmp_path / "news.db"
    db.write_bytes(archive["db"].read_bytes())
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute("UPDATE versions SET change_kind = 'correction' WHERE id = ?",
                     [archive["versions"][(HARBOUR, 2)]])
        conn.commit()
    [response] = get(db, "/")
    kinds = dict(zip([r.cssselect("td:nth-child(4) > a")[0].get("href") for r in page(
        response).cssselect(".nc-changes tr.nc-change")], texts(page(response), ".nc-kind"),
        strict=True))
    assert kinds == {f"/news/-/diff/{archive['versions'][(HARBOUR, 2)]}?from=1": "correction",
                     f"/news/-/diff/{archive['versions'][(INJECTION, 2)]}?from=1": "update"}


def test_search_groups_versions_by_story(archive):
    v = archive["versions"]
    delays, survey, empty, hostile = get(
        archive["db"], "/news/-/search?q=delays", "/news/-/search?q=original+survey",
        "/news/-/search?q=", "/news/-/search?q=" + quote("</textarea><script>"))
    tree = page(delays)
    stories = tree.cssselect("li.nc-story")
    assert sorted(int(s.get("data-article")) for s in stories) == sorted(
        archive["articles"][p] for p in (HARBOUR, INJECTION))
    for story in stories:
        path = next(p for p, a in archive["articles"].items() if a == int(story.get("data-article")))
        hits = story.cssselect("li.nc-hit")
        # the latest matching version first, marked current
        assert [h.cssselect("a")[0].get("href") for h in hits] == [
            f"/news/-/diff/{v[(path, n)]}" for n in (2, 1)]
        assert [bool(h.cssselect(".nc-current")) for h in hits] == [True, False]
        assert texts(story, "mark") and all(m.lower().startswith("delay") for m in texts(story, "mark"))
    tree = page(survey)
    [story] = tree.cssselect("li.nc-story")
    assert [h.cssselect("a")[0].get("href") for h in story.cssselect("li.nc-hit")] == [
        f"/news/-/diff/{v[(HARBOUR, 1)]}"]
    assert texts(story, "mark") == ["original", "survey"]
    assert page(empty).cssselect("li.nc-story") == []
    tree = page(hostile)
    assert [s for s in tree.iter("script") if "__xss" in (s.text or "")] == []
    assert "window.__xss" in tree.text_content()


def test_tables_are_readable(archive):
    versions, captures = get(archive["db"], "/news/versions", "/news/captures")
    tree = page(versions)
    bodies = tree.cssselect("td.col-body")
    assert bodies and all(len(td.cssselect(".nc-preview")[0].text_content()) <= 161 for td in bodies)
    assert {a.get("href") for td in bodies for a in td.cssselect("a")} == {
        f"/news/-/diff/{i}?unchanged=show" for i in archive["versions"].values()}
    times = tree.cssselect("td.col-captured_at time")
    assert times and all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", t.text_content())
                         for t in times)
    assert all(t.get("datetime").startswith(t.text_content()[:10]) for t in times)
    # the current version of each article is marked: version 2 of the edited ones, 1 of the other
    current = {int(tr.cssselect("td.col-id")[0].text_content()) for tr in tree.cssselect("tbody tr")
               if tr.cssselect("td.col-version .nc-current")}
    assert current == {archive["versions"][(HARBOUR, 2)], archive["versions"][(INJECTION, 2)],
                       archive["versions"][(BUS_DEPOT, 1)]}
    assert page(captures).cssselect("td.col-captured_at time")


def test_diff_text_and_permalink(archive):
    from newscrawler.changes import diff_versions, render_text
    from newscrawler.store import Archive

    version_id = archive["versions"][(HARBOUR, 2)]
    text, html_response = get(archive["db"], f"/news/-/diff/{version_id}.txt?from=1",
                              f"/news/-/diff/{version_id}")
    assert text.headers["content-type"].startswith("text/plain")
    with Archive.open(archive["db"], readonly=True) as store:
        old, new = store.versions(archive["articles"][HARBOUR])
    lines = text.text.split("\n", 3)
    assert lines[0] == archive["base"] + HARBOUR
    assert lines[2] == f"http://localhost/news/-/diff/{version_id}?from=1"
    assert lines[3] == render_text(diff_versions(old, new))
    tree = page(html_response)
    assert tree.cssselect("a.nc-permalink")[0].get("href") == lines[2]
    assert tree.cssselect("button.nc-copy")[0].get("data-text-href") == (
        f"/news/-/diff/{version_id}.txt?from=1")
    assert tree.cssselect("a.nc-first-change")[0].get("href") == "#change-1"


def test_chart_queries(archive):
    """The dashboards' SQL, run as datasette-dashboards runs it (``/news.json?sql=``)."""
    metadata = yaml.safe_load((CONFIG_DIR / "metadata.yml").read_text(encoding="utf-8"))
    charts = metadata["plugins"]["datasette-dashboards"]["desk"]["charts"]
    harbour = archive["articles"][HARBOUR]
    edits, kinds, timeline, default = get(archive["db"], *[
        "/news.json?_shape=array&sql=" + quote(charts[name]["query"]) + extra for name, extra in (
            ("edits-per-day", ""), ("kinds-over-time", ""), ("article-timeline", f"&article={harbour}"),
            ("article-timeline", "&article="))])
    assert [(r["site"], r["edits"]) for r in edits.json()] == [("127.0.0.1", 2)]
    assert [(r["kind"], r["captures"]) for r in kinds.json()] == [("update", 2)]  # the versions' change_kind
    assert [(r["version"], r["outcome"]) for r in timeline.json()] == [(1, "new"), (2, "changed")]
    assert len(default.json()) == 2  # no article given: the one with most versions
    assert [p["name"] for p in get(archive["db"], "/-/plugins.json")[0].json()].count(
        "datasette-dashboards") == 1
