"""The Datasette plugin of the newscrawler archive: diff and article pages, raw HTML downloads, the
Atom feed of changes, links in cells and the SQL functions the canned queries use.

Registered by the ``datasette`` entry point in pyproject.toml, so ``datasette archive/`` and
``newscrawler serve`` load it once; diffs are drawn by :mod:`newscrawler.render`.

Every archived string comes from the open web: it is escaped (markupsafe / Jinja autoescape /
ElementTree) wherever it is shown, and stored raw HTML is only ever sent as a download.
"""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Any
from xml.etree import ElementTree

import sqlite_utils
from datasette import hookimpl
from datasette.utils.asgi import NotFound, Response
from markupsafe import Markup, escape

from newscrawler import render
from newscrawler.changes import diff_versions, paragraphs
from newscrawler.store import Archive
from newscrawler.urls import clean_url, registered_domain
from newscrawler.web import desk

#: Tables that make a database a newscrawler archive; other databases are left alone.
ARCHIVE_TABLES = ("articles", "versions", "captures", "payloads")
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
#: Markers the ``search`` canned query puts around matches in its ``snippet`` column.
SNIPPET_MARK = re.compile(r"\u27e6([^\u27e6\u27e7]*)\u27e7")
FEED_SIZE = 50
ATOM_NS = "http://www.w3.org/2005/Atom"
READ_BUSY_TIMEOUT_MS = 5_000
#: Archive tables whose ``*_at`` columns hold UTC ISO 8601 times.
TIMED_TABLES = ("articles", "versions", "captures", "crawls", "site_dictionaries")
ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?$")
#: Characters of a body shown in a table cell before the link to the whole text.
BODY_PREVIEW = 160
VERSION_COLUMNS = (
    "id, article_id, version, captured_at, headline, authors, date_published, date_modified, "
    "language, body, payload_digest, changed, change_kind, reverts_to, title, corrections"
)


# --- SQL functions -------------------------------------------------------------------------------


def _sql_clean_url(url: Any) -> str | None:
    try:
        return clean_url(url) if isinstance(url, str) else None
    except ValueError:
        return None


def _sql_registered_domain(url: Any) -> str | None:
    return registered_domain(url) if isinstance(url, str) and url else None


@hookimpl
def prepare_connection(conn: sqlite3.Connection) -> None:
    """Add ``clean_url(url)`` and ``registered_domain(url)``; wait for a busy writer, not fail."""
    conn.create_function("clean_url", 1, _sql_clean_url, deterministic=True)
    conn.create_function("registered_domain", 1, _sql_registered_domain, deterministic=True)
    # WAL readers almost never wait; when the crawler checkpoints or recovers they may briefly.
    conn.execute(f"PRAGMA busy_timeout = {READ_BUSY_TIMEOUT_MS}")


# --- links in cells ------------------------------------------------------------------------------


def _link(href: str, text: Any, title: str | None = None) -> Markup:
    attr = Markup(' title="{}"').format(title) if title else Markup("")
    return Markup('<a href="{}"{}>{}</a>').format(href, attr, text)


def _db_path(datasette: Any, database: str, path: str) -> str:
    return f"{datasette.urls.database(database)}/-/{path}"


def _field(row: Any, name: str) -> Any:
    """A column of a row, or None when the row has no such column (another schema)."""
    try:
        return row[name]
    except (IndexError, KeyError):
        return None


@hookimpl
def render_cell(row: Any, value: Any, column: str, table: str | None, database: str,
                datasette: Any) -> Markup | None:
    """Link versions to their diff, articles to their timeline and digests to raw HTML downloads.

    In query results the columns ``diff`` (a version id), ``timeline`` (an article id) and
    ``raw_html`` (a payload digest) become links, and ``snippet`` shows its ⟦matches⟧ marked.
    """
    if table == "versions" and column == "version" and isinstance(value, int) \
            and isinstance(_field(row, "id"), int):
        cell = Markup("{} ").format(value) + _link(
            _db_path(datasette, database, f"diff/{row['id']}"),
            "diff" if value > 1 else "first", "compare with the previous version")
        return _marked_current(datasette, database, row, cell)
    if table == "versions" and column == "body" and isinstance(value, str) \
            and isinstance(_field(row, "id"), int):
        return truncated(value, _db_path(datasette, database, f"diff/{row['id']}?unchanged=show"))
    if column.endswith("_at") and isinstance(value, str) and ISO_TIME.match(value) \
            and (table is None or table in TIMED_TABLES):
        return time_html(value)
    if table == "articles" and column == "latest_version_id" and isinstance(value, int):
        return Markup("{} ").format(value) + _link(
            _db_path(datasette, database, f"diff/{value}"), "diff", "the latest change")
    if table == "articles" and column == "url" and isinstance(value, str) \
            and isinstance(_field(row, "id"), int):
        return _link(_db_path(datasette, database, f"article/{row['id']}"), value,
                     "timeline of this article's versions")
    if column in ("payload_digest", "digest", "raw_html") and isinstance(value, str) \
            and DIGEST.fullmatch(value) and (table in ("versions", "captures", "payloads")
                                             or (table is None and column == "raw_html")):
        return _link(_db_path(datasette, database, f"payload/{value}"), value,
                     "download the raw HTML as fetched (not rendered)")
    if table == "payloads" and column == "data" and isinstance(value, bytes) \
            and DIGEST.fullmatch(_field(row, "digest") or ""):
        return _link(_db_path(datasette, database, f"payload/{row['digest']}"),
                     f"download ({len(value):,} bytes compressed)",
                     "download the raw HTML as fetched (not rendered)")
    if table is not None:
        return None
    if column == "diff" and isinstance(value, int):
        return _link(_db_path(datasette, database, f"diff/{value}"), "diff")
    if column == "timeline" and isinstance(value, int):
        return _link(_db_path(datasette, database, f"article/{value}"), "timeline")
    if column == "snippet" and isinstance(value, str):
        return Markup(SNIPPET_MARK.sub(r"<mark>\1</mark>", str(escape(value))))
    return None


def time_html(value: Any) -> Markup | str:
    """A stored UTC ISO 8601 time shown to the second (``2026-12-04 19:58:42 UTC``) in a
    ``<time>`` element that newscrawler.js rewrites into the reader's zone; the stored value
    stays in ``datetime`` and the tooltip. Anything else is returned escaped, as it is."""
    if not isinstance(value, str) or not ISO_TIME.match(value):
        return "" if value is None else escape(value)
    shown = value[:19].replace("T", " ") + (" UTC" if value.endswith(("Z", "+00:00")) else "")
    return Markup('<time class="nc-time" datetime="{}" title="{} (as stored)">{}</time>').format(
        value, value, shown)


def truncated(text: str, href: str, limit: int = BODY_PREVIEW) -> Markup:
    """The first ``limit`` characters of ``text`` (cut at a word), then a link to the whole."""
    if len(text) <= limit:
        return escape(text)
    cut = text[:limit].rsplit(" ", 1)[0] or text[:limit]
    return Markup('<span class="nc-preview">{}…</span> {}').format(
        cut, _link(href, f"read all {len(text):,} characters", "the whole text, changes marked"))


def _marked_current(datasette: Any, database: str, row: Any, cell: Markup) -> Any:
    """``cell`` with a "current" badge when the row is its article's current version."""

    article_id = _field(row, "article_id")
    if isinstance(article_id, dict):  # a foreign key Datasette expanded to {"value", "label"}
        article_id = article_id.get("value")

    async def inner() -> Markup:
        found = (await datasette.get_database(database).execute(
            "SELECT latest_version_id FROM articles WHERE id = ?", [article_id])).rows
        if found and found[0][0] == row["id"]:
            return cell + Markup(' <span class="nc-current" title="the article as it stands">'
                                 'current</span>')
        return cell

    return inner


@hookimpl
def prepare_jinja2_environment(env: Any) -> None:
    """The ``nc_time`` filter: a stored time shown to the second in the reader's zone."""
    env.filters["nc_time"] = time_html


@hookimpl
def extra_css_urls(datasette: Any) -> list[str]:
    """Compact archive tables, change marks and the landing page's layout."""
    return [datasette.urls.static_plugins("newscrawler", "newscrawler.css")]


@hookimpl
def extra_js_urls(datasette: Any) -> list[dict[str, Any]]:
    """Times in the reader's zone and "copy as text" (a module: runs once the page is parsed)."""
    return [{"url": datasette.urls.static_plugins("newscrawler", "newscrawler.js"), "module": True}]


@hookimpl
def extra_template_vars(template: str, datasette: Any, request: Any) -> Any:
    """On the landing page (``index.html``): per archive database, its latest changes, most-edited
    stories of the week, site health and last crawl (:mod:`newscrawler.web.desk`)."""
    if template != "index.html":
        return None

    async def inner() -> dict[str, Any]:
        desks = []
        for name in datasette.databases:
            db = datasette.get_database(name)
            if name == "_internal" or not await _is_archive(db):
                continue
            desks.append({
                "database": name, "base": _db_path(datasette, name, ""),
                "changes": await desk.latest_changes(db), "most_edited": await desk.most_edited(db),
                "health": await desk.site_health(db), "last_crawl": await desk.last_crawl(db),
                "dashboard": datasette.urls.path("-/dashboards/desk"),
            })
        return {"desks": desks}

    return inner


# --- pages ---------------------------------------------------------------------------------------


@hookimpl
def register_routes() -> list[tuple[str, Any]]:
    """The diff, article, raw HTML download and Atom feed pages of each archive database."""
    db = r"^/(?P<database>[^/]+)/-/"
    return [
        (db + r"diff/(?P<version_id>\d+)(\.(?P<format>json|txt))?$", diff_view),
        (db + r"search$", search_view),
        (db + r"article/(?P<article_id>\d+)(\.(?P<format>json))?$", article_view),
        (db + r"payload/(?P<digest>sha256:[0-9a-f]{64})$", payload_view),
        (db + r"changes\.atom$", atom_view),
    ]


@hookimpl
def menu_links(datasette: Any, actor: Any) -> Any:
    """Recent changes and the Atom feed of each archive database, in the navigation menu."""

    async def inner() -> list[dict[str, str]]:
        links = []
        for name in datasette.databases:
            if name != "_internal" and await _is_archive(datasette.get_database(name)):
                links.append({"href": _db_path(datasette, name, "search"),
                              "label": f"Search stories ({name})"})
                links.append({"href": str(datasette.urls.query(name, "recent_changes")),
                              "label": f"Recent changes ({name})"})
                links.append({"href": _db_path(datasette, name, "changes.atom"),
                              "label": f"Atom feed of changes ({name})"})
        return links

    return inner


async def _is_archive(db: Any) -> bool:
    tables = set(await db.table_names())
    return all(t in tables for t in ARCHIVE_TABLES)


async def _archive(datasette: Any, request: Any, table: str) -> Any:
    """The archive database named in the URL, after Datasette's permission checks."""
    try:
        db = datasette.get_database(route=request.url_vars["database"])
    except KeyError:
        raise NotFound("Database not found") from None
    await datasette.ensure_permissions(
        request.actor, [("view-table", (db.name, table)), ("view-database", db.name),
                        "view-instance"])
    if not await _is_archive(db):
        raise NotFound(f"{db.name} is not a newscrawler archive")
    return db


async def _rows(db: Any, sql: str, params: Any) -> list[dict[str, Any]]:
    return [dict(row) for row in (await db.execute(sql, params)).rows]


def _decode(version: dict[str, Any]) -> dict[str, Any]:
    for field in ("authors", "changed"):
        if isinstance(version.get(field), str):
            try:
                version[field] = json.loads(version[field])
            except ValueError:
                version[field] = [version[field]]
    return version


def _summary(version: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "version", "captured_at", "headline", "payload_digest")
    return {k: version.get(k) for k in keys}


async def diff_view(datasette: Any, request: Any) -> Response:
    """A version against the previous one (or ``?from=N``): word-level, inline or side by side.

    ``?layout=side`` shows old and new side by side, ``?unchanged=show`` unfolds the unchanged
    paragraphs; ``.json`` gives :func:`diff_versions` output, ``.txt`` the diff as plain text
    (:func:`newscrawler.render.diff_text`). The permalink names both versions (``?from=N``):
    version ids and numbers never change, so it shows the same diff for good.
    """
    db = await _archive(datasette, request, "versions")
    version_id = int(request.url_vars["version_id"])
    found = await _rows(db, f"SELECT {VERSION_COLUMNS} FROM versions WHERE id = ?", [version_id])
    if not found:
        raise NotFound(f"No version with id {version_id}")
    new = _decode(found[0])
    from_number = request.args.get("from")
    if from_number is not None and not from_number.isdigit():
        raise NotFound("?from= takes a version number")
    from_number = int(from_number) if from_number is not None else new["version"] - 1
    old = None
    if from_number >= 1 and from_number != new["version"]:
        rows = await _rows(db, f"SELECT {VERSION_COLUMNS} FROM versions "
                               "WHERE article_id = ? AND version = ?",
                           [new["article_id"], from_number])
        if not rows:
            raise NotFound(f"This article has no version {from_number}")
        old = _decode(rows[0])
    article = (await _rows(db, "SELECT * FROM articles WHERE id = ?", [new["article_id"]]))[0]
    numbers = [r["version"] for r in await _rows(
        db, "SELECT version FROM versions WHERE article_id = ? ORDER BY version",
        [new["article_id"]])]
    if old is None:  # the first version: nothing to compare with
        result = {"changed": [], "headline": [("=", new["headline"] or "")], "metadata": [],
                  "body": [{"op": "equal", "old": p, "new": p} for p in paragraphs(new["body"])]}
    else:
        result = diff_versions(old, new)
    if request.url_vars.get("format") == "json":
        return Response.json({
            "database": db.name, "article": {"id": article["id"], "url": article["url"]},
            "from": _summary(old) if old else None, "to": _summary(new),
            "words": render.word_counts(result), **result,
        })
    permalink = datasette.absolute_url(request, _db_path(datasette, db.name, f"diff/{new['id']}")
                                       + (f"?from={old['version']}" if old else ""))
    if request.url_vars.get("format") == "txt":
        head = (f"{article['url']}\nversion {old['version']} ({old['captured_at']}) -> version "
                f"{new['version']} ({new['captured_at']})\n{permalink}\n" if old else
                f"{article['url']}\nversion {new['version']} ({new['captured_at']}), the first\n"
                f"{permalink}\n")
        return Response.text(head + render.diff_text(result),
                             headers={"x-content-type-options": "nosniff"})
    ids = {r["version"]: r["id"] for r in await _rows(
        db, "SELECT id, version FROM versions WHERE article_id = ?", [new["article_id"]])}
    side = request.args.get("layout") == "side"
    context = {
        "database": db.name, "article": article, "old": old, "new": new, "result": result,
        "side_by_side": side, "words": render.word_counts(result), "numbers": numbers,
        "diff_html": render.diff_html(result, side_by_side=side,
                                      folded=request.args.get("unchanged") != "show"),
        "changes": render.change_count(result), "version_ids": ids, "permalink": permalink,
        "text_href": _db_path(datasette, db.name, f"diff/{new['id']}.txt")
        + (f"?from={old['version']}" if old else ""),
        "current_id": article["latest_version_id"],
        "base": _db_path(datasette, db.name, ""), "article_href": _article_href(article["url"]),
    }
    return Response.html(await datasette.render_template(
        "newscrawler_diff.html", context, request=request))


def _article_href(url: str) -> str | None:
    """The live article URL as a link target, only when it is plain http(s)."""
    return url if re.match(r"https?://", url or "", re.IGNORECASE) else None


async def article_view(datasette: Any, request: Any) -> Response:
    """An article's timeline: every version with what changed, then its captures by outcome."""
    db = await _archive(datasette, request, "articles")
    article_id = int(request.url_vars["article_id"])
    found = await _rows(db, "SELECT * FROM articles WHERE id = ?", [article_id])
    if not found:
        raise NotFound(f"No article with id {article_id}")
    article = found[0]
    versions = [_decode(v) for v in await _rows(
        db, "SELECT id, version, captured_at, headline, authors, date_published, date_modified, "
            "language, payload_digest, changed, change_kind, reverts_to, length(body) AS body_chars FROM versions "
            "WHERE article_id = ? ORDER BY version", [article_id])]
    outcomes = await _rows(
        db, "SELECT outcome, count(*) AS n, max(captured_at) AS last_at FROM captures "
            "WHERE article_id = ? GROUP BY outcome ORDER BY n DESC", [article_id])
    captures = await _rows(
        db, "SELECT * FROM captures WHERE article_id = ? ORDER BY captured_at DESC, id DESC "
            "LIMIT 50", [article_id])
    if request.url_vars.get("format") == "json":
        return Response.json({"database": db.name, "article": article, "versions": versions,
                              "outcomes": outcomes, "captures": captures})
    context = {
        "database": db.name, "article": article, "versions": versions, "outcomes": outcomes,
        "captures": captures, "base": _db_path(datasette, db.name, ""),
        "article_href": _article_href(article["url"]),
        "row_href": datasette.urls.row(db.name, "articles", str(article_id)),
        "captures_href": datasette.urls.table(db.name, "captures") + f"?article_id={article_id}",
        "chart_href": datasette.urls.path(f"-/dashboards/desk?article={article_id}"),
    }
    return Response.html(await datasette.render_template(
        "newscrawler_article.html", context, request=request))


async def search_view(datasette: Any, request: Any) -> Response:
    """Full-text search grouped by story: each matching article once, its latest matching
    version first, with highlighted snippets (``?q=``; ``.json`` not offered, the ``search``
    canned query is the machine-readable one)."""
    db = await _archive(datasette, request, "versions")
    query = request.args.get("q") or ""
    try:
        found = await desk.search(db, query)
    except sqlite3.OperationalError as exc:  # an FTS syntax Datasette's escape_fts lets through
        found, error = [], str(exc)
    else:
        error = None
    for article in found:
        for version in article["versions"]:
            version["snippet_parts"] = desk.marked_snippet(version["snippet"])
    context = {"database": db.name, "q": query, "articles": found, "error": error,
               "base": _db_path(datasette, db.name, "")}
    return Response.html(await datasette.render_template(
        "newscrawler_search.html", context, request=request))


async def payload_view(datasette: Any, request: Any) -> Response:
    """The raw bytes of a fetch, decompressed, as an attachment that browsers never render."""
    db = await _archive(datasette, request, "payloads")
    digest = request.url_vars["digest"]
    meta = await _rows(db, "SELECT content_type FROM payloads WHERE digest = ?", [digest])
    if not meta:
        raise NotFound("This payload is not stored: only fetches that made a new version keep "
                       "their raw HTML")
    data = await db.execute_fn(lambda conn: Archive(sqlite_utils.Database(
        conn, execute_plugins=False, recursive_triggers=False)).payload(digest))
    kind = (meta[0]["content_type"] or "").split(";")[0].strip().lower()
    suffix = ".html" if kind in ("text/html", "application/xhtml+xml") else ".bin"
    return Response(data, content_type="application/octet-stream", headers={
        "content-disposition": f'attachment; filename="{digest.replace(":", "-")}{suffix}"',
        "x-content-type-options": "nosniff",
        "content-security-policy": "default-src 'none'; sandbox",
        "cache-control": "private, max-age=3600",
    })


async def atom_view(datasette: Any, request: Any) -> Response:
    """Atom feed of the latest changed versions (version 2 and later), newest first.

    ``?site=`` keeps one site (registered domain, as in ``articles.site``).
    """
    db = await _archive(datasette, request, "versions")
    site = request.args.get("site")
    where = "WHERE v.version > 1" + (" AND a.site = :site" if site else "")
    rows = await _rows(db, f"""
        SELECT v.id, v.version, v.captured_at, v.headline, v.changed, v.change_kind, v.body, a.url, a.site,
               p.headline AS old_headline, p.body AS old_body, p.authors AS old_authors,
               p.date_published AS old_date_published, p.date_modified AS old_date_modified,
               p.language AS old_language, v.authors, v.date_published, v.date_modified,
               v.language
        FROM versions v JOIN articles a ON a.id = v.article_id
        JOIN versions p ON p.article_id = v.article_id AND p.version = v.version - 1
        {where} ORDER BY v.id DESC LIMIT {FEED_SIZE}""", {"site": site})
    title = datasette.metadata("title") or "newscrawler archive"
    ElementTree.register_namespace("", ATOM_NS)
    feed = ElementTree.Element(f"{{{ATOM_NS}}}feed")

    def add(parent: Any, tag: str, text: str | None = None, **attrs: str) -> Any:
        element = ElementTree.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
        element.text = text
        return element

    feed_url = datasette.absolute_url(request, request.full_path)
    add(feed, "title", f"{title}: changes" + (f" on {site}" if site else ""))
    add(feed, "id", feed_url)
    add(feed, "link", href=feed_url, rel="self")
    add(feed, "link", rel="alternate", href=datasette.absolute_url(
        request, str(datasette.urls.query(db.name, "recent_changes"))))
    add(feed, "updated", rows[0]["captured_at"] if rows else "1970-01-01T00:00:00Z")
    add(feed, "generator", "newscrawler")
    for row in rows:
        old = {k[4:]: v for k, v in row.items() if k.startswith("old_")}
        result = diff_versions(old, row)
        entry = add(feed, "entry")
        add(entry, "title", f"{row['headline'] or row['url']} (version {row['version']})")
        add(entry, "id", f"{row['url']}#version-{row['version']}")
        add(entry, "updated", row["captured_at"])
        add(entry, "link", rel="alternate", href=datasette.absolute_url(
            request, _db_path(datasette, db.name, f"diff/{row['id']}")))
        author = add(entry, "author")
        add(author, "name", row["site"])
        add(entry, "summary", f"{row['change_kind'] or 'changed'}: " + ", ".join(json.loads(row["changed"] or "[]")))
        if row["change_kind"]:  # issue 18: correction, update, headline, stealth, metadata, revert
            add(entry, "category", term=row["change_kind"], label=row["change_kind"])
        add(entry, "content", render.feed_html(result), type="html")
    body = ElementTree.tostring(feed, encoding="unicode", xml_declaration=True)
    return Response(body, content_type="application/atom+xml; charset=utf-8")
