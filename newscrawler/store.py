"""The SQLite archive: schema migrations, article/version/capture writes and the reads spiders need.

This is the only module that writes SQL. Every capture is written in one transaction; the database
runs in WAL mode with a busy timeout so Datasette can read while a crawl writes.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sqlite3
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import sqlite_utils

from newscrawler.changes import changed_fields, content_digest, payload_digest
from newscrawler.dates import utcnow_iso
from newscrawler.urls import article_key, clean_url, registered_domain

logger = logging.getLogger(__name__)

#: Outcomes a capture row can have.
OUTCOMES = ("new", "changed", "revisit", "not_modified", "not_article", "failed")
BUSY_TIMEOUT_MS = 30_000


@dataclasses.dataclass
class Capture:
    """One fetch, ready to archive.

    Times are ISO 8601 UTC strings. ``extracted`` is the dict of
    :class:`newscrawler.extraction.Extracted` (or ``None`` when the fetch gave no article); then
    ``outcome`` says why (``not_article``, ``failed``, ``not_modified``) and ``error`` gives the
    reason in words.
    """

    requested_url: str
    captured_at: str
    final_url: str | None = None
    status: int | None = None
    outcome: str | None = None  # set for captures without extraction; decided by Archive otherwise
    error: str | None = None
    body: bytes | None = None  # raw response body, kept (compressed) when it shows a new version
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None  # the Last-Modified header, as sent
    discovered_via: str | None = None  # "cli", "sitemap", "feed", "recheck", ...
    extracted: dict[str, Any] | None = None


@dataclasses.dataclass
class Recorded:
    """What :meth:`Archive.record` wrote: the capture's outcome and row ids (None where absent)."""

    outcome: str
    capture_id: int
    article_id: int | None
    version_id: int | None
    version: int | None
    article_url: str | None


def _migration_1(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE articles (
            id INTEGER PRIMARY KEY,
            url TEXT NOT NULL UNIQUE,
            site TEXT NOT NULL,
            canonical_url TEXT,
            first_seen_at TEXT NOT NULL,
            last_checked_at TEXT,
            last_changed_at TEXT,
            latest_version_id INTEGER
        );
        CREATE TABLE payloads (
            digest TEXT PRIMARY KEY,
            content_type TEXT,
            size INTEGER NOT NULL,
            compression TEXT NOT NULL,
            data BLOB NOT NULL
        );
        CREATE TABLE versions (
            id INTEGER PRIMARY KEY,
            article_id INTEGER NOT NULL REFERENCES articles(id),
            version INTEGER NOT NULL,
            captured_at TEXT NOT NULL,
            headline TEXT,
            authors TEXT NOT NULL DEFAULT '[]',
            date_published TEXT,
            date_published_raw TEXT,
            date_modified TEXT,
            date_modified_raw TEXT,
            language TEXT,
            description TEXT,
            site_name TEXT,
            canonical_url TEXT,
            tags TEXT NOT NULL DEFAULT '[]',
            image_url TEXT,
            body TEXT NOT NULL,
            content_digest TEXT NOT NULL,
            extractor TEXT NOT NULL,
            payload_digest TEXT REFERENCES payloads(digest),
            changed TEXT NOT NULL DEFAULT '[]',
            UNIQUE (article_id, version)
        );
        CREATE INDEX versions_article_digest ON versions(article_id, content_digest);
        CREATE TABLE crawls (
            id INTEGER PRIMARY KEY,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            command TEXT,
            finish_reason TEXT,
            stats TEXT
        );
        CREATE TABLE captures (
            id INTEGER PRIMARY KEY,
            article_id INTEGER REFERENCES articles(id),
            version_id INTEGER REFERENCES versions(id),
            crawl_id INTEGER REFERENCES crawls(id),
            captured_at TEXT NOT NULL,
            requested_url TEXT NOT NULL,
            final_url TEXT,
            status INTEGER,
            outcome TEXT NOT NULL,
            error TEXT,
            payload_digest TEXT,
            content_type TEXT,
            content_length INTEGER,
            etag TEXT,
            last_modified TEXT,
            discovered_via TEXT
        );
        CREATE INDEX captures_article ON captures(article_id, captured_at);
        CREATE INDEX captures_requested_url ON captures(requested_url);
        CREATE INDEX captures_final_url ON captures(final_url);
        CREATE INDEX captures_crawl ON captures(crawl_id);
        CREATE INDEX captures_outcome ON captures(outcome, captured_at);
        CREATE INDEX articles_site ON articles(site);
        CREATE INDEX articles_last_changed ON articles(last_changed_at);
        """
    )
    db["versions"].enable_fts(["headline", "body"], create_triggers=True, tokenize="porter")


#: Schema migrations, applied in order by :meth:`Archive.open`; ``PRAGMA user_version`` counts them.
MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_migration_1]


class Archive:
    """A newscrawler archive in one SQLite file (see README "Schema" for the tables).

    Open with :meth:`open`; use as a context manager or call :meth:`close`.
    """

    def __init__(self, db: sqlite_utils.Database, path: Path | None = None):
        self.db = db
        self.path = path

    @classmethod
    def open(cls, path: str | Path, *, readonly: bool = False) -> Archive:
        """Open (and create) the archive at ``path``, applying pending migrations.

        :raises FileNotFoundError: when ``readonly`` and the file does not exist.
        :raises sqlite3.DatabaseError: when the file is not a SQLite database.
        """
        path = Path(path)
        if readonly:
            if not path.exists():
                raise FileNotFoundError(f"no archive at {path}")
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
            db = sqlite_utils.Database(conn)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite_utils.Database(path)
            db.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            db.enable_wal()
            db.conn.execute("PRAGMA synchronous = NORMAL")
            db.conn.execute("PRAGMA foreign_keys = ON")
        db.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        archive = cls(db, path)
        if not readonly:
            archive._migrate()
        return archive

    def _migrate(self) -> None:
        current = self.db.execute("PRAGMA user_version").fetchone()[0]
        for number, migration in enumerate(MIGRATIONS[current:], start=current + 1):
            with self.db.atomic():
                migration(self.db)
                self.db.execute(f"PRAGMA user_version = {number}")
            logger.info("archive %s migrated to schema %d", self.path, number)

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- crawls --------------------------------------------------------------------------------

    def start_crawl(self, command: str) -> int:
        """Insert a ``crawls`` row started now; returns its id."""
        with self.db.atomic():
            cursor = self.db.execute(
                "INSERT INTO crawls (started_at, command) VALUES (?, ?)", [utcnow_iso(), command]
            )
        return cursor.lastrowid

    def finish_crawl(self, crawl_id: int, stats: dict[str, Any], finish_reason: str | None) -> None:
        """Close a ``crawls`` row: finished now, with Scrapy's stats as JSON."""
        with self.db.atomic():
            self.db.execute(
                "UPDATE crawls SET finished_at = ?, finish_reason = ?, stats = ? WHERE id = ?",
                [utcnow_iso(), finish_reason, json.dumps(stats, default=str, sort_keys=True),
                 crawl_id],
            )

    # --- reads for spiders -------------------------------------------------------------------

    def last_capture_at(self, url: str) -> str | None:
        """When ``url`` (as article key, requested or final URL) was last captured, or None."""
        try:
            key = clean_url(url)
        except ValueError:
            return None
        row = self.db.execute(
            """
            SELECT max(at) FROM (
              SELECT last_checked_at AS at FROM articles WHERE url = :key
              UNION ALL SELECT max(captured_at) FROM captures WHERE requested_url = :url
              UNION ALL SELECT max(captured_at) FROM captures WHERE final_url = :url
            )
            """,
            {"key": key, "url": url},
        ).fetchone()
        return row[0] if row else None

    def article(self, url: str) -> dict[str, Any] | None:
        """The ``articles`` row for an article URL (its key, or a URL it was fetched from)."""
        try:
            key = clean_url(url)
        except ValueError:
            return None
        row = self._one("SELECT * FROM articles WHERE url = ?", [key])
        if row is None:
            row = self._one(
                """SELECT a.* FROM captures c JOIN articles a ON a.id = c.article_id
                   WHERE c.requested_url = ? OR c.final_url = ? ORDER BY c.id DESC LIMIT 1""",
                [url, url],
            )
        return row

    def versions(self, article_id: int) -> list[dict[str, Any]]:
        """All versions of an article, oldest first, as dicts (authors and tags decoded)."""
        rows = self._all("SELECT * FROM versions WHERE article_id = ? ORDER BY version", [article_id])
        for row in rows:
            for field in ("authors", "tags", "changed"):
                row[field] = json.loads(row[field] or "[]")
        return rows

    def captures(self, article_id: int) -> list[dict[str, Any]]:
        """All captures of an article, oldest first, as dicts."""
        return self._all(
            "SELECT * FROM captures WHERE article_id = ? ORDER BY captured_at, id", [article_id]
        )

    def payload(self, digest: str) -> bytes | None:
        """The raw bytes stored under a payload digest (decompressed), or None."""
        row = self._one("SELECT compression, data FROM payloads WHERE digest = ?", [digest])
        if row is None:
            return None
        return zlib.decompress(row["data"]) if row["compression"] == "zlib" else row["data"]

    def _one(self, sql: str, params: Any) -> dict[str, Any] | None:
        rows = self._all(sql, params)
        return rows[0] if rows else None

    def _all(self, sql: str, params: Any) -> list[dict[str, Any]]:
        cursor = self.db.execute(sql, params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    # --- writes ------------------------------------------------------------------------------

    def record(self, capture: Capture, crawl_id: int | None = None) -> Recorded:
        """Archive one capture in one transaction and decide its outcome.

        With an extraction: the article is found or created under
        :func:`newscrawler.urls.article_key`; a content digest equal to the latest version's makes
        a ``revisit``, anything else a new version (``new`` for the first, ``changed`` after) whose
        raw body is stored compressed. Without one, the capture keeps ``capture.outcome`` and is
        attached to the article its URL is known under, if any.

        :raises ValueError: when ``capture.outcome`` is missing or unknown for a capture without
            extraction.
        :raises sqlite3.Error: when the write fails; nothing of the capture is then written.
        """
        with self.db.atomic():
            if capture.extracted is None:
                return self._record_without_version(capture, crawl_id)
            return self._record_extracted(capture, crawl_id)

    def _record_without_version(self, capture: Capture, crawl_id: int | None) -> Recorded:
        if capture.outcome not in OUTCOMES:
            raise ValueError(f"capture of {capture.requested_url} has no valid outcome: "
                             f"{capture.outcome!r}")
        article = self.article(capture.final_url or capture.requested_url)
        article_id = article["id"] if article else None
        version_id = article["latest_version_id"] if article and capture.outcome == "not_modified" \
            else None
        if article:
            self.db.execute("UPDATE articles SET last_checked_at = ? WHERE id = ?",
                            [capture.captured_at, article_id])
        capture_id = self._insert_capture(capture, crawl_id, article_id, version_id,
                                          capture.outcome)
        return Recorded(capture.outcome, capture_id, article_id, version_id, None,
                        article["url"] if article else None)

    def _record_extracted(self, capture: Capture, crawl_id: int | None) -> Recorded:
        ex = capture.extracted
        fetched = capture.final_url or capture.requested_url
        key = article_key(fetched, ex.get("canonical_url"))
        now = capture.captured_at
        article = self._one("SELECT * FROM articles WHERE url = ?", [key])
        if article is None:
            cursor = self.db.execute(
                """INSERT INTO articles (url, site, canonical_url, first_seen_at, last_checked_at)
                   VALUES (?, ?, ?, ?, ?)""",
                [key, registered_domain(key), ex.get("canonical_url"), now, now],
            )
            article = {"id": cursor.lastrowid, "url": key, "latest_version_id": None}
        latest = self._one("SELECT * FROM versions WHERE id = ?", [article["latest_version_id"]]) \
            if article["latest_version_id"] else None
        digest = content_digest(ex["headline"], ex["body"])
        if latest is not None and latest["content_digest"] == digest:
            self.db.execute("UPDATE articles SET last_checked_at = ? WHERE id = ?",
                            [now, article["id"]])
            capture_id = self._insert_capture(capture, crawl_id, article["id"], latest["id"],
                                              "revisit")
            return Recorded("revisit", capture_id, article["id"], latest["id"], latest["version"],
                            key)

        outcome = "changed" if latest is not None else "new"
        number = (latest["version"] + 1) if latest is not None else 1
        raw_digest = self._store_payload(capture)
        cursor = self.db.execute(
            """INSERT INTO versions (article_id, version, captured_at, headline, authors,
                 date_published, date_published_raw, date_modified, date_modified_raw, language,
                 description, site_name, canonical_url, tags, image_url, body, content_digest,
                 extractor, payload_digest, changed)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [article["id"], number, now, ex["headline"], json.dumps(ex.get("authors") or []),
             ex.get("date_published"), ex.get("date_published_raw"), ex.get("date_modified"),
             ex.get("date_modified_raw"), ex.get("language"), ex.get("description"),
             ex.get("site_name"), ex.get("canonical_url"), json.dumps(ex.get("tags") or []),
             ex.get("image_url"), ex["body"], digest, ex["extractor"], raw_digest,
             json.dumps(changed_fields(latest, ex))],
        )
        version_id = cursor.lastrowid
        self.db.execute(
            """UPDATE articles SET latest_version_id = ?, last_checked_at = ?, last_changed_at = ?,
                 canonical_url = coalesce(?, canonical_url) WHERE id = ?""",
            [version_id, now, now, ex.get("canonical_url"), article["id"]],
        )
        capture_id = self._insert_capture(capture, crawl_id, article["id"], version_id, outcome,
                                          raw_digest)
        return Recorded(outcome, capture_id, article["id"], version_id, number, key)

    def _store_payload(self, capture: Capture) -> str | None:
        if not capture.body:
            return None
        digest = payload_digest(capture.body)
        self.db.execute(
            """INSERT OR IGNORE INTO payloads (digest, content_type, size, compression, data)
               VALUES (?, ?, ?, 'zlib', ?)""",
            [digest, capture.content_type, len(capture.body), zlib.compress(capture.body, 6)],
        )
        return digest

    def _insert_capture(self, capture: Capture, crawl_id: int | None, article_id: int | None,
                        version_id: int | None, outcome: str,
                        raw_digest: str | None = None) -> int:
        if raw_digest is None and capture.body:
            raw_digest = payload_digest(capture.body)
        cursor = self.db.execute(
            """INSERT INTO captures (article_id, version_id, crawl_id, captured_at, requested_url,
                 final_url, status, outcome, error, payload_digest, content_type, content_length,
                 etag, last_modified, discovered_via)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [article_id, version_id, crawl_id, capture.captured_at, capture.requested_url,
             capture.final_url, capture.status, outcome, capture.error, raw_digest,
             capture.content_type, len(capture.body) if capture.body is not None else None,
             capture.etag, capture.last_modified, capture.discovered_via],
        )
        return cursor.lastrowid

    def iter_articles(self) -> Iterator[dict[str, Any]]:
        """Every ``articles`` row, in id order."""
        yield from self._all("SELECT * FROM articles ORDER BY id", [])
