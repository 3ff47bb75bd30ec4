"""The SQLite archive: reads and writes of articles, versions and captures.

What a capture is gets decided in :mod:`newscrawler.versioning`; the schema lives in
:mod:`newscrawler.migrations`, stored raw pages in :mod:`newscrawler.payloads`. Every capture is
written in one transaction; the database runs in WAL mode with a busy timeout so Datasette can read
while a crawl writes.
"""

from __future__ import annotations

import json
import logging
import re
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
        with self.db.atomic():
            return self.db["crawls"].insert({"started_at": utcnow_iso(), "command": command}).last_pk

    def finish_crawl(self, crawl_id: int, stats: dict[str, Any], finish_reason: str | None) -> None:
        """Close a ``crawls`` row: finished now, with Scrapy's stats as JSON."""
        with self.db.atomic():
            self.db["crawls"].update(crawl_id, {
                "finished_at": utcnow_iso(), "finish_reason": finish_reason,
                "stats": json.dumps(stats, default=str, sort_keys=True)})

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

    # --- writes ------------------------------------------------------------------------------

    def record(self, capture: Capture, crawl_id: int | None = None) -> Recorded:
        """Archive one capture in one transaction, its outcome decided by :mod:`newscrawler.versioning`.

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
        with self.db.atomic():
            if capture.extracted is None:
                return self._record_unextracted(capture, crawl_id)
            return self._record_extracted(capture, crawl_id)

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
        return self.db["captures"].insert({
            "article_id": article_id, "version_id": version_id, "crawl_id": crawl_id,
            "captured_at": capture.captured_at, "requested_url": redact_url(capture.requested_url),
            "final_url": redact_url(capture.final_url), "status": capture.status, "outcome": str(outcome),
            "error": capture.error, "payload_digest": raw_digest, "content_type": capture.content_type,
            "content_length": len(capture.body) if capture.body is not None else None, "etag": capture.etag,
            "last_modified": capture.last_modified, "discovered_via": capture.discovered_via, "note": note}).last_pk
