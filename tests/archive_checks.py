"""What must hold in any archive, whatever happened to the crawls that wrote it; hostile pages to serve.

Used by the crash, concurrency and hostile-input tests: :func:`archive_problems` lists every broken
invariant of an archive file (none is the answer), :func:`crawl_accounts` checks that each crawl's
stats add up, :func:`crawl_args` builds the command line of a crawl to run in a subprocess.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from pathlib import Path

from tests.crawling import FAST, REPO

#: Crawl settings for fault-injecting sites: short timeouts, one retry, many requests at once.
QUICK = (*FAST, "DOWNLOAD_TIMEOUT=1", "CONCURRENT_REQUESTS=64", "CONCURRENT_REQUESTS_PER_DOMAIN=64",
         "ARCHIVE_LOCK_WAIT=0")


def crawl_args(db: Path, *urls: str, settings: tuple[str, ...] = ()) -> list[str]:
    """The command line of ``newscrawler crawl URLS --db DB`` with :data:`QUICK` and ``settings``."""
    args = [sys.executable, "-m", "newscrawler", "crawl", *urls, "--db", str(db)]
    for setting in QUICK + tuple(settings):
        args += ["-s", setting]
    return args


def crawl_env(**extra: str) -> dict[str, str]:
    """Environment for a crawl subprocess: the repository on the path, no proxy unless given."""
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in ("http_proxy", "https_proxy", "no_proxy", "all_proxy")}
    env.pop("SCRAPY_SETTINGS_MODULE", None)
    return {**env, "PYTHONPATH": str(REPO), **extra}


def archive_problems(db: Path) -> list[str]:
    """Every broken invariant of the archive at ``db``, in words; ``[]`` for a sound archive.

    An archive with no tables at all (killed before its schema was committed) is sound; one with
    some tables is not.
    SQLite's own checks (``integrity_check``, ``foreign_key_check``, the full-text index's
    ``integrity-check``), then the archive's: every version was written with its capture (a
    ``new``/``changed`` capture pointing at it), every article with a capture, versions numbered
    1..n per article, each article's latest version its own, every stored payload present.
    """
    conn = sqlite3.connect(db)  # read-write: FTS5's integrity-check is an INSERT (it writes nothing)
    problems = []
    try:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:  # killed before the schema was committed: an empty database is sound
            found = [r[0] for r in conn.execute("PRAGMA integrity_check")]
            return [] if found == ["ok"] else [f"integrity_check: {found[:10]}"]
        if not {"articles", "versions", "captures", "crawls", "payloads"} <= tables:
            return [f"half-created schema: {sorted(tables)}"]
        checks = {
            "integrity_check": [r[0] for r in conn.execute("PRAGMA integrity_check")],
            "foreign_key_check": conn.execute("PRAGMA foreign_key_check").fetchall(),
            "versions without the capture that made them": conn.execute(
                "SELECT id FROM versions v WHERE NOT EXISTS (SELECT 1 FROM captures c WHERE "
                "c.version_id = v.id AND c.outcome IN ('new', 'changed'))").fetchall(),
            "articles without captures": conn.execute(
                "SELECT id FROM articles a WHERE NOT EXISTS "
                "(SELECT 1 FROM captures c WHERE c.article_id = a.id)").fetchall(),
            "gaps in version numbers": conn.execute(
                "SELECT article_id FROM versions GROUP BY article_id "
                "HAVING min(version) != 1 OR max(version) != count(*)").fetchall(),
            "latest versions of other articles": conn.execute(
                "SELECT a.id FROM articles a JOIN versions v ON v.id = a.latest_version_id "
                "WHERE v.article_id != a.id").fetchall(),
            "articles with versions but no latest": conn.execute(
                "SELECT a.id FROM articles a WHERE a.latest_version_id IS NULL AND EXISTS "
                "(SELECT 1 FROM versions v WHERE v.article_id = a.id)").fetchall(),
            "versions whose raw payload is missing": conn.execute(
                "SELECT v.id FROM versions v WHERE v.payload_digest IS NOT NULL AND NOT EXISTS "
                "(SELECT 1 FROM payloads p WHERE p.digest = v.payload_digest)").fetchall(),
        }
        for name, found in checks.items():
            if found and found != ["ok"]:
                problems.append(f"{name}: {found[:10]}")
        try:
            conn.execute("INSERT INTO versions_fts(versions_fts) VALUES ('integrity-check')")
        except sqlite3.DatabaseError as exc:
            problems.append(f"versions_fts integrity-check: {exc}")
    finally:
        conn.close()
    return problems


def crawl_accounts(db: Path) -> list[str]:
    """For each finished crawl, how its stats fail to add up, in words; ``[]`` when all balance.

    Every URL a spider scheduled (``archive/scheduled``) ends as exactly one capture row of that
    crawl, and the stats say so: ``archive/captured`` equals the scheduled count and the number of
    the crawl's rows in ``captures``; ``archive/unaccounted`` is 0.
    """
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        crawls = conn.execute("SELECT id, stats FROM crawls WHERE finished_at IS NOT NULL").fetchall()
        rows = dict(conn.execute("SELECT crawl_id, count(*) FROM captures GROUP BY crawl_id").fetchall())
    finally:
        conn.close()
    problems = []
    for crawl_id, stats_json in crawls:
        stats = json.loads(stats_json)
        scheduled = stats.get("archive/scheduled", 0)
        counted = (stats.get("archive/captured"), rows.get(crawl_id, 0), stats.get("archive/unaccounted"))
        if counted != (scheduled, scheduled, 0):
            problems.append(f"crawl {crawl_id}: scheduled {scheduled}, captured (stats, rows, "
                            f"unaccounted) {counted}")
    return problems


def article_html(title: str, paragraphs: list[str] | None = None, *, charset: str | None = "utf-8",
                 lang: str = "en") -> str:
    """A small news article page: a headline and prose paragraphs inside ``<article>``."""
    paragraphs = paragraphs or [
        f"{title}: the council met on Tuesday evening to discuss the harbour plan, and residents "
        "filled the public gallery to hear the debate that followed the officers' report.",
        "The chair said the project would go ahead in spring, although two members asked for "
        "a fuller study of the costs before any contract is signed with the builders.",
        "Local businesses welcomed the decision, saying that the new quay would bring more "
        "visitors to the town centre during the long summer season.",
    ]
    meta = f'<meta charset="{charset}">' if charset else ""
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return (f'<!DOCTYPE html><html lang="{lang}"><head>{meta}<title>{title}</title></head><body>'
            f'<header><nav><a href="/">Home</a></nav></header><article><h1>{title}</h1>\n{body}\n'
            "</article><footer>Loopback News</footer></body></html>")


def numbered_story(topic: str, n: int) -> str:
    """Story ``n`` about ``topic``: an :func:`article_html` page whose three paragraphs all carry the
    number, so that many of them make distinct articles with no shared (boilerplate) paragraph."""
    return article_html(f"The {topic} story number {n}", [
        f"The {topic} met on day {n} to discuss the dredging of the harbour and the ferry.",
        f"Its members disagreed on the cost of the works, put at {n * 1000} pounds in all.",
        f"A decision is expected at the next meeting of the {topic} (number {n}), said the chairman, "
        "who added that the delay to the timetable would last until the end of the summer."])
