"""The SQLite archive: schema migrations, article/version/capture writes and the reads spiders need.

This is the only module that writes SQL. Every capture is written in one transaction; the database
runs in WAL mode with a busy timeout so Datasette can read while a crawl writes.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import sqlite_utils

from newscrawler.changes import (
    changed_fields,
    comparable_digest,
    content_digest,
    digested_paragraphs,
    payload_digest,
)
from newscrawler.compression import DICTIONARY_MAX_BYTES, PayloadCodec
from newscrawler.dates import parse_date, utcnow_iso
from newscrawler.policy import next_check_at
from newscrawler.urls import article_key, clean_url, registered_domain

logger = logging.getLogger(__name__)

#: Outcomes a capture row can have (README "Schema" says what each means).
OUTCOMES = ("new", "changed", "revisit", "reverted", "not_modified", "not_article", "not_comparable",
            "gone", "failed")
BUSY_TIMEOUT_MS = 30_000
#: Statuses that say an archived article no longer exists (its versions are kept).
GONE_STATUSES = (404, 410)
#: Statuses of paywalls, consent walls and legal blocks: no comparison with the archived version.
WALL_STATUSES = (401, 402, 403, 451)

#: Re-extracts stored raw HTML with the current extractor: (raw bytes, URL, the Content-Type it was
#: served with or None) -> extracted dict or None.
Reextract = Callable[[bytes, str, "str | None"], "dict[str, Any] | None"]


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
    note: str | None = None  # how the outcome was decided, when it is not obvious


@dataclasses.dataclass
class Recorded:
    """What :meth:`Archive.record` wrote: the capture's outcome and row ids (None where absent)."""

    outcome: str
    capture_id: int
    article_id: int | None
    version_id: int | None
    version: int | None
    article_url: str | None
    note: str | None = None


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


def _migration_2(db: sqlite_utils.Database) -> None:
    """Re-check schedule, gone articles, capture notes, per-site boilerplate, change views."""
    db.executescript(
        """
        ALTER TABLE articles ADD COLUMN next_check_at TEXT;
        ALTER TABLE articles ADD COLUMN gone_at TEXT;
        CREATE INDEX articles_next_check ON articles(next_check_at) WHERE next_check_at IS NOT NULL;
        ALTER TABLE captures ADD COLUMN note TEXT;
        -- Which articles of a site show a paragraph: one that recurs across many articles is boilerplate.
        CREATE TABLE site_paragraphs (
            site TEXT NOT NULL,
            digest TEXT NOT NULL,
            article_id INTEGER NOT NULL,
            PRIMARY KEY (site, digest, article_id)
        ) WITHOUT ROWID;
        CREATE TABLE site_paragraph_counts (
            site TEXT NOT NULL,
            digest TEXT NOT NULL,
            articles INTEGER NOT NULL,
            PRIMARY KEY (site, digest)
        ) WITHOUT ROWID;
        -- A version's raw HTML extracted again by a newer extractor (extraction drift is no edit).
        CREATE TABLE reextractions (
            version_id INTEGER NOT NULL REFERENCES versions(id),
            extractor TEXT NOT NULL,
            headline TEXT,
            body TEXT NOT NULL,
            PRIMARY KEY (version_id, extractor)
        );
        CREATE VIEW headline_changes AS
            SELECT a.url, v.article_id, v.version, v.captured_at,
                   p.headline AS old_headline, v.headline AS new_headline
            FROM versions v
            JOIN versions p ON p.article_id = v.article_id AND p.version = v.version - 1
            JOIN articles a ON a.id = v.article_id
            WHERE p.headline IS NOT v.headline;
        CREATE VIEW flip_flops AS
            SELECT a.url, a.id AS article_id, count(*) AS reverts,
                   max(c.captured_at) AS last_reverted_at,
                   (SELECT count(*) FROM versions v WHERE v.article_id = a.id) AS versions
            FROM captures c JOIN articles a ON a.id = c.article_id
            WHERE c.outcome = 'reverted'
            GROUP BY a.id;
        """
    )


def _migration_3(db: sqlite_utils.Database) -> None:
    """Capture lookups that cost the same whatever an article's history (benchmarks/scale.py):
    last_fetch by (article, version, status); last_capture_at by URL and time."""
    db.executescript(
        """
        CREATE INDEX captures_article_version ON captures(article_id, version_id, status);
        CREATE INDEX captures_requested_url_at ON captures(requested_url, captured_at);
        CREATE INDEX captures_final_url_at ON captures(final_url, captured_at);
        DROP INDEX captures_requested_url;
        DROP INDEX captures_final_url;
        """
    )


def _migration_4(db: sqlite_utils.Database) -> None:
    """zstd payloads against a per-site dictionary (newscrawler.compression); zlib ones stay readable."""
    db.executescript(
        """
        ALTER TABLE payloads ADD COLUMN dictionary TEXT REFERENCES payloads(digest);
        -- The stored page each site's payloads are compressed against (itself stored without one).
        CREATE TABLE site_dictionaries (
            site TEXT PRIMARY KEY,
            payload_digest TEXT NOT NULL REFERENCES payloads(digest),
            created_at TEXT NOT NULL
        );
        """
    )


def _migration_5(db: sqlite_utils.Database) -> None:
    """Covering indexes for :meth:`Archive.last_capture_at` (asked for every sitemap entry): a URL's
    newest capture that did not fail is read from the index alone, without a visit to the captures
    table (benchmarks/scale.py)."""
    db.executescript(
        """
        CREATE INDEX captures_requested_url_outcome ON captures(requested_url, captured_at, outcome);
        CREATE INDEX captures_final_url_outcome ON captures(final_url, captured_at, outcome);
        DROP INDEX captures_requested_url_at;
        DROP INDEX captures_final_url_at;
        """
    )


def _migration_6(db: sqlite_utils.Database) -> None:
    """``site_paragraphs`` keyed by article first: a capture's new rows are appended at the end of
    the B-tree (article ids only grow) instead of some 25 random places, and the one lookup
    (:meth:`Archive._learn_paragraphs`: this article's known paragraphs) reads one range.
    Measured on 2,000 corpus captures: 82 -> 61 pages written to the WAL a capture.
    The key's columns come first: SQLite 3.40's ``integrity_check`` reports a NOT NULL column
    declared before them in a WITHOUT ROWID table as NULL in every row. The rename is done in
    SQLite's legacy mode, which leaves alone a view of the user's that names the table (the
    default mode refuses the rename while such a view names a table that is gone)."""
    db.executescript(
        """
        CREATE TABLE site_paragraphs_by_article (
            article_id INTEGER NOT NULL,
            site TEXT NOT NULL,
            digest TEXT NOT NULL,
            PRIMARY KEY (article_id, site, digest)
        ) WITHOUT ROWID;
        INSERT INTO site_paragraphs_by_article (article_id, site, digest)
            SELECT article_id, site, digest FROM site_paragraphs ORDER BY article_id, site, digest;
        DROP TABLE site_paragraphs;
        PRAGMA legacy_alter_table = ON;
        ALTER TABLE site_paragraphs_by_article RENAME TO site_paragraphs;
        PRAGMA legacy_alter_table = OFF;
        """
    )


#: Schema migrations, applied in order by :meth:`Archive.open`; ``PRAGMA user_version`` counts them.
MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_migration_1, _migration_2, _migration_3,
                                                             _migration_4, _migration_5, _migration_6]
#: A paragraph seen in at least this many articles of one site is that site's boilerplate.
BOILERPLATE_MIN_ARTICLES = 3
#: A known article whose new body is shorter than this share of its current version is not compared.
SHRINK_RATIO = 0.5


def _enable_wal(db: sqlite_utils.Database) -> None:
    """Switch a new archive to WAL, waiting up to the busy timeout for other processes switching it
    at the same moment: SQLite answers that race "database is locked" at once, without waiting.

    :raises sqlite3.OperationalError: when the switch still fails after the busy timeout.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            db.enable_wal()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def redact_url(url: str | None) -> str | None:
    """A URL with any credentials in it (``user:password@``) replaced by ``***@``."""
    if not url or "@" not in url:
        return url
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, f"***@{host}", parts.path, parts.query, parts.fragment))


def _masked_share(body: str, masked: frozenset[str]) -> float:
    """Share of a body's characters in paragraphs whose digest is in ``masked``."""
    parts = digested_paragraphs(body)
    total = sum(len(p) for p, _ in parts) or 1
    return sum(len(p) for p, digest in parts if digest in masked) / total


class Archive:
    """A newscrawler archive in one SQLite file (see README "Schema" for the tables).

    Open with :meth:`open`; use as a context manager or call :meth:`close`.
    """

    def __init__(self, db: sqlite_utils.Database, path: Path | None = None):
        self.db = db
        self.path = path
        self.boilerplate_min_articles = BOILERPLATE_MIN_ARTICLES
        self.shrink_ratio = SHRINK_RATIO
        self._codec = PayloadCodec()
        self._dictionaries: bool | None = None

    @classmethod
    def open(cls, path: str | Path, *, readonly: bool = False, migrate: bool = True) -> Archive:
        """Open (and create) the archive at ``path``, applying pending migrations.

        With ``migrate`` False a writable archive is opened (created empty when missing) without
        them: for a check made before the crawl lock is held, since a migration takes the write
        lock for as long as it runs, and a crawl still running with the old schema waits meanwhile.

        :raises FileNotFoundError: when ``readonly`` and the file does not exist.
        :raises sqlite3.DatabaseError: when the file is not a SQLite database.
        :raises RuntimeError: when writable and the archive's schema is newer than this code knows.
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
            _enable_wal(db)
            db.conn.execute("PRAGMA synchronous = NORMAL")
            db.conn.execute("PRAGMA foreign_keys = ON")
        db.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        archive = cls(db, path)
        if not readonly:
            try:
                if migrate:
                    archive._migrate()
                else:
                    archive._schema_version()  # raises when newer than this code
            except BaseException:
                archive.close()
                raise
        return archive

    def _migrate(self) -> None:
        """Apply the missing :data:`MIGRATIONS`, each in its own transaction.

        Each step takes the write lock first (``BEGIN IMMEDIATE``, waiting up to the busy timeout)
        and reads the schema number under it, so processes that open a new or older archive at
        the same moment (a cron crawl and a ``scrapy crawl``) apply every migration once.

        :raises RuntimeError: when the archive's schema is newer than this code's.
        """
        while (current := self._schema_version()) < len(MIGRATIONS):
            conn = self.db.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                current = self._schema_version()
                if current < len(MIGRATIONS):
                    MIGRATIONS[current](self.db)
                    conn.execute(f"PRAGMA user_version = {current + 1}")
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            if current < len(MIGRATIONS):
                logger.info("archive %s migrated to schema %d", self.path, current + 1)

    def _schema_version(self) -> int:
        """The archive's schema number (``PRAGMA user_version``).

        :raises RuntimeError: when it is newer than this code's.
        """
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise RuntimeError(f"archive {self.path} has schema {version}, newer than this newscrawler knows "
                               f"({len(MIGRATIONS)}): upgrade newscrawler before writing to it")
        return version

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
        """When ``url`` (as article key, requested or final URL) was last captured, or None.

        A ``failed`` capture does not count: a URL whose fetches all failed is fetched again.
        """
        try:
            key = clean_url(url)
        except ValueError:
            return None
        row = self.db.execute(
            """
            SELECT max(at) FROM (
              SELECT last_checked_at AS at FROM articles WHERE url = :key
              UNION ALL SELECT max(captured_at) FROM captures
                WHERE requested_url = :url AND outcome != 'failed'
              UNION ALL SELECT max(captured_at) FROM captures
                WHERE final_url = :url AND outcome != 'failed'
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

    def last_fetch(self, url: str) -> dict[str, Any] | None:
        """What a re-fetch of an archived article needs: its last successful capture, or None.

        Returns ``{"article_id", "payload_digest", "etag", "last_modified"}`` from the newest
        capture with status 200 whose content is the article's current version (so identical bytes
        mean an unchanged article).
        """
        article = self.article(url)
        if article is None or article["latest_version_id"] is None:
            return None
        return self._one(
            """SELECT article_id, payload_digest, etag, last_modified FROM captures
               WHERE article_id = ? AND version_id = ? AND status = 200 ORDER BY id DESC LIMIT 1""",
            [article["id"], article["latest_version_id"]],
        )

    def due_articles(self, now: str, limit: int) -> list[dict[str, Any]]:
        """Articles whose ``next_check_at`` has come (ISO 8601 UTC ``now``), most overdue first.

        Gone articles have no ``next_check_at``. Returns at most ``limit`` ``articles`` rows.
        """
        return self._all(
            "SELECT * FROM articles WHERE next_check_at IS NOT NULL AND next_check_at <= ? "
            "ORDER BY next_check_at, id LIMIT ?", [now, limit])

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
        row = self._payload_row(digest)
        return self._unpacked(row) if row is not None else None

    def _payload_row(self, digest: str) -> dict[str, Any] | None:
        if self._dictionaries is None:  # the column came with schema 4; read-only opens do not migrate
            self._dictionaries = any(row[1] == "dictionary" for row in self.db.execute("PRAGMA table_info(payloads)"))
        dictionary = "dictionary" if self._dictionaries else "NULL AS dictionary"
        return self._one(f"SELECT content_type, compression, {dictionary}, data FROM payloads WHERE digest = ?",
                         [digest])

    def _unpacked(self, row: dict[str, Any]) -> bytes:
        """The raw bytes of a :meth:`_payload_row`."""
        return self._codec.decompress(row["data"], row["compression"], row["dictionary"], self._dictionary)

    def _dictionary(self, digest: str) -> bytes:
        """The raw bytes of a dictionary payload, itself always stored without one (one hop at most)."""
        row = self._payload_row(digest)
        if row is None or row["dictionary"] is not None:
            raise sqlite3.IntegrityError(f"payload dictionary {digest} is missing or needs a dictionary itself")
        return self._codec.decompress(row["data"], row["compression"], None, self._dictionary)

    def _one(self, sql: str, params: Any) -> dict[str, Any] | None:
        rows = self._all(sql, params)
        return rows[0] if rows else None

    def _all(self, sql: str, params: Any) -> list[dict[str, Any]]:
        cursor = self.db.execute(sql, params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    # --- writes ------------------------------------------------------------------------------

    def record(self, capture: Capture, crawl_id: int | None = None,
               reextract: Reextract | None = None) -> Recorded:
        """Archive one capture in one transaction and decide its outcome.

        With an extraction: the article is found or created under
        :func:`newscrawler.urls.article_key` and the content compared with its versions, with the
        site's learned boilerplate paragraphs masked on both sides:

        - same as the current version: ``revisit``; same as an older one: ``reverted`` (the
          capture points to that version, which becomes current again);
        - different only because the extractor changed: ``revisit``, with a note (the current
          version's raw HTML is re-extracted with ``reextract`` to tell);
        - a body shrunk below ``shrink_ratio`` of the current version's (a paywall teaser, a
          soft 404, an error page): ``not_comparable``, no version;
        - otherwise a new version (``new`` for the first, ``changed`` after), its raw body stored.

        Without one, the capture keeps ``capture.outcome``, except for an archived article: a 404
        or 410 marks it ``gone`` (versions kept), a 401/402/403/451 or a page with no article is
        ``not_comparable``. Every capture of an archived article sets its ``next_check_at``.

        :raises ValueError: when ``capture.outcome`` is missing or unknown for a capture without
            extraction.
        :raises sqlite3.Error: when the write fails; nothing of the capture is then written.
        """
        with self.db.atomic():
            if capture.extracted is None:
                return self._record_without_version(capture, crawl_id)
            return self._record_extracted(capture, crawl_id, reextract)

    def _record_without_version(self, capture: Capture, crawl_id: int | None) -> Recorded:
        if capture.outcome not in OUTCOMES:
            raise ValueError(f"capture of {capture.requested_url} has no valid outcome: {capture.outcome!r}")
        article = self.article(capture.final_url or capture.requested_url)
        outcome, note, version_id, raw_digest = capture.outcome, capture.note, None, None
        if article is not None:
            if outcome == "failed" and capture.status in GONE_STATUSES:
                outcome, note = "gone", f"HTTP {capture.status}: the article is gone; its versions are kept"
            elif outcome == "failed" and capture.status in WALL_STATUSES:
                outcome = "not_comparable"
                note = f"HTTP {capture.status}: a paywall, consent wall or block, not the article"
            elif outcome == "not_article":
                outcome = "not_comparable"
                note = (f"an archived article showed no article ({capture.error}): a paywall, consent "
                        "wall, soft 404 or error page")
            if outcome in ("not_modified", "revisit"):
                version_id = article["latest_version_id"]
                self.db.execute("UPDATE articles SET gone_at = NULL WHERE id = ?", [article["id"]])
            if outcome == "not_comparable":
                raw_digest = self._store_payload(capture, article["site"])  # kept for review
            self._checked(article, capture.captured_at, gone=outcome == "gone")
        capture_id = self._insert_capture(capture, crawl_id, article["id"] if article else None, version_id,
                                          outcome, raw_digest, note)
        return Recorded(outcome, capture_id, article["id"] if article else None, version_id, None,
                        article["url"] if article else None, note)

    def _record_extracted(self, capture: Capture, crawl_id: int | None,
                          reextract: Reextract | None) -> Recorded:
        ex = capture.extracted
        fetched = capture.final_url or capture.requested_url
        key = article_key(fetched, ex.get("canonical_url"))
        site = registered_domain(key)
        now = capture.captured_at
        article = self._one("SELECT * FROM articles WHERE url = ?", [key])
        if article is None:
            cursor = self.db.execute(
                """INSERT INTO articles (url, site, canonical_url, first_seen_at, last_checked_at)
                   VALUES (?, ?, ?, ?, ?)""",
                [key, site, ex.get("canonical_url"), now, now],
            )
            article = {"id": cursor.lastrowid, "url": key, "latest_version_id": None, "last_changed_at": None}
        self._learn_paragraphs(site, article["id"], ex["body"])
        versions = self._all(
            "SELECT id, version, headline, body, extractor, payload_digest, authors, date_published, "
            "date_modified, language FROM versions WHERE article_id = ? ORDER BY version", [article["id"]])
        latest = next((v for v in versions if v["id"] == article["latest_version_id"]), None)
        if latest is None:
            return self._new_version(capture, crawl_id, article, None, 1, "new", key)

        masked = self._boilerplate(site, [ex["body"], *(v["body"] for v in versions)])
        if masked and max(_masked_share(ex["body"], masked), _masked_share(latest["body"], masked)) > 0.5:
            masked = frozenset()  # most of the story recurs elsewhere: a copy of another article, not boilerplate
        digest = comparable_digest(ex["headline"], ex["body"], masked)
        if comparable_digest(latest["headline"], latest["body"], masked) == digest:
            return self._revisit(capture, crawl_id, article, latest, "revisit", None, key)
        if latest["extractor"] != ex["extractor"] and reextract is not None:
            again = self._reextracted(latest, ex["extractor"], article["url"], reextract)
            if again is not None and comparable_digest(again["headline"], again["body"], masked) == digest:
                note = (f"extraction drift: version {latest['version']} ({latest['extractor']}) re-extracted "
                        f"with {ex['extractor']} gives this text; not an edit")
                return self._revisit(capture, crawl_id, article, latest, "revisit", note, key)
        for older in versions:
            if older is not latest and comparable_digest(older["headline"], older["body"], masked) == digest:
                note = f"back to version {older['version']} from version {latest['version']}"
                return self._revisit(capture, crawl_id, article, older, "reverted", note, key)
        if len(ex["body"]) < self.shrink_ratio * len(latest["body"]):
            note = (f"body shrank to {len(ex['body'])} of {len(latest['body'])} characters: a paywall "
                    "teaser, soft 404 or error page? not compared")
            raw_digest = self._store_payload(capture, site)
            self._checked(article, now)
            capture_id = self._insert_capture(capture, crawl_id, article["id"], None, "not_comparable",
                                              raw_digest, note)
            return Recorded("not_comparable", capture_id, article["id"], None, None, key, note)
        number = max(v["version"] for v in versions) + 1
        return self._new_version(capture, crawl_id, article, latest, number, "changed", key)

    def _new_version(self, capture: Capture, crawl_id: int | None, article: dict[str, Any],
                     latest: dict[str, Any] | None, number: int, outcome: str, key: str) -> Recorded:
        ex, now = capture.extracted, capture.captured_at
        raw_digest = self._store_payload(capture, registered_domain(key), dictionary_candidate=True)
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
             ex.get("image_url"), ex["body"], content_digest(ex["headline"], ex["body"]), ex["extractor"],
             raw_digest, json.dumps(changed_fields(latest, ex))],
        )
        version_id = cursor.lastrowid
        self.db.execute(
            """UPDATE articles SET latest_version_id = ?, last_changed_at = ?, gone_at = NULL,
                 canonical_url = coalesce(?, canonical_url) WHERE id = ?""",
            [version_id, now, ex.get("canonical_url"), article["id"]],
        )
        article = {**article, "latest_version_id": version_id, "last_changed_at": now}
        self._checked(article, now)
        capture_id = self._insert_capture(capture, crawl_id, article["id"], version_id, outcome, raw_digest,
                                          capture.note)
        return Recorded(outcome, capture_id, article["id"], version_id, number, key, capture.note)

    def _revisit(self, capture: Capture, crawl_id: int | None, article: dict[str, Any],
                 version: dict[str, Any], outcome: str, note: str | None, key: str) -> Recorded:
        now = capture.captured_at
        if outcome == "reverted":
            self.db.execute("UPDATE articles SET latest_version_id = ?, last_changed_at = ? WHERE id = ?",
                            [version["id"], now, article["id"]])
            article = {**article, "latest_version_id": version["id"], "last_changed_at": now}
        self.db.execute("UPDATE articles SET gone_at = NULL WHERE id = ? AND gone_at IS NOT NULL", [article["id"]])
        self._checked(article, now)
        note = note or capture.note
        capture_id = self._insert_capture(capture, crawl_id, article["id"], version["id"], outcome, None, note)
        return Recorded(outcome, capture_id, article["id"], version["id"], version["version"], key, note)

    def _checked(self, article: dict[str, Any], now: str, gone: bool = False) -> None:
        """Set last_checked_at and the next re-check (policy.next_check_at; never for a gone article)."""
        due = None
        changed_at = parse_date(article.get("last_changed_at") or now)
        checked_at = parse_date(now)
        if not gone and changed_at is not None and checked_at is not None:
            changes = self.db.execute("SELECT count(*) FROM versions WHERE article_id = ?",
                                      [article["id"]]).fetchone()[0] - 1
            when = next_check_at(checked_at, changed_at, changes)
            due = when.isoformat(timespec="seconds").replace("+00:00", "Z") if when else None
        self.db.execute(
            "UPDATE articles SET last_checked_at = ?, next_check_at = ?, gone_at = CASE WHEN ? THEN "
            "coalesce(gone_at, ?) ELSE gone_at END WHERE id = ?",
            [now, due, gone, now, article["id"]],
        )

    def _learn_paragraphs(self, site: str, article_id: int, body: str) -> None:
        """Count, per site, in how many articles each paragraph appears."""
        digests = list({digest for _, digest in digested_paragraphs(body)})
        known = self._digests_among("SELECT digest FROM site_paragraphs WHERE article_id = ? AND site = ?",
                                    [article_id, site], digests)
        rows = [(site, digest) for digest in digests if digest not in known]
        self.db.conn.executemany(
            f"INSERT INTO site_paragraphs (site, digest, article_id) VALUES (?, ?, {int(article_id)})", rows)
        self.db.conn.executemany(
            """INSERT INTO site_paragraph_counts (site, digest, articles) VALUES (?, ?, 1)
               ON CONFLICT (site, digest) DO UPDATE SET articles = articles + 1""", rows)

    def _boilerplate(self, site: str, bodies: list[str]) -> frozenset[str]:
        """Digests of the paragraphs of ``bodies`` that recur in enough articles of ``site``."""
        digests = list({digest for body in bodies for _, digest in digested_paragraphs(body)})
        return frozenset(self._digests_among(
            "SELECT digest FROM site_paragraph_counts WHERE site = ? AND articles >= ?",
            [site, self.boilerplate_min_articles], digests))

    def _digests_among(self, sql: str, params: list[Any], digests: list[str]) -> set[str]:
        """The ``digest`` values ``sql`` (a SELECT of digests, its WHERE open) finds among ``digests``,
        asked 500 at a time (SQLite's bound-parameter limit)."""
        found: set[str] = set()
        for start in range(0, len(digests), 500):
            chunk = digests[start:start + 500]
            found.update(row[0] for row in self.db.execute(
                f"{sql} AND digest IN ({','.join('?' * len(chunk))})", [*params, *chunk]))
        return found

    def _reextracted(self, version: dict[str, Any], extractor: str, url: str,
                     reextract: Reextract) -> dict[str, Any] | None:
        """A version's raw HTML extracted with ``extractor`` (cached in ``reextractions``), or None."""
        cached = self._one("SELECT headline, body FROM reextractions WHERE version_id = ? AND extractor = ?",
                           [version["id"], extractor])
        if cached is not None:
            return cached
        row = self._payload_row(version["payload_digest"]) if version["payload_digest"] else None
        raw = self._unpacked(row) if row is not None else None
        result = reextract(raw, url, row["content_type"]) if raw else None
        if result is None:
            return None
        self.db.execute("INSERT INTO reextractions (version_id, extractor, headline, body) VALUES (?, ?, ?, ?)",
                        [version["id"], extractor, result["headline"], result["body"]])
        return {"headline": result["headline"], "body": result["body"]}

    def _store_payload(self, capture: Capture, site: str, dictionary_candidate: bool = False) -> str | None:
        """Store the capture's raw body once per digest, zstd against ``site``'s dictionary.

        A site without a dictionary gets one from the first ``dictionary_candidate`` body stored
        (an article page of up to DICTIONARY_MAX_BYTES, not a wall or error page kept for review),
        itself stored without a dictionary. Returns the digest, None for no body.
        """
        if not capture.body:
            return None
        digest = payload_digest(capture.body)
        if self.db.execute("SELECT 1 FROM payloads WHERE digest = ?", [digest]).fetchone():
            return digest
        row = self.db.execute("SELECT payload_digest FROM site_dictionaries WHERE site = ?", [site]).fetchone()
        dictionary = row[0] if row else None
        self.db.execute(
            """INSERT INTO payloads (digest, content_type, size, compression, dictionary, data)
               VALUES (?, ?, ?, 'zstd', ?, ?)""",
            [digest, capture.content_type, len(capture.body), dictionary,
             self._codec.compress(capture.body, dictionary, self._dictionary)],
        )
        if dictionary is None and dictionary_candidate and len(capture.body) <= DICTIONARY_MAX_BYTES:
            self.db.execute("INSERT OR IGNORE INTO site_dictionaries (site, payload_digest, created_at) "
                            "VALUES (?, ?, ?)", [site, digest, utcnow_iso()])
        return digest

    def _insert_capture(self, capture: Capture, crawl_id: int | None, article_id: int | None,
                        version_id: int | None, outcome: str, raw_digest: str | None = None,
                        note: str | None = None) -> int:
        if raw_digest is None and capture.body:
            raw_digest = payload_digest(capture.body)
        cursor = self.db.execute(
            """INSERT INTO captures (article_id, version_id, crawl_id, captured_at, requested_url,
                 final_url, status, outcome, error, payload_digest, content_type, content_length,
                 etag, last_modified, discovered_via, note)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [article_id, version_id, crawl_id, capture.captured_at, redact_url(capture.requested_url),
             redact_url(capture.final_url), capture.status, outcome, capture.error, raw_digest,
             capture.content_type, len(capture.body) if capture.body is not None else None,
             capture.etag, capture.last_modified, capture.discovered_via, note],
        )
        return cursor.lastrowid

    def iter_articles(self) -> Iterator[dict[str, Any]]:
        """Every ``articles`` row, in id order."""
        yield from self._all("SELECT * FROM articles ORDER BY id", [])
