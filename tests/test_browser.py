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
             "/news/article_history?url=" + quote(served["site"] + INJECTION, safe="")]
    for path in pages:
        browser.get(served["url"] + path)
        assert alert_text(browser) is None, path
        assert browser.execute_script("return window.__xss") is None, path
        assert browser.execute_script(
            "return document.querySelectorAll('img[onerror], a[href^=\"javascript:\"]').length"
        ) == 0, path
        assert "window.__xss" in browser.find_element("tag name", "body").text, path

    browser.get(f"{served['url']}/news/-/diff/{v2}")
    shown = browser.find_element("css selector", "#diff").text
    for injection in (INJECTION_HEADLINE, *INJECTIONS):
        assert injection in shown
    assert [i["text"] for i in marked(browser, "#diff ins")] == [
        "It was <script>window.__xss = 'diff'</script> adjourned."]
    assert alert_text(browser) is None
    assert browser.execute_script("return window.__xss") is None
    screenshot(browser, "injection-diff")

