"""The SQLite archive: reads and writes of articles, versions and captures.

What a capture is gets decided in :mod:`newscrawler.versioning`; the schema lives in
:mod:`newscrawler.migrations`, stored raw pages in :mod:`newscrawler.payloads`. Every capture is
written in one transaction begun IMMEDIATE (:func:`write_transaction`); the database runs in WAL
mode with a busy timeout so Datasette can read while a crawl writes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import secrets
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import sqlite_utils

from newscrawler import versioning
from newscrawler.changes import content_digest, digested_paragraphs, payload_digest
from newscrawler.dates import parse_date, utcnow_iso
from newscrawler.items import Capture, Outcome, Recorded
from newscrawler.migrations import MIGRATIONS
from newscrawler.payloads import Payloads
from newscrawler.policy import next_check_at
from newscrawler.urls import article_key, clean_url, registered_domain

logger = logging.getLogger(__name__)

#: Outcomes a capture row can have (:class:`newscrawler.items.Outcome`).
OUTCOMES = tuple(o.value for o in Outcome)
BUSY_TIMEOUT_MS = 30_000
#: Version columns the rules compare (:func:`newscrawler.versioning.decide`).
_COMPARED = ("id, version, headline, body, extractor, payload_digest, authors, date_published, "
             "date_modified, language, title, corrections, change_kind")
#: A run of this many digits or more in a URL's path is a stable article id (issue 18 part 5);
#: an 8-digit run that reads as a date (YYYYMMDD) is not.
ARTICLE_ID_MIN_DIGITS = 6
_ARTICLE_ID = re.compile(rf"(?<![0-9])[0-9]{{{ARTICLE_ID_MIN_DIGITS},}}(?![0-9])")


def article_ids(url: str) -> list[tuple[str, str]]:
    """The stable numeric ids in a URL's path, each with the path before it:
    ``https://x.example/a/2024050123/slug`` -> ``[("/a/", "2024050123")]``. 8-digit runs that read
    as a date (``20240501``) are left out."""
    path = urlsplit(url).path
    found = []
    for m in _ARTICLE_ID.finditer(path):
        digits = m.group(0)
        month, day = digits[4:6], digits[6:]
        if len(digits) == 8 and digits[:2] in ("19", "20") and "01" <= month <= "12" and "01" <= day <= "31":
            continue
        found.append((path[:m.start()], digits))
    return found


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


@contextlib.contextmanager
def write_transaction(db: sqlite_utils.Database | sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction that takes SQLite's write lock before its first read: ``BEGIN IMMEDIATE``.

    A deferred transaction (sqlite-utils' ``atomic()``, Python's implicit ``BEGIN``) that reads and
    then writes is refused at once with "database is locked" when another connection committed in
    between: SQLite cannot upgrade a stale read snapshot, and the busy timeout is not consulted
    (simonw/datasette#2358, case C26 of ../shared/cases). ``BEGIN IMMEDIATE`` waits instead, up
    to the connection's busy timeout, for the other writer to finish. Commits on leaving the block,
    rolls back on any exception. Inside an open transaction it nests as a savepoint (rolled back
    alone on an exception) and the outer transaction commits.

    Yields the ``sqlite3.Connection``. Every write of the archive goes through here: captures
    (:meth:`Archive.record`), the ``crawls`` row, and the migrations
    (:meth:`newscrawler.migrations.Migrations.apply`).

    :raises sqlite3.OperationalError: "database is locked" only when another writer holds the lock
        for longer than the busy timeout (``BUSY_TIMEOUT_MS``).
    """
    conn = db.conn if isinstance(db, sqlite_utils.Database) else db
    if conn.in_transaction:
        savepoint = f"write_{secrets.token_hex(8)}"
        conn.execute(f"SAVEPOINT {savepoint}")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.execute(f"ROLLBACK TO SAVEPOINT {savepoint}")
                conn.execute(f"RELEASE SAVEPOINT {savepoint}")
            raise
        conn.execute(f"RELEASE SAVEPOINT {savepoint}")
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    try:
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
class _Unclaimed(Exception):
    """A notification claimed meanwhile: the claim of its group is rolled back."""


def redact_url(url: str | None) -> str | None:
    """A URL with any credentials in it (``user:password@``) replaced by ``***@``."""
    if not url or "@" not in url:
        return url
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, f"***@{host}", parts.path, parts.query, parts.fragment))


class Archive:
    """A newscrawler archive in one SQLite file (see docs/schema.md for the tables).

    Open with :meth:`open`; use as a context manager or call :meth:`close`. ``shrink_ratio`` and
    ``boilerplate_min_articles`` tune the version rules (:mod:`newscrawler.versioning`).
    """

    def __init__(self, db: sqlite_utils.Database, path: Path | None = None):
        self.db = db
        self.path = path
        self.boilerplate_min_articles = versioning.BOILERPLATE_MIN_ARTICLES
        self.shrink_ratio = versioning.SHRINK_RATIO
        self.payloads = Payloads(db)
        self._has_exchanges: bool | None = None
        self.notify_channels: list[Any] = []
        """:class:`newscrawler.notify.Channel` list: changes are queued for them as they are recorded."""
        self.notify_sites: dict[str, str] = {}
        """Registered domain -> watched-site name, for the notification filters."""
        self.public_url: str | None = None
        """``ARCHIVE_PUBLIC_URL``: where Datasette serves this archive, for links in notifications."""

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
                    MIGRATIONS.apply(db, path)
                else:
                    MIGRATIONS.applied(db, path)  # raises when newer than this code
            except BaseException:
                archive.close()
                raise
        return archive

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
        with write_transaction(self.db):
            return self.db["crawls"].insert({"started_at": utcnow_iso(), "command": command}).last_pk

    def finish_crawl(self, crawl_id: int, stats: dict[str, Any], finish_reason: str | None) -> None:
        """Close a ``crawls`` row: finished now, with Scrapy's stats as JSON."""
        with write_transaction(self.db):
            self.db["crawls"].update(crawl_id, {
                "finished_at": utcnow_iso(), "finish_reason": finish_reason,
                "stats": json.dumps(stats, default=str, sort_keys=True)})

    def record_discovery_problem(self, crawl_id: int | None, url: str, kind: str, problem: str,
                                 entries: int) -> int:
        """Insert a ``discovery_problems`` row found now: the broken sitemap or syndication feed at
        ``url`` (``kind`` ``"sitemap"`` or ``"feed"``), the parse error in words, the number of
        entries read from it all the same. Returns the row's id."""
        with write_transaction(self.db):
            return self.db["discovery_problems"].insert({
                "crawl_id": crawl_id, "found_at": utcnow_iso(), "url": redact_url(url), "kind": kind,
                "problem": problem, "entries": entries}).last_pk

    # --- reads -------------------------------------------------------------------------------

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
        row = self._one("SELECT * FROM articles WHERE url = ?", [key]) or self._aliased(key)
        if row is None:
            row = self._one(
                """SELECT a.* FROM captures c JOIN articles a ON a.id = c.article_id
                   WHERE c.requested_url = ? OR c.final_url = ? ORDER BY c.id DESC LIMIT 1""",
                [url, url],
            )
        return row

    def current_version(self, url: str, canonical_url: str | None = None) -> dict[str, Any] | None:
        """The current version row (the compared columns) of the article a page at ``url`` with
        ``canonical_url`` belongs to (:func:`newscrawler.urls.article_key`), or None."""
        try:
            key = article_key(url, canonical_url)
        except ValueError:
            return None
        columns = ', '.join('v.' + c for c in _COMPARED.split(', '))
        return self._one(f"SELECT {columns} FROM articles a JOIN versions v ON v.id = a.latest_version_id "
                         "WHERE a.url = ? OR a.id = (SELECT article_id FROM article_aliases WHERE url = ?) LIMIT 1",
                         [key, key])

    def _aliased(self, url: str) -> dict[str, Any] | None:
        """The ``articles`` row an alias URL (``article_aliases``) belongs to, or None."""
        return self._one("SELECT a.* FROM article_aliases s JOIN articles a ON a.id = s.article_id "
                         "WHERE s.url = ?", [url])

    def aliases(self, article_id: int) -> list[dict[str, Any]]:
        """The other URLs of an article (``article_aliases`` rows: url, reason, first_seen_at), oldest first."""
        return self._all("SELECT url, reason, first_seen_at FROM article_aliases WHERE article_id = ? "
                         "ORDER BY first_seen_at, url", [article_id])

    def reextraction(self, version_id: int, extractor: str) -> dict[str, Any] | None:
        """A version's raw page as ``extractor`` extracted it, when done before:
        ``{"version_id", "extractor", "headline", "body"}`` or None."""
        return self._one("SELECT version_id, extractor, headline, body FROM reextractions "
                         "WHERE version_id = ? AND extractor = ?", [version_id, extractor])

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
            if row.get("corrections") is not None:
                row["corrections"] = json.loads(row["corrections"])
        return rows

    def captures(self, article_id: int) -> list[dict[str, Any]]:
        """All captures of an article, oldest first, as dicts."""
        return self._all(
            "SELECT * FROM captures WHERE article_id = ? ORDER BY captured_at, id", [article_id]
        )

    def failed_captures(self, crawl_id: int, discovered_via: str) -> list[dict[str, Any]]:
        """The ``failed`` captures of one crawl found one way (``cli``: URLs named by the user),
        oldest first: ``[{"requested_url", "status", "error"}, ...]``."""
        return self._all(
            "SELECT requested_url, status, error FROM captures WHERE crawl_id = ? AND outcome = ? "
            "AND discovered_via = ? ORDER BY id", [crawl_id, Outcome.FAILED.value, discovered_via])

    def payload(self, digest: str) -> bytes | None:
        """The raw bytes stored under a payload digest (decompressed), or None.

        :raises sqlite3.IntegrityError: when the payload's dictionary is missing.
        """
        return self.payloads.get(digest)

    def payload_content_type(self, digest: str) -> str | None:
        """The Content-Type a stored payload was served with, or None."""
        row = self.db.execute("SELECT content_type FROM payloads WHERE digest = ?", [digest]).fetchone()
        return row[0] if row else None

    def iter_articles(self) -> Iterator[dict[str, Any]]:
        """Every ``articles`` row, in id order."""
        yield from self._all("SELECT * FROM articles ORDER BY id", [])

    def _one(self, sql: str, params: Any) -> dict[str, Any] | None:
        rows = self._all(sql, params)
        return rows[0] if rows else None

    def _all(self, sql: str, params: Any) -> list[dict[str, Any]]:
        cursor = self.db.execute(sql, params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def due_notifications(self, now: str, channel_digests: list[str]) -> list[dict[str, Any]]:
        """``notifications`` rows of the given channels due by ``now`` (pending, or failed with a retry
        time come), oldest first."""
        if not channel_digests:
            return []
        marks = ",".join("?" * len(channel_digests))
        return self._all(
            f"""SELECT * FROM notifications WHERE status IN ('pending', 'failed') AND next_attempt_at IS NOT NULL
                AND next_attempt_at <= ? AND channel_digest IN ({marks}) ORDER BY id""", [now, *channel_digests])

    def site_health_history(self, site: str, before_crawl: int, limit: int) -> list[dict[str, Any]]:
        """The site's ``site_health`` rows of crawls before ``before_crawl``, newest first, at most ``limit``."""
        return self._all("SELECT * FROM site_health WHERE site = ? AND crawl_id < ? ORDER BY crawl_id DESC LIMIT ?",
                         [site, before_crawl, limit])

    def crawl_captures(self, crawl_id: int) -> list[dict[str, Any]]:
        """What the site health check reads of a crawl's captures: ``site`` (the article's, else None),
        ``url``, ``outcome``, ``error``, and of the version shown (None without one) ``body_chars``,
        ``has_headline``, ``has_date``, ``has_authors``."""
        return self._all(
            """SELECT a.site, coalesce(c.final_url, c.requested_url) AS url, c.outcome, c.error,
                      length(v.body) AS body_chars, v.headline IS NOT NULL AND v.headline != '' AS has_headline,
                      v.date_published IS NOT NULL AS has_date, v.authors NOT IN ('[]', '') AS has_authors
               FROM captures c LEFT JOIN articles a ON a.id = c.article_id LEFT JOIN versions v ON v.id = c.version_id
               WHERE c.crawl_id = ? ORDER BY c.id""", [crawl_id])

    # --- writes ------------------------------------------------------------------------------

    def _queue_change(self, recorded: Recorded, crawl_id: int | None) -> None:
        """Queue the notifications of a changed or reverted capture (:mod:`newscrawler.notify` decides)."""
        from newscrawler import notify

        previous = self.db.execute(
            "SELECT version_id FROM captures WHERE article_id = ? AND id < ? AND version_id IS NOT NULL "
            "ORDER BY id DESC LIMIT 1", [recorded.article_id, recorded.capture_id]).fetchone()
        if previous is None or previous[0] == recorded.version_id:
            return
        old = self._one("SELECT * FROM versions WHERE id = ?", [previous[0]])
        new = self._one("SELECT * FROM versions WHERE id = ?", [recorded.version_id])
        site = registered_domain(recorded.article_url)
        event = notify.change_event(recorded.outcome, old, new, url=recorded.article_url, site=site,
                                    site_name=self.notify_sites.get(site), crawl_id=crawl_id,
                                    capture_id=recorded.capture_id)
        message = notify.change_message(event, notify.diff_link(self.public_url, notify.database_name(self.path),
                                                                event))
        rows = notify.queue_rows(self.notify_channels, "change", f"capture:{recorded.capture_id}", message,
                                 utcnow_iso(), site=site, passes=lambda filters: filters.passes(event),
                                 crawl_id=crawl_id, capture_id=recorded.capture_id, article_id=event.article_id,
                                 version_id=event.version_id, change_kind=event.kind)
        if rows:
            self.db["notifications"].insert_all(rows, ignore=True)

    def queue_notifications(self, rows: list[dict[str, Any]]) -> int:
        """Insert ``notifications`` rows (:func:`newscrawler.notify.queue_rows`) in one transaction; a row
        already queued for the same channel and event is kept as it is. Returns the rows inserted."""
        with self.db.atomic():
            before = self.db.execute("SELECT count(*) FROM notifications").fetchone()[0]
            self.db["notifications"].insert_all(rows, ignore=True)
            return self.db.execute("SELECT count(*) FROM notifications").fetchone()[0] - before

    def claim_notifications(self, ids: list[int], now: str) -> bool:
        """Mark rows ``sending`` (one more attempt) before they are sent, committed at once; False when
        any of them is no longer pending or failed (then none is claimed)."""
        marks = ",".join("?" * len(ids))
        try:
            with self.db.atomic():
                cursor = self.db.execute(
                    f"UPDATE notifications SET status = 'sending', attempts = attempts + 1, sending_at = ? "
                    f"WHERE id IN ({marks}) AND status IN ('pending', 'failed')", [now, *ids])
                if cursor.rowcount != len(ids):
                    raise _Unclaimed  # rolls the claim back
        except _Unclaimed:
            return False
        return True

    def settle_notifications(self, ids: list[int], status: str, now: str, error: str | None = None,
                             next_attempt_at: str | None = None) -> None:
        """After a send: ``sent`` (``sent_at`` now), or ``failed`` with the error and the retry time
        (None: given up)."""
        with self.db.atomic():
            marks = ",".join("?" * len(ids))
            self.db.execute(
                f"UPDATE notifications SET status = ?, error = ?, next_attempt_at = ?, "
                f"sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END WHERE id IN ({marks})",
                [status, error, next_attempt_at, status, now, *ids])

    def requeue_interrupted_notifications(self) -> int:
        """Rows left ``sending`` by a process that died mid-send go back to ``pending`` (call under the
        crawl lock: no other process is sending); returns how many."""
        with self.db.atomic():
            return self.db.execute(
                "UPDATE notifications SET status = 'pending', next_attempt_at = coalesce(sending_at, created_at), "
                "error = 'interrupted while sending: may have been delivered' WHERE status = 'sending'").rowcount

    def insert_site_health(self, row: dict[str, Any]) -> None:
        """Write a crawl's ``site_health`` row for one site (replacing one written before for them)."""
        with self.db.atomic():
            self.db["site_health"].insert(row, replace=True)

    def record(self, capture: Capture, crawl_id: int | None = None) -> Recorded:
        """Archive one capture in one write transaction (:func:`write_transaction`: the write lock is
        taken before the archive is read, so no other writer can make the decision stale), its
        outcome decided by :mod:`newscrawler.versioning`.

        With an extraction the article is found or created under
        :func:`newscrawler.urls.article_key`, the site's paragraphs are counted (boilerplate
        learning, from first captures only) and :func:`newscrawler.versioning.decide` compares the content with the
        article's versions, the site's boilerplate masked. Without one,
        :func:`newscrawler.versioning.decide_unextracted` settles it. Every capture of an archived
        article sets its ``next_check_at`` (:func:`newscrawler.policy.next_check_at`).

        :raises ValueError: when ``capture.outcome`` is missing or unknown for a capture without
            extraction.
        :raises sqlite3.Error: when the write fails; nothing of the capture is then written.
        """
        with write_transaction(self.db):
            if capture.extracted is None:
                return self._record_unextracted(capture, crawl_id)
            recorded = self._record_extracted(capture, crawl_id)
            if self.notify_channels and recorded.outcome in (Outcome.CHANGED, Outcome.REVERTED):
                self._queue_change(recorded, crawl_id)  # in the capture's transaction: both or neither
            return recorded

    def _record_unextracted(self, capture: Capture, crawl_id: int | None) -> Recorded:
        try:
            outcome = Outcome(capture.outcome)
        except ValueError:
            raise ValueError(f"capture of {capture.requested_url} has no valid outcome: {capture.outcome!r}") from None
        article = self.article(capture.url)
        latest = None
        if article is not None and article["latest_version_id"] is not None:
            latest = self._one("SELECT id, version FROM versions WHERE id = ?", [article["latest_version_id"]])
        decision = versioning.decide_unextracted(outcome, capture.status, capture.error, capture.note, latest,
                                                 archived=article is not None)
        raw_digest = None
        if article is not None:
            if decision.version is not None:
                self.db.execute("UPDATE articles SET gone_at = NULL WHERE id = ?", [article["id"]])
            if decision.keep_payload:
                raw_digest = self.payloads.store(capture.body, capture.content_type, article["site"])
            self._checked(article, capture.captured_at, gone=decision.gone)
        version_id = decision.version["id"] if decision.version else None
        capture_id = self._insert_capture(capture, crawl_id, article["id"] if article else None, version_id,
                                          decision.outcome, raw_digest, decision.note)
        return Recorded(decision.outcome, capture_id, article["id"] if article else None, version_id,
                        decision.version["version"] if decision.version else None,
                        article["url"] if article else None, decision.note)

    def _record_extracted(self, capture: Capture, crawl_id: int | None) -> Recorded:
        ex, now = capture.extracted, capture.captured_at
        key = article_key(capture.url, ex.get("canonical_url"))
        site = registered_domain(key)
        article = self._one("SELECT * FROM articles WHERE url = ?", [key]) or self._aliased(key)
        if article is None:
            article = self._same_story(capture, key, site, now)
        if article is None:
            article_id = self.db["articles"].insert({
                "url": key, "site": site, "canonical_url": ex.get("canonical_url"), "first_seen_at": now,
                "last_checked_at": now}).last_pk
            article = {"id": article_id, "url": key, "site": site, "latest_version_id": None,
                       "last_changed_at": None}
        if article["latest_version_id"] is None:  # a first capture: what the site's template carries
            self._learn_paragraphs(site, article["id"], ex["body"])
        versions = self._all(f"SELECT {_COMPARED} FROM versions WHERE article_id = ? ORDER BY version",
                             [article["id"]])
        latest = next((v for v in versions if v["id"] == article["latest_version_id"]), None)
        boilerplate = (self._boilerplate(site, [ex["body"], *(v["body"] for v in versions)])
                       if latest is not None else frozenset())
        if capture.reextracted is not None:
            self._keep_reextraction(capture.reextracted)
        decision = versioning.decide(ex, versions, latest, boilerplate, capture.reextracted, self.shrink_ratio)
        note = "; ".join(n for n in (decision.note, capture.note) if n) or None
        raw_digest, version_id, number = None, None, None
        if decision.number is not None:  # new, changed, reverted
            raw_digest = self.payloads.store(capture.body, capture.content_type, site, dictionary_candidate=True)
            version_id, number = self._insert_version(article["id"], decision, ex, now, raw_digest), decision.number
            self.db.execute(
                """UPDATE articles SET latest_version_id = ?, last_changed_at = ?, gone_at = NULL,
                     canonical_url = coalesce(?, canonical_url) WHERE id = ?""",
                [version_id, now, ex.get("canonical_url"), article["id"]])
            article = {**article, "latest_version_id": version_id, "last_changed_at": now}
        elif decision.version is not None:  # revisit
            version_id, number = decision.version["id"], decision.version["version"]
            self.db.execute("UPDATE articles SET gone_at = NULL WHERE id = ? AND gone_at IS NOT NULL",
                            [article["id"]])
        elif decision.keep_payload:  # not comparable
            raw_digest = self.payloads.store(capture.body, capture.content_type, site)
        self._checked(article, now)
        capture_id = self._insert_capture(capture, crawl_id, article["id"], version_id, decision.outcome,
                                          raw_digest, note)
        return Recorded(decision.outcome, capture_id, article["id"], version_id, number, article["url"], note)

    def _same_story(self, capture: Capture, key: str, site: str, now: str) -> dict[str, Any] | None:
        """The archived article of the same site that a page at a new ``key`` continues, with ``key``
        recorded as its alias (``article_aliases``), or None.

        In order: the requested URL, or the fetched one, is an archived article of the same site
        (a tracked URL that now redirects within the site: ``redirect``; a page that now declares
        another same-site canonical: ``canonical``); else exactly one archived article of the site
        carries the same stable numeric id at the same place in its path (:func:`article_ids`):
        ``numeric_id``.
        """
        for url, reason in ((capture.requested_url, "redirect"), (capture.final_url, "canonical")):
            try:
                cleaned = clean_url(url) if url else None
            except ValueError:
                cleaned = None
            if not cleaned or cleaned == key or registered_domain(cleaned) != site:
                continue
            article = self._one("SELECT * FROM articles WHERE url = ?", [cleaned]) or self._aliased(cleaned)
            if article is not None:
                if reason == "redirect" and clean_url(capture.final_url or url) == cleaned:
                    reason = "canonical"  # no redirect: the page itself moved its canonical
                return self._alias(article, key, reason, now)
        for prefix, digits in article_ids(key):
            candidates = self._all(
                "SELECT * FROM articles WHERE site = ? AND url LIKE ? UNION "
                "SELECT a.* FROM article_aliases s JOIN articles a ON a.id = s.article_id "
                "WHERE s.url LIKE ? AND a.site = ?", [site, f"%{digits}%", f"%{digits}%", site])
            same = {c["id"]: c for c in candidates
                    if (prefix, digits) in article_ids(c["url"])
                    or any((prefix, digits) in article_ids(a["url"]) for a in self.aliases(c["id"]))}
            if len(same) == 1:
                return self._alias(next(iter(same.values())), key, "numeric_id", now)
        return None

    def _alias(self, article: dict[str, Any], url: str, reason: str, now: str) -> dict[str, Any]:
        """Record ``url`` as another URL of ``article`` (why: ``reason``); returns the article."""
        self.db["article_aliases"].insert({"url": url, "article_id": article["id"], "reason": reason,
                                           "first_seen_at": now}, ignore=True)
        logger.debug("%s is article %s (%s): alias %s", url, article["id"], article["url"], reason)
        return article

    def _insert_version(self, article_id: int, decision: versioning.Decision, ex: dict[str, Any], now: str,
                        raw_digest: str | None) -> int:
        return self.db["versions"].insert({
            "article_id": article_id, "version": decision.number, "captured_at": now,
            "headline": ex["headline"], "authors": json.dumps(ex.get("authors") or []),
            "date_published": ex.get("date_published"), "date_published_raw": ex.get("date_published_raw"),
            "date_modified": ex.get("date_modified"), "date_modified_raw": ex.get("date_modified_raw"),
            "language": ex.get("language"), "description": ex.get("description"),
            "site_name": ex.get("site_name"), "canonical_url": ex.get("canonical_url"),
            "tags": json.dumps(ex.get("tags") or []), "image_url": ex.get("image_url"), "body": ex["body"],
            "content_digest": content_digest(ex["headline"], ex["body"]), "extractor": ex["extractor"],
            "payload_digest": raw_digest, "changed": json.dumps(decision.changed),
            "change_kind": decision.change_kind, "reverts_to": decision.reverts_to, "title": ex.get("title"),
            "corrections": json.dumps(ex.get("corrections") or [])}).last_pk

    def _keep_reextraction(self, reextracted: dict[str, Any]) -> None:
        """Cache a version's re-extraction (``reextractions``), so the next capture need not redo it."""
        if self.db.execute("SELECT 1 FROM versions WHERE id = ?", [reextracted["version_id"]]).fetchone():
            self.db["reextractions"].insert(
                {k: reextracted[k] for k in ("version_id", "extractor", "headline", "body")}, ignore=True)

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
        """Count, per site, in how many articles' first captures each paragraph appears: what the
        site's template carries (paragraphs added to an article later are never counted)."""
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
        """Digests of the paragraphs of ``bodies`` that enough first captures of ``site``'s articles carry."""
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

    def _insert_capture(self, capture: Capture, crawl_id: int | None, article_id: int | None,
                        version_id: int | None, outcome: Outcome, raw_digest: str | None = None,
                        note: str | None = None) -> int:
        if raw_digest is None and capture.body:
            raw_digest = payload_digest(capture.body)
        capture_id = self._insert_capture_row(capture, crawl_id, article_id, version_id, outcome, raw_digest, note)
        if capture.exchange is not None:
            self._insert_exchange(capture_id, capture.exchange)
        return capture_id

    def _insert_exchange(self, capture_id: int, exchange: dict[str, Any]) -> None:
        """The ``capture_exchanges`` row of a capture (:attr:`newscrawler.items.Capture.exchange`)."""
        request_headers = exchange.get("request_headers")
        self.db["capture_exchanges"].insert({
            "capture_id": capture_id, "protocol": exchange.get("protocol"),
            "response_headers": json.dumps(exchange.get("response_headers") or []),
            "request_method": exchange.get("request_method"),
            "request_headers": json.dumps(request_headers) if request_headers is not None else None,
            "peer_ip": exchange.get("peer_ip"), "payload_decoded": bool(exchange.get("payload_decoded")),
            "payload_encoding": exchange.get("payload_encoding")})

    def exchange(self, capture_id: int) -> dict[str, Any] | None:
        """A capture's ``capture_exchanges`` row, headers decoded to ``[[name, value], ...]``; None for
        a capture made before schema 10 (or one that received nothing)."""
        if self._has_exchanges is None:  # a read-only open of an older archive lacks the table
            self._has_exchanges = self.db["capture_exchanges"].exists()
        if not self._has_exchanges:
            return None
        row = self._one("SELECT * FROM capture_exchanges WHERE capture_id = ?", [capture_id])
        if row is not None:
            row["response_headers"] = json.loads(row["response_headers"] or "[]")
            row["request_headers"] = json.loads(row["request_headers"]) if row["request_headers"] else None
            row["payload_decoded"] = bool(row["payload_decoded"])
        return row

    def _insert_capture_row(self, capture: Capture, crawl_id: int | None, article_id: int | None,
                            version_id: int | None, outcome: Outcome, raw_digest: str | None,
                            note: str | None) -> int:
        return self.db["captures"].insert({
            "article_id": article_id, "version_id": version_id, "crawl_id": crawl_id,
            "captured_at": capture.captured_at, "requested_url": redact_url(capture.requested_url),
            "final_url": redact_url(capture.final_url), "status": capture.status, "outcome": str(outcome),
            "error": capture.error, "payload_digest": raw_digest, "content_type": capture.content_type,
            "content_length": len(capture.body) if capture.body is not None else None, "etag": capture.etag,
            "last_modified": capture.last_modified, "discovered_via": capture.discovered_via, "note": note}).last_pk
