"""The newscrawler command: help, errors, history and diff output, the progress line on a terminal."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from newscrawler.cli import cli
from tests.crawling import REPO, rows, run, run_crawl
from tests.site import load_fixture_pages, slow_route

SUMMARY_ONE_NEW = ("fetched 1, new 1, changed 0, reverted 0, revisits 0, not modified 0, not comparable 0, "
                   "not articles 0, gone 0, failed 0")
CASE = next(c for c in load_fixture_pages() if c["name"] == "www.coastlinetimes.example.harbour-dredging-delayed")


def test_every_command_has_help():
    runner = CliRunner()
    for name, command in cli.commands.items():
        result = runner.invoke(cli, [name, "--help"])
        assert result.exit_code == 0, name
        assert command.help and "Example" in result.output, name


def test_crawl_needs_something_to_do():
    result = CliRunner().invoke(cli, ["crawl"])
    assert result.exit_code == 2
    assert "give URLs to crawl, --sites FILE, or --recheck" in result.output


def test_a_bad_url_is_recorded_and_the_others_crawled(loopback_site, tmp_path):
    loopback_site.add_page("/news/harbour.html", CASE["html"])
    db = tmp_path / "news.db"
    proc = run_crawl(db, "www.example.com/news", loopback_site.url("/news/harbour.html"))
    assert rows(db, "SELECT requested_url, outcome, error FROM captures ORDER BY id")[0] == (
        "www.example.com/news", "failed",
        "not an absolute URL: Missing scheme in request url: www.example.com/news "
        "(did you mean https://www.example.com/news?)")
    assert "new 1" in proc.stdout


def test_an_argument_that_is_not_utf8_is_crawled_percent_encoded(loopback_site, tmp_path):
    """A byte the locale cannot decode (here \\xff) reaches the site as %FF and the archive as \\xff."""
    loopback_site.add_page("/news/harbour.html", CASE["html"])
    db = tmp_path / "news.db"
    url = loopback_site.url("/news/harbour.html") + os.fsdecode(b"?ref=\xff")
    proc = run_crawl(db, url)
    assert "new 1" in proc.stdout
    assert rows(db, "SELECT requested_url, outcome FROM captures") == [
        (loopback_site.url("/news/harbour.html?ref=%FF"), "new")]
    [(command,)] = rows(db, "SELECT command FROM crawls")
    assert command.startswith(f"newscrawler crawl '{loopback_site.url('/news/harbour.html')}?ref=\\xff' --db ")


def test_an_unwritable_archive_is_a_clear_error(tmp_path):
    (tmp_path / "notes.txt").write_text("not a database, keep me")
    result = CliRunner().invoke(cli, ["crawl", "http://127.0.0.1:9/", "--db", str(tmp_path / "notes.txt")])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: cannot write the archive {tmp_path / 'notes.txt'}: file is not a database")
    assert (tmp_path / "notes.txt").read_text() == "not a database, keep me"


def test_bad_setting_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(cli, ["crawl", "http://127.0.0.1:9/", "--db", str(tmp_path / "n.db"), "-s", "NOVALUE"])
    assert result.exit_code == 1
    assert "Error: -s takes NAME=VALUE, got 'NOVALUE'" in result.output


@pytest.mark.parametrize(("setting", "message"), [
    # -s values are checked before the crawl starts (tests/test_cron.py); a component that cannot
    # even be loaded fails when Scrapy makes it
    ('EXTENSIONS={"nowhere.Extension": 1}', "No module named 'nowhere'"),
    ('ITEM_PIPELINES={"newscrawler.pipelines.NoSuchPipeline": 900}',
     "Module 'newscrawler.pipelines' doesn't define any object named 'NoSuchPipeline'"),
])
def test_a_setting_that_breaks_a_component_is_a_clear_error(tmp_path, setting, message):
    # Scrapy makes extensions, middlewares and pipelines when the crawl starts, not before.
    proc = run([sys.executable, "-m", "newscrawler", "crawl", "http://127.0.0.1:9/", "--db", str(tmp_path / "n.db"),
                "-s", setting], check=False)
    assert proc.returncode == 1
    assert f"Error: cannot start the crawl: {message}" in proc.stderr
    assert "interrupted" not in proc.stderr + proc.stdout
    # The new archive was made before the crawl failed to start: empty, but an archive, which
    # history and diff can read.
    history = CliRunner().invoke(cli, ["history", "http://127.0.0.1:9/", "--db", str(tmp_path / "n.db")])
    assert history.exit_code == 1 and "is not in the archive" in history.output, history.output


@pytest.fixture
def edited_archive(loopback_site, tmp_path):
    """An archive with two versions of one article, the second with a changed number and headline."""
    loopback_site.add_page("/news/harbour.html", CASE["html"])
    url = loopback_site.url("/news/harbour.html")
    db = tmp_path / "news.db"
    run_crawl(db, url)
    edited = CASE["html"].replace("300,000 euros", "350,000 euros").replace(
        "Harbour dredging delayed again", "Harbour dredging delayed a third time")
    edited = edited.replace("cost them a season", "cost them &lt;script&gt;x&lt;/script&gt;")
    loopback_site.add_page("/news/harbour.html", edited)
    run_crawl(db, url)
    return url, db


def test_history_and_diff(edited_archive):
    url, db = edited_archive
    history = run([sys.executable, "-m", "newscrawler", "history", url, "--db", str(db)]).stdout
    assert "2 versions, 2 captures" in history
    assert "v2" in history and "[stealth: headline, title, body]  (current)" in history
    data = json.loads(run([sys.executable, "-m", "newscrawler", "history", url, "--db", str(db), "--json"]).stdout)
    assert [(v["version"], v["change_kind"], v["current"]) for v in data["versions"]] == [
        (1, None, False), (2, "stealth", True)]
    assert [c["outcome"] for c in data["captures"]] == ["new", "changed"]

    text = run([sys.executable, "-m", "newscrawler", "diff", url, "--db", str(db)]).stdout
    assert text.splitlines()[1] == "changed: headline, title, body"
    assert "headline: Harbour dredging delayed [-again-] {+a third time+}" in text
    assert "[-300,000-] {+350,000+}" in text

    as_json = json.loads(run([sys.executable, "-m", "newscrawler", "diff", url, "--db", str(db),
                              "--format", "json"]).stdout)
    assert (as_json["from"], as_json["to"], as_json["changed"]) == (1, 2, ["headline", "title", "body"])

    page = run([sys.executable, "-m", "newscrawler", "diff", url, "--db", str(db), "--format", "html"]).stdout
    assert "<del>300,000</del> <ins>350,000</ins> " in page
    assert "<script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page


def test_diff_errors(edited_archive, tmp_path):
    url, db = edited_archive
    missing = run([sys.executable, "-m", "newscrawler", "diff", url + "x", "--db", str(db)], check=False)
    assert missing.returncode == 1 and f"Error: {url}x is not in the archive" in missing.stderr
    bad = run([sys.executable, "-m", "newscrawler", "diff", url, "--db", str(db), "--to", "7"], check=False)
    assert bad.returncode == 1 and "has no version 7 (versions 1 to 2)" in bad.stderr
    nodb = run([sys.executable, "-m", "newscrawler", "history", url, "--db", str(tmp_path / "none.db")],
               check=False)
    assert nodb.returncode == 1 and "no archive at" in nodb.stderr


def test_progress_line_on_a_terminal_and_quiet_without(loopback_site, tmp_path):
    loopback_site.add_page("/news/harbour.html", CASE["html"])
    loopback_site.add_route("/news/harbour.html", slow_route(2.5))
    loopback_site.write_discovery()
    url = loopback_site.url("/sitemap.xml")
    args = [sys.executable, "-m", "newscrawler", "crawl", url, "--db", str(tmp_path / "news.db"),
            "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    leader, follower = pty.openpty()
    started = datetime.now(UTC).replace(microsecond=0)
    proc = subprocess.Popen(args, stdout=follower, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=env)
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    proc.wait(timeout=120)
    os.close(leader)
    text = output.decode()
    assert "\rfetched 0 of 1, new 0" in text  # the live line while the slow page is fetched
    final = re.fullmatch(r"(\S+) crawl 1, (\d+) s: (.*)", text.rstrip().rpartition("\n")[2])
    assert final is not None, text[-300:]
    when, seconds, counts = final.groups()
    assert started <= datetime.fromisoformat(when) <= datetime.now(UTC) and when.endswith("Z")
    assert 2 <= int(seconds) <= 60 and counts == SUMMARY_ONE_NEW  # the page took 2.5 s

    quiet = run_crawl(tmp_path / "other.db", url)  # stdout is a pipe: only the final line
    assert re.fullmatch(r"\S+Z crawl 1, \d+ s: " + re.escape(SUMMARY_ONE_NEW) + "\n", quiet.stdout)
