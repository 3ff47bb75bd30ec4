"""What a person sees in a real browser: headless Chromium (Debian's chromium + chromedriver, driven
by Selenium) on ``newscrawler serve`` over an archive filled by two real crawls.

Screenshots go to ``artifacts/`` (git-ignored) for the CI run to keep.
"""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.site import LoopbackSite
from tests.test_datasette import (
    HARBOUR,
    INJECTION,
    INJECTION_HEADLINE,
    INJECTIONS,
    ROOT,
    fill_archive,
    serving,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = ROOT / "artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists() or not CHROMEDRIVER.exists(),
                       reason="Debian's chromium and chromium-driver are not installed "
                              "(/usr/bin/chromium, /usr/bin/chromedriver): "
                              "apt-get install -y chromium chromium-driver"),
]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """``newscrawler serve`` on an archive crawled twice; base URL and the ids tests need."""
    root = tmp_path_factory.mktemp("browser")
    db = root / "news.db"
    site = LoopbackSite(root / "site")
    with site.serve():
        fill_archive(site, db)
        base = site.base_url
    conn = sqlite3.connect(db)
    ids = {(url.removeprefix(base), number): version_id for version_id, url, number in conn.execute(
        "SELECT v.id, a.url, v.version FROM versions v JOIN articles a ON a.id = v.article_id")}
    articles = {url.removeprefix(base): article_id
                for article_id, url in conn.execute("SELECT id, url FROM articles")}
    conn.close()
    with serving(db) as url:
        yield {"url": url, "versions": ids, "articles": articles, "site": base}


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """Headless Chromium through chromedriver, with a fresh profile; alerts are left open so a
    test can see whether one opened."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed "
                                    "(pip install -e '.[test]')")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage", "--window-size=1280,1000",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    options.set_capability("unhandledPromptBehavior", "ignore")
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver, name: str) -> Path:
    """Save the whole page (beyond the window) as ``artifacts/<name>.png``."""
    ARTIFACTS.mkdir(exist_ok=True)
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 8000),
                 "scale": 1}})
    path = ARTIFACTS / f"{name}.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def alert_text(driver) -> str | None:
    """The text of an open alert/confirm/prompt dialog (dismissing it), or None."""
    from selenium.common.exceptions import NoAlertPresentException

    try:
        alert = driver.switch_to.alert
    except NoAlertPresentException:
        return None
    text = alert.text
    alert.dismiss()
    return text


def marked(driver, css: str) -> list[dict]:
    """Text and computed style of the elements matching ``css``."""
    return driver.execute_script(
        """return [...document.querySelectorAll(arguments[0])].map(el => {
             const style = getComputedStyle(el);
             return {text: el.innerText.trim().replace(/\\s+/g, ' '),
                     line: style.textDecorationLine, background: style.backgroundColor,
                     visible: el.getBoundingClientRect().width > 0};
           });""", css)


def test_diff_page_shows_inserted_and_deleted_words(served, browser):
    browser.get(f"{served['url']}/news/-/diff/{served['versions'][(HARBOUR, 2)]}")
    assert browser.title == ("Diff: Harbour dredging delayed a third time as permit dispute drags "
                             "on (version 2)")
    deleted = marked(browser, "#diff del")
    inserted = marked(browser, "#diff ins")
    assert [d["text"] for d in deleted] == [
        "again", "autumn,", "The environment office said in a statement that the eelgrass beds "
        "were among the last in the bay and that the original survey, carried out in 2021, no "
        "longer reflected their extent.", "Tuesday"]
    assert [i["text"] for i in inserted] == [
        "a third time", "winter,", "A spokeswoman for the regional environment office declined "
        "to say when the new survey would be finished, adding that the office had received the "
        "board's application only last week.", "Monday"]
    # a person sees deletions struck through on red, insertions underlined on green
    assert {(d["line"], d["background"], d["visible"]) for d in deleted} == {
        ("line-through", "rgb(251, 215, 215)", True)}
    assert {(i["line"], i["background"], i["visible"]) for i in inserted} == {
        ("underline", "rgb(213, 245, 213)", True)}
    screenshot(browser, "diff-inline")

    browser.find_element("css selector", "a.side-by-side-link").click()
    assert browser.current_url.endswith("?layout=side")
    assert [d["text"] for d in marked(browser, "#diff p.old del")] == [d["text"] for d in deleted]
    assert [i["text"] for i in marked(browser, "#diff p.new ins")] == [i["text"] for i in inserted]
    assert marked(browser, "#diff p.old ins") == [] and marked(browser, "#diff p.new del") == []
    left, right = browser.execute_script(
        """const [a, b] = document.querySelectorAll('#diff p.headline');
           return [a.getBoundingClientRect().left, b.getBoundingClientRect().left];""")
    assert left < right  # old and new really stand side by side
    screenshot(browser, "diff-side-by-side")


def test_untrusted_content_runs_no_script(served, browser):
    # control: the check below does see a script that runs and a dialog that opens
    browser.get("data:text/html,<script>window.__xss='control'; alert('control')</script>")
    assert alert_text(browser) == "control"
    assert browser.execute_script("return window.__xss") == "control"

    v1, v2 = served["versions"][(INJECTION, 1)], served["versions"][(INJECTION, 2)]
    pages = [f"/news/-/diff/{v2}", f"/news/-/diff/{v2}?layout=side", f"/news/-/diff/{v1}",
             f"/news/-/article/{served['articles'][INJECTION]}", f"/news/versions/{v2}",
             "/news/versions", "/news/search?q=textarea", "/news/recent_changes",
             "/news/article_history?url=" + quote(served["site"] + INJECTION, safe=""),
             "/", "/news/-/search?q=textarea", "/news/-/search?q=" + quote("</textarea><script>")]
    for path in pages:
        browser.get(served["url"] + path)
        assert alert_text(browser) is None, path
        assert browser.execute_script("return window.__xss") is None, path
        assert browser.execute_script(
            "return document.querySelectorAll('img[onerror], a[href^=\"javascript:\"]').length"
        ) == 0, path
        assert "window.__xss" in browser.find_element("tag name", "body").text, path

    browser.get(f"{served['url']}/news/-/diff/{v2}")
    for summary in browser.find_elements("css selector", "details.unchanged summary"):
        summary.click()  # unfold the unchanged paragraphs, as a reader would
    shown = browser.find_element("css selector", "#diff").text
    for injection in (INJECTION_HEADLINE, *INJECTIONS):
        assert injection in shown
    assert [i["text"] for i in marked(browser, "#diff ins")] == [
        "It was <script>window.__xss = 'diff'</script> adjourned."]
    assert alert_text(browser) is None
    assert browser.execute_script("return window.__xss") is None
    screenshot(browser, "injection-diff")



# --- the archivist's desk: landing page, a long diff, charts, times, copy as text ----------------

FERRY = "/news/ferry-timetable.html"
FERRY_HEADLINE = "Ferry timetable revised for the winter"
FERRY_EDITED = "Ferry timetable <script>window.__xss = 'desk'</script> revised for the winter"
TOWNS = ("Port Alder", "Kessock", "Northfield", "Lower Brae", "Saltby", "Glenmouth")


def ferry_page(edited: bool) -> str:
    """A long article (30 paragraphs); edited, its headline and its 28th paragraph change."""
    import html

    paragraphs = [f"The {['morning', 'noon', 'evening'][i % 3]} crossing from {TOWNS[i % 6]} to "
                  f"{TOWNS[(i + 1) % 6]} will leave at {6 + i % 12}:{(i * 7) % 60:02d}, the "
                  f"operator said in notice number {100 + i}, which also lists {i + 2} extra "
                  "sailings on market days." for i in range(30)]
    headline = FERRY_HEADLINE
    if edited:
        headline = FERRY_EDITED
        paragraphs[27] = paragraphs[27].replace("extra sailings", "cancelled sailings")
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(headline)}"
            f"</title></head><body><article><h1>{html.escape(headline)}</h1>"
            f"<p class='byline'>By Sam Example</p>{body}</article></body></html>")


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """``newscrawler serve`` on an archive where a long article was crawled three times: first,
    edited near its end (and in its headline), then back as it was first (a revert)."""
    from tests.crawling import rows, run_crawl

    root = tmp_path_factory.mktemp("desk")
    db = root / "news.db"
    site = LoopbackSite(root / "site")
    with site.serve():
        for edited in (False, True, False):
            site.add_page(FERRY, ferry_page(edited))
            run_crawl(db, site.url(FERRY))
    versions = dict(rows(db, "SELECT version, id FROM versions ORDER BY version"))
    outcomes = [o for (o,) in rows(db, "SELECT outcome FROM captures ORDER BY id")]
    assert outcomes == ["new", "changed", "reverted"]
    [(article_id,)] = rows(db, "SELECT id FROM articles")
    with serving(db) as url:
        yield {"url": url, "versions": versions, "article": article_id, "db": db}


def test_landing_page_shows_the_crawls_changes(desk, browser):
    browser.get(desk["url"] + "/")
    changes = browser.execute_script(
        """return [...document.querySelectorAll('.nc-changes tr.nc-change')].map(tr =>
             [...tr.querySelectorAll('td')].map(td => td.innerText.trim()));""")
    # newest first: the revert to version 1's text (a version of its own, 3), then the edit, which came
    # with no note and no new date_modified: a stealth edit
    assert [(c[1], c[2], c[3].split("\n")[0]) for c in changes] == [
        ("revert", "127.0.0.1", FERRY_HEADLINE), ("stealth", "127.0.0.1", FERRY_EDITED)]
    links = [a.get_attribute("href") for a in browser.find_elements(
        "css selector", ".nc-changes tr.nc-change td:nth-child(4) > a")]
    assert links == [f"{desk['url']}/news/-/diff/{desk['versions'][3]}?from=2",
                     f"{desk['url']}/news/-/diff/{desk['versions'][2]}?from=1"]
    health = browser.find_element("css selector", ".nc-health").text
    assert "127.0.0.1 1" in health  # one article on the site
    assert alert_text(browser) is None and browser.execute_script("return window.__xss") is None
    # internal tables are not listed here, and still reachable
    listed = browser.execute_script(
        "return [...document.querySelectorAll('section.content a')].map(a => a.textContent)")
    assert "site_paragraphs" not in listed and "versions" in listed
    screenshot(browser, "desk-landing")
    browser.get(desk["url"] + "/news/site_paragraphs")
    assert browser.title.startswith("news: site_paragraphs")


def test_long_diff_shows_the_change_on_the_first_screen(desk, browser):
    browser.get(f"{desk['url']}/news/-/diff/{desk['versions'][2]}")
    first = browser.find_element("css selector", "#change-1")
    assert "cancelled" in first.find_element("css selector", "ins").text
    assert "extra" in first.find_element("css selector", "del").text
    top, bottom = browser.execute_script(
        "const r = document.querySelector('#change-1').getBoundingClientRect();"
        "return [r.top, window.innerHeight];")
    assert 0 < top < bottom  # in view without scrolling
    summaries = [s.text for s in browser.find_elements("css selector", "details.unchanged summary")]
    assert summaries == ["show 26 unchanged paragraphs"]
    # a margin mark beside the changed paragraph
    assert browser.execute_script(
        "return getComputedStyle(document.querySelector('#change-1')).borderLeftStyle") == "solid"
    # unfolded, the paragraphs stay shown when the reader clicks elsewhere
    browser.find_element("css selector", "details.unchanged summary").click()
    browser.find_element("css selector", "h1").click()
    shown = browser.execute_script(
        "return [...document.querySelectorAll('#diff p:not(.headline)')]"
        ".filter(p => p.getBoundingClientRect().height > 0).length")
    assert shown == 30
    # the current version is marked after the revert: version 3, which restored version 1's text
    current = browser.find_element("css selector", ".versions-nav .nc-current")
    assert browser.execute_script(
        "return arguments[0].previousElementSibling.textContent", current) == "3"
    assert alert_text(browser) is None and browser.execute_script("return window.__xss") is None
    assert FERRY_EDITED in browser.find_element("css selector", "#diff .headline").text
    screenshot(browser, "desk-long-diff")


def test_charts_render(desk, browser):
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{desk['url']}/-/dashboards/desk?article={desk['article']}")
    marks = "#chart-{} svg [aria-roledescription='{}']"
    WebDriverWait(browser, 30).until(lambda d: all(
        d.find_elements("css selector", marks.format(c, r)) for c, r in (
            ("edits-per-day", "bar"), ("kinds-over-time", "bar"), ("article-timeline", "point"))))
    labels = {c: [el.get_attribute("aria-label") for el in browser.find_elements(
        "css selector", marks.format(c, r))] for c, r in (
        ("edits-per-day", "bar"), ("kinds-over-time", "bar"), ("article-timeline", "point"))}
    [edits] = labels["edits-per-day"]
    assert "edits: 2" in edits and "site: 127.0.0.1" in edits  # the edit and its revert, one day
    assert sorted(label.split("kind: ")[1] for label in labels["kinds-over-time"]) == ["revert", "stealth"]
    assert len(labels["article-timeline"]) == 3
    assert sorted(label.split("outcome: ")[1] for label in labels["article-timeline"]) == [
        "changed", "new", "reverted"]
    # nothing leaves the machine: every script the page loaded is served by this Datasette
    sources = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    assert sources and all(s.startswith(desk["url"]) for s in sources)
    screenshot(browser, "desk-charts")


def test_times_in_the_readers_zone_and_copy_as_text(desk, browser):
    import urllib.request
    from datetime import datetime
    from zoneinfo import ZoneInfo

    browser.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": "Asia/Kathmandu"})
    try:
        browser.get(f"{desk['url']}/news/versions")
        stored, shown = browser.execute_script(
            "const t = document.querySelector('td.col-captured_at time');"
            "return [t.getAttribute('datetime'), t.textContent];")
    finally:
        browser.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": ""})
    local = datetime.fromisoformat(stored.replace("Z", "+00:00")).astimezone(ZoneInfo("Asia/Kathmandu"))
    assert shown.startswith(local.strftime("%Y-%m-%d %H:%M:%S"))  # to the second, +05:45
    # bodies are truncated in the table, with a link to the whole text
    assert browser.find_elements("css selector", "td.col-body a")[0].text.startswith("read all ")

    text_url = f"{desk['url']}/news/-/diff/{desk['versions'][2]}.txt?from=1"
    with urllib.request.urlopen(text_url) as response:
        expected = response.read().decode()
    assert "[-extra-] {+cancelled+}" in expected
    browser.execute_cdp_cmd("Browser.grantPermissions", {
        "origin": desk["url"], "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]})
    browser.get(f"{desk['url']}/news/-/diff/{desk['versions'][2]}")
    assert browser.find_element("css selector", "a.nc-permalink").get_attribute("href").endswith(
        f"/news/-/diff/{desk['versions'][2]}?from=1")
    browser.find_element("css selector", "button.nc-copy").click()
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 10).until(
        lambda d: d.find_element("css selector", ".nc-copied").text)
    if browser.find_element("css selector", ".nc-copied").text == "copied":
        copied = browser.execute_async_script(
            "navigator.clipboard.readText().then(arguments[0], e => arguments[0]('error ' + e))")
    else:  # no clipboard here: the text is shown selected instead
        copied = browser.find_element("css selector", "textarea.nc-copy-text").get_attribute("value")
    assert copied == expected
