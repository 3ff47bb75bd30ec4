"""The archive's schema: a named, ordered set of migrations (in the shape of sqlite-utils'
``sqlite_utils.migrations.Migrations``), applied by :meth:`newscrawler.store.Archive.open`.

``PRAGMA user_version`` counts the migrations applied, as it has since schema 1, so every archive
written by an earlier newscrawler opens as it is. Unlike sqlite-utils' ``Migrations.apply``, each
step takes the write lock before it reads which migrations are pending (``BEGIN IMMEDIATE``): two
processes that open an older archive at the same moment (a cron crawl and a ``scrapy crawl``) apply
every migration exactly once. A new migration is a function appended at the end with
``@MIGRATIONS()``; an applied one is never edited.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import overload

import sqlite_utils

logger = logging.getLogger(__name__)

Migration = Callable[[sqlite_utils.Database], None]


class Migrations:
    """An ordered set of named schema migrations; a sequence of the migration functions.

    :param name: the set's name, used in log lines.
    """

    def __init__(self, name: str):
        self.name = name
        self._functions: list[Migration] = []

    def __call__(self, *, name: str | None = None) -> Callable[[Migration], Migration]:
        """Decorator that appends a migration function to the set (named by ``name`` or its own name).

        :raises ValueError: when the name is taken.
        """
        def register(function: Migration) -> Migration:
            function.migration_name = name or function.__name__  # type: ignore[attr-defined]
            if function.migration_name in self.names():  # type: ignore[attr-defined]
                raise ValueError(f"migration {function.migration_name!r} is already in set {self.name!r}")
            self._functions.append(function)
            return function
        return register

    def names(self) -> list[str]:
        """The migrations' names, in order."""
        return [getattr(f, "migration_name", f.__name__) for f in self._functions]

    def __len__(self) -> int:
        return len(self._functions)

    def __iter__(self) -> Iterator[Migration]:
        return iter(self._functions)

    @overload
    def __getitem__(self, index: int) -> Migration: ...
    @overload
    def __getitem__(self, index: slice) -> list[Migration]: ...
    def __getitem__(self, index):
        return self._functions[index]

    def applied(self, db: sqlite_utils.Database, label: object = "") -> int:
        """How many migrations the archive has (``PRAGMA user_version``); ``label`` names it in errors.

        :raises RuntimeError: when it has more than this set knows (a newer newscrawler wrote it).
        """
        count = db.execute("PRAGMA user_version").fetchone()[0]
        if count > len(self):
            raise RuntimeError(f"archive {label} has schema {count}, newer than this newscrawler knows "
                               f"({len(self)}): upgrade newscrawler before writing to it")
        return count

    def pending(self, db: sqlite_utils.Database) -> list[str]:
        """Names of the migrations the archive lacks (read-only).

        :raises RuntimeError: as :meth:`applied`.
        """
        return self.names()[self.applied(db):]

    def apply(self, db: sqlite_utils.Database, label: object = "") -> None:
        """Apply the pending migrations, each in its own transaction with the schema number.

        Each step takes the write lock first (``BEGIN IMMEDIATE``, in
        :func:`newscrawler.store.write_transaction`; waiting up to the connection's
        busy timeout) and reads the schema number under it. ``label`` names the archive in log lines.

        :raises RuntimeError: as :meth:`applied`.
        :raises sqlite3.Error: when a migration fails; its step is rolled back.
        """
        from newscrawler.store import write_transaction  # store imports this module

        while self.applied(db, label) < len(self):
            with write_transaction(db) as conn:
                current = self.applied(db, label)
                if current < len(self):
                    self._functions[current](db)
                    conn.execute(f"PRAGMA user_version = {current + 1}")
            if current < len(self):
                logger.info("archive %s migrated to schema %d (%s)", label, current + 1, self.names()[current])


#: newscrawler's schema migrations, in order.
MIGRATIONS = Migrations("newscrawler")


@MIGRATIONS()
def m001_initial(db: sqlite_utils.Database) -> None:
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


@MIGRATIONS()
def m002_rechecks_boilerplate(db: sqlite_utils.Database) -> None:
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


@MIGRATIONS()
def m003_capture_lookups(db: sqlite_utils.Database) -> None:
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


@MIGRATIONS()
def m004_zstd_dictionaries(db: sqlite_utils.Database) -> None:
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


@MIGRATIONS()
def m005_covering_indexes(db: sqlite_utils.Database) -> None:
    """Covering indexes for :meth:`newscrawler.store.Archive.last_capture_at` (asked for every sitemap entry): a URL's
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


@MIGRATIONS()
def m006_site_paragraphs_by_article(db: sqlite_utils.Database) -> None:
    """``site_paragraphs`` keyed by article first: a capture's new rows are appended at the end of
    the B-tree (article ids only grow) instead of some 25 random places, and the one lookup
    (the boilerplate learning in :mod:`newscrawler.store`: this article's known paragraphs) reads
    one range, and fewer pages are written to the WAL a capture (benchmarks/scale.py).
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


@MIGRATIONS()
def m030_discovery_problems(db: sqlite_utils.Database) -> None:
    """``discovery_problems``: each sitemap or syndication feed that was broken (not well-formed,
    not a sitemap or feed at all, a gzip that does not unpack), what was wrong and how many entries
    were still read from it, so an operator sees in Datasette which sites publish broken
    discovery documents (case C14 of ../shared/cases)."""
    db.executescript(
        """
        CREATE TABLE discovery_problems (
            id INTEGER PRIMARY KEY,
            crawl_id INTEGER REFERENCES crawls(id),
            found_at TEXT NOT NULL,
            url TEXT NOT NULL,
            kind TEXT NOT NULL,
            problem TEXT NOT NULL,
            entries INTEGER NOT NULL
        );
        CREATE INDEX discovery_problems_by_url ON discovery_problems (url, found_at);
        """
    )


@MIGRATIONS()
def m010_capture_exchanges(db: sqlite_utils.Database) -> None:
    """What a WARC record of a capture needs beyond the ``captures`` row, kept from now on
    (:class:`newscrawler.middlewares.ExchangeMiddleware`): the protocol, the response headers as
    received and the request as sent (JSON ``[[name, value], ...]``), the peer IP, and whether the
    stored payload is the decoded body. Captures made before have no row here: a WARC export
    writes them as ``resource`` records (docs/warc.md)."""
    db.executescript(
        """
        CREATE TABLE capture_exchanges (
            capture_id INTEGER PRIMARY KEY REFERENCES captures(id),
            protocol TEXT,
            response_headers TEXT NOT NULL DEFAULT '[]',
            request_method TEXT,
            request_headers TEXT,
            peer_ip TEXT,
            payload_decoded INTEGER NOT NULL DEFAULT 0,
            payload_encoding TEXT
        );
        """
    )


@MIGRATIONS()
def m020_notifications(db: sqlite_utils.Database) -> None:
    """Notifications queued in the transaction of the capture that caused them (newscrawler.notify):
    one row per event and channel, sent after the commit, retried with backoff until sent or given up."""
    db.executescript(
        """
        CREATE TABLE notifications (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,              -- change | health
            event TEXT NOT NULL,             -- what it tells of: capture:<id> or health:<crawl id>:<site>
            channel_digest TEXT NOT NULL,    -- sha256:<hex> of the Apprise URL (the URL itself is never stored)
            channel TEXT NOT NULL,           -- the Apprise URL with its secrets masked
            digest INTEGER NOT NULL DEFAULT 0,  -- 1: sent in the channel's one message per crawl
            crawl_id INTEGER REFERENCES crawls(id),
            capture_id INTEGER REFERENCES captures(id),
            article_id INTEGER REFERENCES articles(id),
            version_id INTEGER REFERENCES versions(id),
            site TEXT,
            change_kind TEXT,
            title TEXT NOT NULL,
            body_text TEXT NOT NULL,
            body_html TEXT,
            status TEXT NOT NULL DEFAULT 'pending',  -- pending | sending | sent | failed
            attempts INTEGER NOT NULL DEFAULT 0,
            error TEXT,
            created_at TEXT NOT NULL,
            next_attempt_at TEXT,            -- NULL once sent or given up
            sending_at TEXT,
            sent_at TEXT,
            UNIQUE (channel_digest, event)
        );
        CREATE INDEX notifications_due ON notifications(status, next_attempt_at);
        CREATE INDEX notifications_article ON notifications(article_id);
        """
    )


@MIGRATIONS()
def m021_site_health(db: sqlite_utils.Database) -> None:
    """Per crawl and site: what the captures looked like, against the site's baseline from its recent
    crawls (newscrawler.health); ``status`` 'alert' when this crawl departed from it."""
    db.executescript(
        """
        CREATE TABLE site_health (
            id INTEGER PRIMARY KEY,
            crawl_id INTEGER NOT NULL REFERENCES crawls(id),
            site TEXT NOT NULL,
            checked_at TEXT NOT NULL,
            captures INTEGER NOT NULL,
            entries INTEGER,                 -- sitemap and feed entries read (NULL: none read)
            extracted INTEGER NOT NULL,      -- captures that show a version
            body_chars INTEGER,              -- median body length of those, in characters
            not_article REAL,                -- shares (0..1) of the captures
            failed REAL,
            not_comparable REAL,
            headline REAL,                   -- field coverage (0..1) of the extracted captures
            date REAL,
            authors REAL,
            baseline_crawls INTEGER NOT NULL DEFAULT 0,
            baseline TEXT,                   -- JSON: the baseline's values
            status TEXT NOT NULL,            -- ok | alert | ongoing (still departing) | learning
            reasons TEXT,                    -- JSON list of departures, in words
            UNIQUE (crawl_id, site)
        );
        CREATE INDEX site_health_site ON site_health(site, crawl_id);
        CREATE VIEW site_health_alerts AS
            SELECT h.site, h.crawl_id, h.checked_at, h.status, h.reasons, h.captures, h.entries,
                   h.body_chars, h.not_article, h.failed, h.not_comparable, h.headline, h.date, h.authors,
                   h.baseline
            FROM site_health h WHERE h.status IN ('alert', 'ongoing') ORDER BY h.id DESC;
        """
    )


@MIGRATIONS()
def m060_shard_merges(db: sqlite_utils.Database) -> None:
    """Merging shard archives (:mod:`newscrawler.merge`): each archive gets a random identity, and a
    merged archive remembers which row of which shard became which of its own rows, so merging a
    shard again (after it crawled more, or after a crash) adds only what is new."""
    db.executescript(
        """
        -- One row: this archive's identity as a shard (a random UUID, made once).
        CREATE TABLE archive_identity (
            uuid TEXT PRIMARY KEY,
            created_at TEXT NOT NULL
        );
        INSERT INTO archive_identity (uuid, created_at) VALUES (
            lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-'
                  || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-'
                  || hex(randomblob(6))),
            strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));
        -- Rows merged in from shards: the shard's row id in table tbl became target_id here.
        CREATE TABLE merged_rows (
            shard TEXT NOT NULL,
            tbl TEXT NOT NULL,
            source_id INTEGER NOT NULL,
            target_id INTEGER NOT NULL,
            PRIMARY KEY (shard, tbl, source_id)
        ) WITHOUT ROWID;
        """
    )


@MIGRATIONS()
def m050_change_kinds_aliases(db: sqlite_utils.Database) -> None:
    """Issue 18: each version's ``change_kind`` (correction, update, headline, stealth, metadata,
    revert; empty for versions archived before), ``reverts_to`` for a revert, the page ``title`` and
    schema.org ``corrections`` kept beside the headline readers see; ``article_aliases``: the other
    URLs one story was found at (a same-site redirect, a changed canonical, a stable numeric id);
    the ``stealth_edits`` view."""
    db.executescript(
        """
        ALTER TABLE versions ADD COLUMN change_kind TEXT;
        ALTER TABLE versions ADD COLUMN reverts_to INTEGER;
        ALTER TABLE versions ADD COLUMN title TEXT;
        ALTER TABLE versions ADD COLUMN corrections TEXT;
        CREATE TABLE article_aliases (
            url TEXT PRIMARY KEY,
            article_id INTEGER NOT NULL REFERENCES articles(id),
            reason TEXT NOT NULL,
            first_seen_at TEXT NOT NULL
        );
        CREATE INDEX article_aliases_article ON article_aliases(article_id);
        CREATE VIEW stealth_edits AS
            SELECT a.url, v.article_id, v.id AS version_id, v.version, v.captured_at, v.headline, v.changed
            FROM versions v JOIN articles a ON a.id = v.article_id
            WHERE v.change_kind = 'stealth';
        """
    )
