"""A cron run survives one bad site: sites.toml checked entry by entry, -s values checked up front,
unreachable sites and failed named URLs in one line each, a closed terminal finishes the crawl row."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from newscrawler.checks import SettingError, check_setting, known_settings
from newscrawler.cli import cli, summary_line
from newscrawler.lock import ArchiveLocked, format_seconds
from newscrawler.sites import read_sites, url_problem
from tests.crawling import FAST, REPO, rows, run, run_crawl, summary
from tests.site import load_fixture_pages, slow_route, status_route

CASE = next(c for c in load_fixture_pages() if c["name"] == "www.coastlinetimes.example.harbour-dredging-delayed")


def _sites_file(tmp_path, text):
    path = tmp_path / "sites.toml"
    path.write_text(text, encoding="utf-8")
    return path


# --- sites.toml, entry by entry ------------------------------------------------------------------

GOOD = '[[site]]\nname = "good"\nsitemaps = ["https://good.example/sitemap.xml"]\n'


@pytest.mark.parametrize(("entry", "field", "value", "reason"), [
    ('name = "a"\nsitemaps = ["www.example.com/sitemap.xml"]', "sitemaps", "www.example.com/sitemap.xml",
     "not an absolute URL: no scheme (did you mean https://www.example.com/sitemap.xml?)"),
    ('name = "a"\nfeeds = ["example.com:8080/rss"]', "feeds", "example.com:8080/rss",
     "not an absolute URL: no scheme (did you mean https://example.com:8080/rss?)"),
    ('name = "a"\nfeeds = ["/rss.xml"]', "feeds", "/rss.xml", "not an absolute URL: no scheme"),
    ('name = "a"\nsitemaps = ["ftp://example.com/s.xml"]', "sitemaps", "ftp://example.com/s.xml",
     "ftp scheme: only http(s) URLs are fetched"),
    ('name = "a"\nsitemaps = ["https://user:pw@example.com/s.xml"]', "sitemaps",
     "https://user:pw@example.com/s.xml", "the URL carries credentials (user:password@), which are never sent"),
    ('name = "a"\nsitemaps = ["https://example.com:99999/s.xml"]', "sitemaps", "https://example.com:99999/s.xml",
     "not a URL: Port out of range 0-65535"),
    ('name = "a"\nsitemaps = ["https://[::1/s.xml"]', "sitemaps", "https://[::1/s.xml", "not a URL: Invalid IPv6 URL"),
    ('name = "a"\nsitemaps = ["https://example.com/a b.xml"]', "sitemaps", "https://example.com/a b.xml",
     "the URL contains white space"),
    ('name = "a"\nsitemaps = "https://example.com/s.xml"', "sitemaps", "https://example.com/s.xml",
     "must be a list of strings"),
    ('name = "a"\nsitemap = ["https://example.com/s.xml"]', "sitemap", ["https://example.com/s.xml"],
     "unknown key (did you mean 'sitemaps'?)"),
    ('name = "a"\nsitemaps = ["https://example.com/s.xml"]\ndney = ["/video/"]', "dney", ["/video/"],
     "unknown key (did you mean 'deny'?)"),
    ('name = "a"\nsitemaps = ["https://example.com/s.xml"]\nallow = ["(unclosed"]', "allow", "(unclosed",
     "not a regular expression: missing ), unterminated subpattern at position 0"),
    ('name = "a"\nsitemaps = ["https://example.com/s.xml"]\nprune_xpath = ["//div[@"]', "prune_xpath", "//div[@",
     "not an XPath expression: Invalid expression"),
    ('name = "a"\nsitemaps = ["https://example.com/s.xml"]\nrecheck = "yes"', "recheck", "yes",
     "must be true or false"),
    ('name = "a"', "sitemaps", [], "give at least one of sitemaps or feeds"),
    ('name = ""\nsitemaps = ["https://example.com/s.xml"]', "name", "", "must be a non-empty string"),
    ('name = "good"\nsitemaps = ["https://example.com/s.xml"]', "name", "good", "another site above has this name"),
])
def test_a_bad_site_is_skipped_with_one_line_and_the_others_kept(tmp_path, entry, field, value, reason):
    """The bad entry sits between two good ones, in every variant of what can be wrong with it."""
    path = _sites_file(tmp_path, GOOD + f"\n[[site]]\n{entry}\n\n" +
                       '[[site]]\nname = "after"\nfeeds = ["https://after.example/rss"]\n')
    sites, skipped = read_sites(path)
    assert [s.name for s in sites] == ["good", "after"]
    [bad] = skipped
    label = "'good'" if field == "name" and value == "good" else ("#2" if field == "name" else "'a'")
    assert (bad.file, bad.site, bad.field, bad.value, bad.reason) == (str(path), label, field, value, reason)
    assert str(bad) == f"{path}: site {label}: {field} = {value!r}: {reason}; site skipped"


def test_a_file_that_is_not_a_sites_file_is_one_error(tmp_path):
    for text, message in (("[[site]\nname=", "not valid TOML"), ("name = 'x'\n", "no [[site]] tables"),
                          ("site = 3\n", "no [[site]] tables")):
        path = _sites_file(tmp_path, text)
        with pytest.raises(ValueError, match=re.escape(message)):
            read_sites(path)
        result = CliRunner().invoke(cli, ["crawl", "--sites", str(path), "--db", str(tmp_path / "n.db")])
        assert result.exit_code == 1 and result.output.startswith(f"Error: {path}: {message}"), result.output


@pytest.mark.parametrize(("url", "problem"), [
    ("https://www.example.com/sitemap.xml", None),
    ("http://127.0.0.1:8080/rss", None),
    ("HTTPS://Example.com/", None),
    ("www.example.com", "not an absolute URL: no scheme (did you mean https://www.example.com?)"),
    ("localhost:8080/feed", "not an absolute URL: no scheme (did you mean https://localhost:8080/feed?)"),
    ("file:///etc/passwd", "file scheme: only http(s) URLs are fetched"),
    ("mailto:news@example.com", "mailto scheme: only http(s) URLs are fetched"),
    ("http:///sitemap.xml", "not an absolute URL: no host"),
    ("https://:secret@example.com/", "the URL carries credentials (user:password@), which are never sent"),
])
def test_url_problem(url, problem):
    assert url_problem(url) == problem


def test_a_cron_run_survives_a_bad_and_an_unreachable_site(loopback_site, tmp_path):
    """One typo, one site that refuses connections, one that does not resolve: one line each, no
    traceback, and the good site listed after them is crawled."""
    loopback_site.add_page("/news/harbour.html", CASE["html"])
    loopback_site.write_discovery()
    path = _sites_file(tmp_path, f'''
[[site]]
name = "typo"
sitemaps = ["www.example.com/sitemap.xml"]

[[site]]
name = "down"
sitemaps = ["http://127.0.0.1:9/sitemap.xml"]

[[site]]
name = "nowhere"
feeds = ["http://news.nonexistent.invalid/rss.xml"]

[[site]]
name = "loopback"
sitemaps = ["{loopback_site.url('/sitemap.xml')}"]
''')
    db = tmp_path / "news.db"
    proc = run([sys.executable, "-m", "newscrawler", "crawl", "--sites", str(path), "--db", str(db),
                *[a for s in FAST for a in ("-s", s)]], check=False)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert "Traceback" not in proc.stderr and "ERROR" not in proc.stderr, proc.stderr
    assert not [ln for ln in lines if ln.startswith("Error")], proc.stderr
    assert lines[0] == (f"{path}: site 'typo': sitemaps = 'www.example.com/sitemap.xml': not an absolute URL: "
                        "no scheme (did you mean https://www.example.com/sitemap.xml?); site skipped")
    assert len(lines) == 3, proc.stderr
    [down] = [ln for ln in lines if "site 'down'" in ln]
    assert down.endswith("WARNING: site 'down': could not fetch http://127.0.0.1:9/sitemap.xml: "
                         "DownloadConnectionRefusedError: Connection was refused by other side: 111: "
                         "Connection refused.")
    [nowhere] = [ln for ln in lines if "site 'nowhere'" in ln]
    assert "could not fetch http://news.nonexistent.invalid/rss.xml: " in nowhere
    assert summary(proc)["new"] == 1
    assert rows(db, "SELECT requested_url, outcome FROM captures") == [
        (loopback_site.url("/news/harbour.html"), "new")]


def test_a_sites_file_where_every_site_is_bad_is_an_error(tmp_path):
    path = _sites_file(tmp_path, '[[site]]\nname = "a"\nfeeds = ["example.com/rss"]\n')
    result = CliRunner().invoke(cli, ["crawl", "--sites", str(path), "--db", str(tmp_path / "n.db")])
    assert result.exit_code == 1
    assert f"{path}: no site can be crawled (each one is skipped above)" in result.output
    assert not (tmp_path / "n.db").exists()


# --- -s NAME=VALUE ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def known():
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "newscrawler.settings")
    from scrapy.utils.project import get_project_settings

    return known_settings(get_project_settings())


@pytest.mark.parametrize(("setting", "message"), [
    ("ARCHIVE_RECHECK_MAX=abc", "ARCHIVE_RECHECK_MAX must be a whole number, 0 or more, got 'abc'"),
    ("ARCHIVE_RECHECK_MAX=2.5", "ARCHIVE_RECHECK_MAX must be a whole number, 0 or more, got '2.5'"),
    ("CONCURRENT_REQUESTS=abc", "CONCURRENT_REQUESTS must be a whole number, 1 or more, got 'abc'"),
    ("CONCURRENT_REQUESTS=0", "CONCURRENT_REQUESTS must be a whole number, 1 or more, got '0'"),
    ("ARCHIVE_LOCK_WAIT=abc", "ARCHIVE_LOCK_WAIT must be a number of seconds, 0 or more, got 'abc'"),
    ("ARCHIVE_LOCK_WAIT=-5", "ARCHIVE_LOCK_WAIT must be a number of seconds, 0 or more, got '-5'"),
    ("DOWNLOAD_TIMEOUT=inf", "DOWNLOAD_TIMEOUT must be a number of seconds, 0 or more, got 'inf'"),
    ("DOWNLOAD_MAXSIZE=-1", "DOWNLOAD_MAXSIZE must be a whole number, 0 or more, got '-1'"),
    ("ARCHIVE_PAGE_MAXSIZE=-1024", "ARCHIVE_PAGE_MAXSIZE must be a whole number, 0 or more, got '-1024'"),
    ("ARCHIVE_PAGE_MAXSIZE=10MB", "ARCHIVE_PAGE_MAXSIZE must be a whole number, 0 or more, got '10MB'"),
    ("ARCHIVE_SHRINK_RATIO=1.5", "ARCHIVE_SHRINK_RATIO must be a number from 0 to 1, got '1.5'"),
    ("ARCHIVE_BACKOFF_BASE=fast", "ARCHIVE_BACKOFF_BASE must be a number, 0 or more, got 'fast'"),
    ("ROBOTSTXT_OBEY=yes", "ROBOTSTXT_OBEY must be True or False (or 1 or 0), got 'yes'"),
    ("RETRY_HTTP_CODES=500,5xx", "RETRY_HTTP_CODES must be whole numbers separated by commas, got '500,5xx'"),
    ("DOWNLOADER_MIDDLEWARES=a.B", "DOWNLOADER_MIDDLEWARES must be a JSON object such as '{\"name\": 100}', "
                                   "got 'a.B'"),
    ("ARCHIVE_DEFAULT_TZ=Europe/Pariss", "ARCHIVE_DEFAULT_TZ must be an IANA time zone name such as "
                                         "Europe/Paris, got 'Europe/Pariss'"),
    ("ARCHIVE_EXTRACT_WORKERS=many", "ARCHIVE_EXTRACT_WORKERS must be None or a whole number, 0 or more, got 'many'"),
    ("LOG_LEVEL=LOUD", "LOG_LEVEL must be one of CRITICAL, ERROR, WARNING, INFO, DEBUG, got 'LOUD'"),
    ("ARCHIVE_PAGE_MAXSZE=5", "unknown setting ARCHIVE_PAGE_MAXSZE: did you mean ARCHIVE_PAGE_MAXSIZE?"),
    ("CONCURENT_REQUESTS=4", "unknown setting CONCURENT_REQUESTS: did you mean CONCURRENT_REQUESTS or "
                             "CONCURRENT_REQUESTS_PER_DOMAIN?"),
    ("archive_lock_wait=5", "unknown setting archive_lock_wait: did you mean ARCHIVE_LOCK_WAIT?"),
    ("DOWNLAOD_DELAY=1", "unknown setting DOWNLAOD_DELAY: did you mean DOWNLOAD_DELAY?"),
    ("NO_SUCH_THING=1", "unknown setting NO_SUCH_THING (neither Scrapy's nor newscrawler's)"),
    ("ARCHIVE_DB=other.db", "ARCHIVE_DB is set by --db, not by -s"),
])
def test_a_bad_setting_is_one_line_naming_it(tmp_path, known, setting, message):
    name, _, value = setting.partition("=")
    with pytest.raises(SettingError) as raised:
        check_setting(name, value, known)
    assert str(raised.value) == message
    # Through the real command, before any archive or lock is made.
    result = CliRunner().invoke(cli, ["crawl", "http://127.0.0.1:9/", "--db", str(tmp_path / "n.db"), "-s", setting])
    assert result.exit_code == 1
    assert result.output == f"Error: {message}\n"
    assert not (tmp_path / "n.db").exists()


@pytest.mark.parametrize("setting", [
    "DOWNLOAD_DELAY=0.25", "DOWNLOAD_TIMEOUT=7.5", "ARCHIVE_LOCK_WAIT=0", "CONCURRENT_REQUESTS=32",
    "RETRY_TIMES=0", "ROBOTSTXT_OBEY=False", "ROBOTSTXT_OBEY=0", "RETRY_HTTP_CODES=500,503",
    "ARCHIVE_SHRINK_RATIO=0.4", "ARCHIVE_EXTRACT_WORKERS=None", "ARCHIVE_EXTRACT_WORKERS=0",
    "ARCHIVE_DEFAULT_TZ=Europe/Paris", "LOG_LEVEL=info", "USER_AGENT=mybot/1.0", "RETRY_PRIORITY_ADJUST=-2",
    'ITEM_PIPELINES={"newscrawler.pipelines.ArchivePipeline": 800}', "JOBDIR=/tmp/job",
])
def test_good_settings_pass(known, setting):
    name, _, value = setting.partition("=")
    check_setting(name, value, known)


# --- failed named URLs, the summary ----------------------------------------------------------------

def test_each_failed_named_url_says_why(loopback_site, tmp_path):
    loopback_site.add_page("/news/harbour.html", CASE["html"])
    loopback_site.add_page("/private/memo.html", CASE["html"])
    loopback_site.add_file("/robots.txt", "User-agent: *\nDisallow: /private/\n")
    loopback_site.add_route("/news/broken.html", status_route(500, "oops"))
    host = loopback_site.url("/").split("//")[1].rstrip("/")
    db = tmp_path / "news.db"
    named = [loopback_site.url("/news/harbour.html"), loopback_site.url("/private/memo.html"),
             "ftp://example.com/a.html", f"http://user:pw@{host}/news/other.html", "www.example.com/news",
             loopback_site.url("/news/broken.html")]
    proc = run_crawl(db, *named, check=False)
    assert proc.returncode == 0, proc.stderr
    assert sorted(proc.stderr.splitlines()) == sorted([
        "not archived: www.example.com/news: not an absolute URL: Missing scheme in request url: "
        "www.example.com/news (did you mean https://www.example.com/news?)",
        f"not archived: {named[1]}: IgnoreRequest: Forbidden by robots.txt",
        "not archived: ftp://example.com/a.html: IgnoreRequest: blocked: ftp scheme: only http(s) URLs are fetched",
        f"not archived: http://***@{host}/news/other.html: IgnoreRequest: blocked: the URL carries credentials "
        "(user:password@)",
        f"not archived: {named[5]}: HTTP 500",
    ])
    counts = summary(proc)
    assert (counts["fetched"], counts["new"], counts["failed"]) == (1, 1, 5)


def test_summary_does_not_count_failures_as_fetched():
    stats = {"item_scraped_count": 7, "archive/captures/new": 2, "archive/captures/failed": 5}
    assert summary_line(stats).startswith("fetched 2, new 2, ")
    assert summary_line(stats).endswith(", failed 5")
    assert summary_line({}, queued=3).startswith("fetched 0 of 3, ")


# --- small slips -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("seconds", "text"), [
    (5.0002, "5"), (1.50041, "1.5"), (0.2001, "0.2"), (0.04, "0"), (9.96, "10"), (600.4, "600"), (89.6, "90")])
def test_format_seconds(seconds, text):
    assert format_seconds(seconds) == text


def test_lock_message_says_whole_seconds(tmp_path):
    message = str(ArchiveLocked(tmp_path / "n.db.lock", {"pid": 42}, 5.000213))
    assert "gave up after waiting 5 s for its lock" in message


def test_diff_from_0_is_an_error(tmp_path):
    for option in ("--from", "--to"):
        result = CliRunner().invoke(cli, ["diff", "http://x.example/a", "--db", str(tmp_path / "n.db"), option, "0"])
        assert result.exit_code == 2
        assert f"Invalid value for '{option}': 0 is not in the range x>=1." in result.output


def test_a_closed_terminal_finishes_the_crawl_row(loopback_site, tmp_path):
    """SIGHUP (the terminal closed) stops the crawl through Scrapy's shutdown: the row says so."""
    loopback_site.add_page("/news/harbour.html", CASE["html"])
    loopback_site.add_route("/news/harbour.html", slow_route(4))
    db = tmp_path / "news.db"
    args = [sys.executable, "-m", "newscrawler", "crawl", loopback_site.url("/news/harbour.html"), "--db", str(db)]
    for setting in FAST:
        args += ["-s", setting]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("SCRAPY_SETTINGS_MODULE", None)
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            env=env, text=True)
    deadline = time.monotonic() + 60
    while not loopback_site.hits["/news/harbour.html"]:
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.1)
    proc.send_signal(signal.SIGHUP)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    assert "the crawl was interrupted" in err
    [(finished_at, reason)] = rows(db, "SELECT finished_at, finish_reason FROM crawls")
    assert finished_at is not None and reason == "shutdown"
