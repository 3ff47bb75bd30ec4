"""Shards and merges: sites split between crawls by --shard K/N, shard archives merged into one.

Real crawls of real loopback sites (one per loopback address, so each is its own registered
domain) in subprocesses; merges of real SQLite files; a real ``kill -9`` of a shard crawl.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from newscrawler.merge import MergeConflict, MergeRefused, merge_plan, merge_shard
from newscrawler.shards import Shard, parse_shard, shard_of
from newscrawler.sites import load_sites, read_sites
from newscrawler.store import Archive
from tests.archive_checks import archive_problems, article_html, crawl_env, numbered_story
from tests.crawling import FAST, REPO, run
from tests.site import LoopbackSite, slow_route

# --- which shard a site belongs to ---------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [("1/2", Shard(1, 2)), (" 3 / 4 ", Shard(3, 4)), ("1/1", Shard(1, 1)),
                                            ("", None), (None, None)])
def test_parse_shard(text, expected):
    assert parse_shard(text) == expected


@pytest.mark.parametrize("text", ["0/2", "3/2", "1", "1/0", "a/b", "1/2/3", "-1/2", "1.5/2"])
def test_parse_shard_refuses_other_text(text):
    with pytest.raises(ValueError, match="K"):
        parse_shard(text)


def test_shard_of_is_the_sha256_of_the_domain_modulo_n():
    for domain in ("bbc.co.uk", "rferl.org", "127.0.0.1", "example.com"):
        expected = int.from_bytes(hashlib.sha256(domain.encode()).digest()[:8], "big") % 7 + 1
        assert shard_of(domain, 7) == expected
        assert shard_of(domain.upper() + ".", 7) == expected  # the same domain however written


def test_every_host_of_a_site_is_in_its_shard_and_sites_spread_over_the_shards():
    shard = Shard(shard_of("bbc.co.uk", 4), 4)
    for url in ("https://www.bbc.co.uk/news/a.html", "https://news.bbc.co.uk/sitemap.xml", "http://BBC.co.uk/"):
        assert shard.holds_url(url)
    counts = {k: 0 for k in range(1, 5)}
    for n in range(4000):
        counts[shard_of(f"site{n}.example.org", 4)] += 1
    assert all(800 < c < 1200 for c in counts.values()), counts


def _sites_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sites.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_site_names_its_shard_in_the_sites_file(tmp_path):
    sites = load_sites(_sites_file(tmp_path, '[[site]]\nname = "a"\nsitemaps = ["https://a.example/s.xml"]\n'
                                             'shard = 2\n[[site]]\nname = "b"\nfeeds = ["https://b.example/f"]\n'))
    assert [s.shard for s in sites] == [2, None]
    assert Shard(2, 3).holds_site(sites[0]) and not Shard(1, 3).holds_site(sites[0])
    assert Shard(shard_of("b.example", 3), 3).holds_site(sites[1])
    with pytest.raises(ValueError, match="site a has shard = 2, but the crawl runs 1 shards"):
        Shard(1, 1).holds_site(sites[0])


@pytest.mark.parametrize("value", ["0", "true", '"2"', "1.0", "-1"])
def test_a_bad_shard_in_the_sites_file_is_one_clear_error(tmp_path, value):
    path = _sites_file(tmp_path, f'[[site]]\nname = "a"\nsitemaps = ["https://a.example/s.xml"]\nshard = {value}\n')
    sites, skipped = read_sites(path)  # the bad site is skipped with one line; the others are crawled
    assert sites == [] and [(b.field, b.reason) for b in skipped] == [
        ("shard", "must be a whole number from 1 (the K of --shard K/N)")]


# --- which tables a merge copies, and how -----------------------------------------------------------


def test_the_merge_plan_is_read_from_the_schema(tmp_path):
    with Archive.open(tmp_path / "a.db") as archive:
        plan = {t.name: t for t in merge_plan(archive.db.conn)}
    assert set(plan) == {"articles", "versions", "captures", "crawls", "payloads", "site_paragraphs",
                         "site_paragraph_counts", "reextractions", "site_dictionaries", "article_aliases",
                         "capture_exchanges", "discovery_problems", "site_health", "notifications"}
    assert plan["captures"].renumbered == {"article_id": "articles", "version_id": "versions", "crawl_id": "crawls"}
    assert plan["site_paragraphs"].renumbered == {"article_id": "articles"}  # no foreign key: by its name
    assert plan["article_aliases"].renumbered == {"article_id": "articles"}  # an alias follows its story
    assert plan["capture_exchanges"].renumbered == {"capture_id": "captures"}  # the WARC records of a capture
    assert plan["notifications"].natural_key == ["channel_digest", "event"]  # a merged event is not sent twice
    assert plan["articles"].deferred == {"latest_version_id"}  # versions come after articles
    assert plan["articles"].natural_key == ["url"] and plan["versions"].natural_key == ["article_id", "version"]
    assert plan["payloads"].content_addressed and not plan["site_paragraph_counts"].content_addressed
    order = list(plan)
    assert order.index("payloads") < order.index("versions") < order.index("captures")


@pytest.mark.parametrize("ddl, message", [
    ("CREATE TABLE notes (article_id INTEGER, text TEXT)", "table notes has no primary key"),
    ("CREATE TABLE notes (id INTEGER PRIMARY KEY, widget_id INTEGER)", "column notes.widget_id looks like a row id"),
])
def test_a_table_the_merge_cannot_match_is_refused_by_name(tmp_path, ddl, message):
    with Archive.open(tmp_path / "a.db") as archive:
        archive.db.execute(ddl)
        with pytest.raises(MergeRefused, match=message):
            merge_plan(archive.db.conn)


def test_a_table_another_migration_adds_is_merged_and_renumbered(tmp_path):
    """A table the merge never heard of, with a row id and a reference by name, is merged like the others."""
    ddl = "CREATE TABLE article_notes (id INTEGER PRIMARY KEY, article_id INTEGER NOT NULL, note TEXT)"
    paths = []
    for name, url in (("one", "https://one.example/a.html"), ("two", "https://two.example/b.html")):
        with Archive.open(tmp_path / f"{name}.db") as archive:
            archive.db.execute(ddl)
            with archive.db.conn:
                for extra in range(2 if name == "two" else 1):  # different ids in the two shards
                    archive.db["articles"].insert({"url": f"{url}?{extra}", "site": f"{name}.example",
                                                   "first_seen_at": "2026-11-01T00:00:00Z"})
                article_id = archive.db.execute("SELECT max(id) FROM articles").fetchone()[0]
                archive.db["article_notes"].insert({"article_id": article_id, "note": f"note of {name}"})
        paths.append(tmp_path / f"{name}.db")
    with Archive.open(tmp_path / "merged.db") as target:
        target.db.execute(ddl)
        for path in paths:
            merge_shard(target, path)
        found = target.db.execute("SELECT a.url, n.note FROM article_notes n JOIN articles a ON a.id = n.article_id "
                                  "ORDER BY n.note").fetchall()
    assert found == [("https://one.example/a.html?0", "note of one"), ("https://two.example/b.html?1", "note of two")]


# --- crawls and merges ---------------------------------------------------------------------------------


def _serve_sites(tmp_path: Path, count: int, pages: int) -> list[LoopbackSite]:
    sites = []
    for n in range(count):
        site = LoopbackSite(tmp_path / f"site{n}", host=f"127.0.0.{n + 1}", name=f"Site {n}")
        site.start()
        for i in range(pages):
            site.add_page(f"/news/{i:02d}.html", numbered_story(f"site {n} council", i))
        site.write_discovery()
        sites.append(site)
    return sites


def _watch(tmp_path: Path, sites: list[LoopbackSite], shards: list[int | None]) -> Path:
    text = "".join(f'[[site]]\nname = "site{n}"\nsitemaps = ["{site.url("/sitemap.xml")}"]\n'
                   + (f"shard = {shard}\n" if shard else "")
                   for n, (site, shard) in enumerate(zip(sites, shards, strict=True)))
    return _sites_file(tmp_path, text)


def _crawl(db: Path, sites_file: Path, *extra: str) -> None:
    run([*_crawl_args(db, sites_file), *extra])


def _crawl_args(db: Path, sites_file: Path) -> list[str]:
    return _url_crawl(db, ["--sites", str(sites_file)])


def _merge(target: Path, *shards: Path, check: bool = True):
    return run([sys.executable, "-m", "newscrawler", "merge", *map(str, shards), "--db", str(target)], check=check)


def content(db: Path) -> dict[str, list]:
    """What an archive holds, without row ids or times: articles, versions, payloads (decompressed),
    captures, and the boilerplate counts."""
    with Archive.open(db, readonly=True) as archive:
        q = archive.db.execute
        payloads = sorted((digest, size, content_type, hashlib.sha256(archive.payload(digest)).hexdigest())
                          for digest, size, content_type in q("SELECT digest, size, content_type FROM payloads"))
        return {
            "articles": sorted(q("SELECT url, site, canonical_url, latest_version_id IS NOT NULL FROM articles")),
            "versions": sorted(q("SELECT a.url, v.version, v.headline, v.body, v.content_digest, v.payload_digest, "
                                 "v.changed, v.extractor FROM versions v JOIN articles a ON a.id = v.article_id")),
            "latest": sorted(q("SELECT a.url, v.version FROM articles a "
                               "JOIN versions v ON v.id = a.latest_version_id")),
            "payloads": payloads,
            "captures": sorted(q("SELECT c.requested_url, c.outcome, c.status, c.payload_digest, v.version, a.url "
                                 "FROM captures c LEFT JOIN versions v ON v.id = c.version_id "
                                 "LEFT JOIN articles a ON a.id = c.article_id")),
            "paragraphs": sorted(q("SELECT a.url, p.site, p.digest FROM site_paragraphs p "
                                   "JOIN articles a ON a.id = p.article_id")),
            "paragraph_counts": sorted(q("SELECT site, digest, articles FROM site_paragraph_counts")),
            "dictionary_sites": sorted(q("SELECT site FROM site_dictionaries")),
            "search": sorted(q("SELECT rowid FROM versions_fts WHERE versions_fts MATCH 'council'")) and
            sorted(q("SELECT a.url FROM versions_fts f JOIN versions v ON v.id = f.rowid "
                     "JOIN articles a ON a.id = v.article_id WHERE versions_fts MATCH 'dredging'")),
        }


def _datasette(files: list[Path], paths: list[str]) -> list:
    """GET each path from a real in-process Datasette over ``files`` (``datasette a.db b.db --crossdb``)."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from datasette.app import Datasette

    async def fetch():
        ds = Datasette([str(f) for f in files], crossdb=True)
        return [await ds.client.get(path) for path in paths]

    with ThreadPoolExecutor(1) as pool:  # clear of any loop or reactor in the main thread
        return pool.submit(asyncio.run, fetch()).result()


def dump(db: Path) -> dict[str, list]:
    """Every row of every table, ids included (for "a second merge changes nothing")."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        names = [n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {n: sorted(map(repr, conn.execute(f"SELECT * FROM [{n}]"))) for n in names}
    finally:
        conn.close()


def test_two_shards_merged_hold_what_one_crawl_of_the_same_sites_holds(tmp_path):
    sites = _serve_sites(tmp_path, 3, 8)
    try:
        watched = _watch(tmp_path, sites, [1, 2, 2])
        full, one, two, merged = (tmp_path / f"{n}.db" for n in ("full", "one", "two", "merged"))
        _crawl(full, watched)
        _crawl(one, watched, "--shard", "1/2")
        _crawl(two, watched, "--shard", "2/2")
        hosts = {n: {r[0].split("/")[2] for r in content(db)["articles"]} for n, db in (("one", one), ("two", two))}
        assert hosts == {"one": {sites[0].url("/").split("/")[2]},
                         "two": {sites[1].url("/").split("/")[2], sites[2].url("/").split("/")[2]}}
        out = _merge(merged, one, two).stdout
        assert "articles +8" in out and "articles +16" in out
        expected = content(full)
        assert len(expected["articles"]) == 24 and len(expected["versions"]) == 24
        assert content(merged) == expected
        assert archive_problems(merged) == []
        assert len(content(merged)["search"]) == 24  # the full-text index holds the merged versions

        # Datasette serves the shard files side by side, and across them with --crossdb.
        listed, union = _datasette([one, two], ["/-/databases.json", "/_memory.json?_shape=arrays&sql=" + quote(
            "SELECT site, count(*) FROM (SELECT site FROM one.articles UNION ALL SELECT site FROM two.articles) "
            "GROUP BY site ORDER BY site")])
        assert sorted(d["name"] for d in listed.json()) == ["_memory", "one", "two"]
        assert union.json()["rows"] == [[f"127.0.0.{n}", 8] for n in (1, 2, 3)]

        # Merged twice: nothing changes, and the command says so.
        before = dump(merged)
        out = _merge(merged, one, two).stdout
        assert out.splitlines() == [f"{one}: nothing new", f"{two}: nothing new"]
        assert dump(merged) == before

        # The shards crawl on (an edit, a new story), and the merge brings just that in.
        sites[0].add_page("/news/03.html", numbered_story("site 0 council", 3).replace("disagreed", "agreed"))
        sites[2].add_page("/news/99.html", numbered_story("site 2 council", 99))
        for site in sites:
            site.write_discovery()
        _crawl(full, watched)
        _crawl(one, watched, "--shard", "1/2")
        _crawl(two, watched, "--shard", "2/2")
        _merge(merged, one, two)
        after = content(merged)
        assert after == content(full)
        assert ((sites[0].url("/news/03.html"), 2) in after["latest"]
                and (sites[2].url("/news/99.html"), 1) in after["latest"])
        assert archive_problems(merged) == []
        with Archive.open(merged, readonly=True) as archive:  # the crawls of both shards, each with its stats
            assert archive.db.execute("SELECT count(*), count(finished_at) FROM crawls").fetchone() == (4, 4)
    finally:
        for site in sites:
            site.stop()


def test_urls_given_to_a_shard_crawl_are_split_by_their_site(tmp_path):
    hosts = [f"127.0.0.{n}" for n in range(1, 30)]
    first = next(h for h in hosts if shard_of(h, 2) == 1)
    second = next(h for h in hosts if shard_of(h, 2) == 2)
    sites = []
    try:
        for host in (first, second):
            site = LoopbackSite(tmp_path / host, host=host)
            site.start()
            site.add_page("/a.html", article_html(f"A story of {host}"))
            sites.append(site)
        urls = [site.url("/a.html") for site in sites]
        for k, expected in ((1, urls[0]), (2, urls[1])):
            db = tmp_path / f"shard{k}.db"
            run([*_url_crawl(db, urls), "--shard", f"{k}/2"])
            assert [r[0] for r in content(db)["articles"]] == [expected]
    finally:
        for site in sites:
            site.stop()


def _url_crawl(db: Path, urls: list[str]) -> list[str]:
    args = [sys.executable, "-m", "newscrawler", "crawl", *urls, "--db", str(db)]
    for setting in FAST:
        args += ["-s", setting]
    return args


def test_a_shard_whose_articles_are_in_the_target_from_elsewhere_is_refused_whole(tmp_path):
    sites = _serve_sites(tmp_path, 2, 3)
    try:
        watched = _watch(tmp_path, sites, [1, 2])
        full, one = tmp_path / "full.db", tmp_path / "one.db"
        _crawl(full, watched)
        _crawl(one, watched, "--shard", "1/2")
        before = dump(full)
        proc = _merge(full, one, check=False)
        assert proc.returncode == 1
        assert re.search(f"Error: {re.escape(str(one))} not merged: articles row with url = "
                         f"'{re.escape(sites[0].url('/news/'))}\\d\\d.html' is already in the target", proc.stderr)
        assert "a site's history must stay in one shard" in proc.stderr
        assert dump(full) == before  # nothing of the shard was written
        with Archive.open(full) as target, pytest.raises(MergeConflict):
            merge_shard(target, one)
    finally:
        for site in sites:
            site.stop()


def test_merge_refuses_the_target_itself_and_a_missing_file(tmp_path):
    db = tmp_path / "a.db"
    Archive.open(db).close()
    proc = _merge(db, db, check=False)
    assert proc.returncode == 1 and f"Error: {db} is the target archive itself" in proc.stderr
    proc = _merge(db, tmp_path / "missing.db", check=False)
    assert proc.returncode == 2 and "does not exist" in proc.stderr


def test_a_merge_killed_midway_leaves_the_target_as_it_was(tmp_path):
    """kill -9 of a merge in the middle of a shard's transaction: the target has none of that shard."""
    shard = tmp_path / "shard.db"
    with Archive.open(shard) as archive, archive.db.conn:
        for i in range(3000):
            archive.db["articles"].insert({"url": f"https://a.example/{i}", "site": "a.example",
                                           "first_seen_at": "2026-11-01T00:00:00Z"})
    target = tmp_path / "merged.db"
    Archive.open(target).close()
    before = dump(target)
    script = ("import os, signal, sys\nfrom newscrawler.store import Archive\n"
              "from newscrawler.merge import merge_shard\n"
              "target = Archive.open(sys.argv[1])\nseen = []\n"
              "def trace(sql):\n    seen.append(sql)\n"
              "    if len(seen) == 2000: os.kill(os.getpid(), signal.SIGKILL)\n"
              "target.db.conn.set_trace_callback(trace)\nmerge_shard(target, sys.argv[2])\nprint('not killed')\n")
    proc = run([sys.executable, "-c", script, str(target), str(shard)], check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr
    assert dump(target) == before and archive_problems(target) == []
    _merge(target, shard)  # and the next merge takes the whole shard
    assert len(content(target)["articles"]) == 3000


def test_kill_9_of_a_shard_crawl_loses_nothing_it_committed(tmp_path):
    sites = _serve_sites(tmp_path, 2, 30)
    try:
        for i in range(30):
            sites[0].add_route(f"/news/{i:02d}.html", slow_route(0.1))
        watched = _watch(tmp_path, sites, [1, 2])
        one, two, merged = tmp_path / "one.db", tmp_path / "two.db", tmp_path / "merged.db"
        proc = subprocess.Popen([*_crawl_args(one, watched), "--shard", "1/2", "-s", "CONCURRENT_REQUESTS=2"],
                                env=crawl_env(TMPDIR=str(tmp_path)), cwd=REPO, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            deadline = time.monotonic() + 120
            while _count(one) < 5:
                assert proc.poll() is None and time.monotonic() < deadline, "the shard crawl made no progress"
                time.sleep(0.05)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
        committed = content(one)
        assert 5 <= len(committed["captures"]) < 30 and archive_problems(one) == []
        _crawl(two, watched, "--shard", "2/2")
        _merge(merged, one, two)
        merged_now = content(merged)
        assert set(committed["versions"]) <= set(merged_now["versions"])  # what the killed shard committed
        _crawl(one, watched, "--shard", "1/2")  # the next run of the shard fetches the rest
        _merge(merged, one, two)
        final = content(merged)
        assert len(final["articles"]) == 60 and len(final["versions"]) == 60
        assert set(committed["captures"]) <= set(final["captures"]) and archive_problems(merged) == []
    finally:
        for site in sites:
            site.stop()


def _count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute("SELECT count(*) FROM captures WHERE outcome = 'new'").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.OperationalError:
        return 0
