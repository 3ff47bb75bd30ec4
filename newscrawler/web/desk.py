"""The archivist's desk: the reads behind the landing page and the search by story (read-only SQL).

Each function takes a Datasette database and returns plain rows; the pages escape them.
"""

from __future__ import annotations

import re
from typing import Any

from newscrawler.store import OUTCOMES

#: Rows of the "latest changes" list on the landing page.
LATEST = 20
#: Stories in "most edited this week".
MOST_EDITED = 10
#: Versions a search reads before grouping them by article (best matches first).
SEARCH_VERSIONS = 500
#: Articles a search shows.
SEARCH_ARTICLES = 50
#: Markers around matches in FTS snippets (control characters: never in an extracted text).
MARK_START, MARK_END = "\x02", "\x03"
_MARKED = re.compile("\x02([^\x02\x03]*)\x03")


async def _rows(db: Any, sql: str, params: Any = None) -> list[dict[str, Any]]:
    return [dict(row) for row in (await db.execute(sql, params or [])).rows]


async def has_column(db: Any, table: str, column: str) -> bool:
    """Whether ``table`` has ``column`` (``PRAGMA table_info``): later schemas add columns."""
    rows = await db.execute("SELECT name FROM pragma_table_info(?)", [table])
    return any(row["name"] == column for row in rows.rows)


async def latest_changes(db: Any, limit: int = LATEST) -> list[dict[str, Any]]:
    """The latest captures that changed an article or reverted it, newest first.

    Each row: ``captured_at`` (UTC ISO 8601), ``site``, ``headline``, ``version``, ``kind``,
    ``version_id``, ``from_version`` (the version it is compared with) and ``article_id``. The kind
    is the version's ``change_kind`` where the schema has one, ``revert`` for a capture back to an
    older version, else ``changed``.
    """
    kind = "coalesce(v.change_kind, 'changed')" if await has_column(db, "versions", "change_kind") \
        else "'changed'"
    return await _rows(db, f"""
        SELECT c.captured_at, a.site, v.headline, v.version, v.id AS version_id, a.id AS article_id,
               CASE WHEN c.outcome = 'reverted' THEN 'revert' ELSE {kind} END AS kind,
               CASE WHEN c.outcome = 'reverted' THEN (
                   SELECT max(p.version) FROM versions p
                   WHERE p.article_id = c.article_id AND p.captured_at <= c.captured_at AND p.id != v.id)
                 ELSE v.version - 1 END AS from_version
        FROM captures c
        JOIN versions v ON v.id = c.version_id
        JOIN articles a ON a.id = c.article_id
        WHERE c.outcome IN ('changed', 'reverted')
        ORDER BY c.captured_at DESC, c.id DESC
        LIMIT ?""", [limit])


async def most_edited(db: Any, days: int = 7, limit: int = MOST_EDITED) -> list[dict[str, Any]]:
    """Articles with the most new versions captured in the last ``days`` days: ``article_id``,
    ``site``, ``headline`` (the current one), ``edits``, ``last_changed_at``, ``version_id``."""
    return await _rows(db, """
        SELECT a.id AS article_id, a.site, cur.headline, e.edits, a.last_changed_at,
               a.latest_version_id AS version_id
        FROM (SELECT article_id, count(*) AS edits FROM versions
              WHERE version > 1 AND captured_at >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?)
              GROUP BY article_id) e
        JOIN articles a ON a.id = e.article_id
        LEFT JOIN versions cur ON cur.id = a.latest_version_id
        ORDER BY e.edits DESC, a.last_changed_at DESC
        LIMIT ?""", [f"-{int(days)} days", limit])


async def site_health(db: Any) -> list[dict[str, Any]]:
    """Per site: ``articles``, ``last_checked_at`` (its articles' latest check), and over the last
    24 hours ``captures``, ``failed`` and ``not_article`` (by the fetched URL's registered domain,
    as the ``failing_sites`` query counts them); sites with failures first."""
    outcomes = ", ".join(f"'{o}'" for o in OUTCOMES)  # every outcome: the captures_outcome index
    return await _rows(db, f"""
        WITH recent AS (
            SELECT registered_domain(coalesce(final_url, requested_url)) AS site, outcome
            FROM captures
            WHERE outcome IN ({outcomes})
              AND captured_at >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 day')),
        day AS (
            SELECT site, count(*) AS captures, sum(outcome = 'failed') AS failed,
                   sum(outcome = 'not_article') AS not_article
            FROM recent GROUP BY site),
        known AS (
            SELECT site, count(*) AS articles, max(last_checked_at) AS last_checked_at
            FROM articles GROUP BY site)
        SELECT * FROM (
        SELECT coalesce(k.site, d.site) AS site, coalesce(k.articles, 0) AS articles,
               k.last_checked_at, coalesce(d.captures, 0) AS captures,
               coalesce(d.failed, 0) AS failed, coalesce(d.not_article, 0) AS not_article
        FROM known k LEFT JOIN day d ON d.site = k.site
        UNION
        SELECT d.site, 0, NULL, d.captures, d.failed, d.not_article
        FROM day d WHERE d.site NOT IN (SELECT site FROM known))
        ORDER BY failed + not_article DESC, site""")


async def last_crawl(db: Any) -> dict[str, Any] | None:
    """The latest row of ``crawls`` (``id``, ``started_at``, ``finished_at``, ``finish_reason``)."""
    rows = await _rows(db, "SELECT id, started_at, finished_at, finish_reason FROM crawls "
                           "ORDER BY id DESC LIMIT 1")
    return rows[0] if rows else None


async def search(db: Any, query: str) -> list[dict[str, Any]]:
    """Full-text search over headlines and bodies, grouped by article, best match first.

    Each article: ``article_id``, ``site``, ``url``, ``current_id`` and ``versions``, the matching
    versions newest first, each ``id``, ``version``, ``captured_at``, ``headline`` and ``snippet``
    (SQLite FTS5 ``snippet()`` with :data:`MARK_START`/:data:`MARK_END` around matches). The
    query goes through Datasette's ``escape_fts``: words, and "quoted phrases".
    """
    if not query.strip():
        return []
    rows = await _rows(db, f"""
        SELECT v.id, v.version, v.captured_at, v.headline, v.article_id, a.site, a.url,
               a.latest_version_id AS current_id,
               snippet(versions_fts, -1, char(2), char(3), '…', 24) AS snippet
        FROM versions_fts
        JOIN versions v ON v.id = versions_fts.rowid
        JOIN articles a ON a.id = v.article_id
        WHERE versions_fts MATCH escape_fts(?)
        ORDER BY rank LIMIT {SEARCH_VERSIONS}""", [query])
    articles: dict[int, dict[str, Any]] = {}
    for row in rows:  # best match first: the article's order is its best version's rank
        article = articles.setdefault(row["article_id"], {
            "article_id": row["article_id"], "site": row["site"], "url": row["url"],
            "current_id": row["current_id"], "versions": []})
        article["versions"].append({k: row[k] for k in ("id", "version", "captured_at", "headline",
                                                        "snippet")})
    for article in articles.values():
        article["versions"].sort(key=lambda v: v["version"], reverse=True)
    return list(articles.values())[:SEARCH_ARTICLES]


def marked_snippet(snippet: str) -> list[tuple[bool, str]]:
    """A snippet split into ``(is_match, text)`` parts, for the page to escape and mark."""
    parts, last = [], 0
    for match in _MARKED.finditer(snippet or ""):
        if match.start() > last:
            parts.append((False, snippet[last:match.start()]))
        parts.append((True, match.group(1)))
        last = match.end()
    if last < len(snippet or ""):
        parts.append((False, snippet[last:]))
    return parts
