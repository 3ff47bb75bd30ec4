"""Raw HTML payloads: zstd against the site's dictionary page, old zlib rows readable (real SQLite)."""

import sqlite3
import zlib

import pytest
import sqlite_utils
import zstandard
from click.testing import CliRunner

from newscrawler.cli import cli
from newscrawler.items import Capture
from newscrawler.migrations import MIGRATIONS
from newscrawler.payloads import DICTIONARY_MAX_BYTES
from newscrawler.store import Archive
from tests.site import FIXTURES

ARTICLE = (FIXTURES / "www.northfieldcourier.example.council-approves-electric-bus-depot.html").read_bytes()
SECTION = (FIXTURES / "www.northfieldcourier.example.section-local.html").read_bytes()
OTHER_SITE = (FIXTURES / "www.coastlinetimes.example.harbour-dredging-delayed.html").read_bytes()


def _capture(url: str, body: bytes, headline: str) -> Capture:
    extracted = {"headline": headline, "body": f"{headline}: the story itself, told at length.",
                 "extractor": "test", "authors": [], "tags": []}
    return Capture(requested_url=url, final_url=url, captured_at="2026-11-29T10:00:00Z", status=200,
                   body=body, content_type="text/html", extracted=extracted)


def _payload_rows(path) -> dict[str, tuple]:
    conn = sqlite3.connect(path)
    rows = {digest: (compression, dictionary, size, stored) for digest, compression, dictionary, size, stored
            in conn.execute("SELECT digest, compression, dictionary, size, length(data) FROM payloads")}
    conn.close()
    return rows


def test_a_sites_first_page_is_the_dictionary_of_its_later_pages(tmp_path):
    path = tmp_path / "news.db"
    with Archive.open(path) as archive:
        first = archive.record(_capture("https://www.northfieldcourier.example/bus-depot", ARTICLE, "Bus depot"))
        second = archive.record(_capture("https://www.northfieldcourier.example/local", SECTION, "Local"))
        other = archive.record(_capture("https://www.coastlinetimes.example/harbour", OTHER_SITE, "Harbour"))
        digests = [archive.versions(r.article_id)[0]["payload_digest"] for r in (first, second, other)]
        assert archive.db.execute("SELECT site, payload_digest FROM site_dictionaries ORDER BY site").fetchall() == [
            ("www.coastlinetimes.example", digests[2]), ("www.northfieldcourier.example", digests[0])]
    rows = _payload_rows(path)
    assert rows[digests[0]][:3] == ("zstd", None, len(ARTICLE))
    assert rows[digests[1]][:3] == ("zstd", digests[0], len(SECTION))
    assert rows[digests[2]][:3] == ("zstd", None, len(OTHER_SITE))  # another site: its own dictionary
    # the shared template is stored once: the section page costs well under half of what it costs alone
    alone = len(zstandard.ZstdCompressor(level=3).compress(SECTION))
    assert rows[digests[1]][3] < 0.5 * alone
    with Archive.open(path, readonly=True) as fresh:  # no prepared dictionaries: loaded from the archive
        assert [fresh.payload(d) for d in digests] == [ARTICLE, SECTION, OTHER_SITE]


def test_an_edited_page_is_stored_against_the_dictionary(tmp_path):
    path = tmp_path / "news.db"
    edited = ARTICLE.replace(b"</p>", b" A correction was appended.</p>", 1)
    assert edited != ARTICLE
    with Archive.open(path) as archive:
        archive.record(_capture("https://www.northfieldcourier.example/bus-depot", ARTICLE, "Bus depot"))
        second = archive.record(_capture("https://www.northfieldcourier.example/bus-depot", edited, "Bus depot!"))
        assert second.outcome == "changed"
        digest = archive.versions(second.article_id)[1]["payload_digest"]
        assert archive.payload(digest) == edited
    compression, dictionary, size, stored = _payload_rows(path)[digest]
    assert dictionary is not None and stored < 0.02 * size  # an edit costs a few hundred bytes


def test_a_page_too_large_to_be_a_dictionary_is_stored_alone(tmp_path):
    path = tmp_path / "news.db"
    huge = ARTICLE + b"<!--" + b"x" * DICTIONARY_MAX_BYTES + b"-->"
    with Archive.open(path) as archive:
        big = archive.record(_capture("https://www.northfieldcourier.example/huge", huge, "Huge"))
        small = archive.record(_capture("https://www.northfieldcourier.example/bus-depot", ARTICLE, "Bus depot"))
        later = archive.record(_capture("https://www.northfieldcourier.example/local", SECTION, "Local"))
        digests = [archive.versions(r.article_id)[0]["payload_digest"] for r in (big, small, later)]
        assert [archive.payload(d) for d in digests] == [huge, ARTICLE, SECTION]
    rows = _payload_rows(path)
    assert [rows[d][1] for d in digests] == [None, None, digests[1]]


def test_a_rolled_back_capture_leaves_no_dictionary_behind(tmp_path, monkeypatch):
    """A dictionary chosen in a transaction that fails must not be used by later payloads."""
    path = tmp_path / "news.db"
    with Archive.open(path) as archive:
        original = archive._insert_capture

        def broken(*args, **kwargs):
            raise sqlite3.OperationalError("disk I/O error")

        monkeypatch.setattr(archive, "_insert_capture", broken)
        with pytest.raises(sqlite3.OperationalError):
            archive.record(_capture("https://www.northfieldcourier.example/bus-depot", ARTICLE, "Bus depot"))
        monkeypatch.setattr(archive, "_insert_capture", original)
        recorded = archive.record(_capture("https://www.northfieldcourier.example/local", SECTION, "Local"))
        digest = archive.versions(recorded.article_id)[0]["payload_digest"]
        assert archive.db.execute("SELECT payload_digest FROM site_dictionaries").fetchall() == [(digest,)]
        assert archive.payload(digest) == SECTION


def _schema_3_archive(path) -> None:
    db = sqlite_utils.Database(path)
    for migration in MIGRATIONS[:3]:
        migration(db)
    db.execute("PRAGMA user_version = 3")
    db.execute("INSERT INTO payloads (digest, content_type, size, compression, data) VALUES (?, ?, ?, ?, ?)",
               ["sha256:old", "text/html", len(ARTICLE), "zlib", zlib.compress(ARTICLE, 6)])
    db.conn.commit()
    db.close()


def test_zlib_payloads_of_an_older_archive_stay_readable(tmp_path):
    path = tmp_path / "news.db"
    _schema_3_archive(path)  # before zstd
    with Archive.open(path) as archive:
        assert archive.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert archive.payload("sha256:old") == ARTICLE
        recorded = archive.record(_capture("https://www.northfieldcourier.example/local", SECTION, "Local"))
        assert archive.payload(archive.versions(recorded.article_id)[0]["payload_digest"]) == SECTION


def test_a_dictionary_that_needs_a_dictionary_is_refused_not_followed(tmp_path):
    """Dictionaries are one hop: a tampered row pointing a dictionary at itself raises, never loops."""
    path = tmp_path / "news.db"
    with Archive.open(path) as archive:
        first = archive.record(_capture("https://www.northfieldcourier.example/bus-depot", ARTICLE, "Bus depot"))
        second = archive.record(_capture("https://www.northfieldcourier.example/local", SECTION, "Local"))
        dictionary, later = (archive.versions(r.article_id)[0]["payload_digest"] for r in (first, second))
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE payloads SET dictionary = digest WHERE digest = ?", [dictionary])
    conn.close()
    with Archive.open(path, readonly=True) as archive, pytest.raises(sqlite3.IntegrityError, match="dictionary"):
        archive.payload(later)


def test_a_read_only_open_of_an_older_archive_reads_its_payloads(tmp_path):
    """newscrawler serve opens read-only, which never migrates: schema 3 has no dictionary column."""
    path = tmp_path / "news.db"
    _schema_3_archive(path)
    with Archive.open(path, readonly=True) as archive:
        assert archive.db.execute("PRAGMA user_version").fetchone()[0] == 3
        assert archive.payload("sha256:old") == ARTICLE


def test_an_archive_newer_than_the_code_is_not_written(tmp_path):
    path = tmp_path / "news.db"
    Archive.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(RuntimeError, match="upgrade newscrawler"):
        Archive.open(path)
    result = CliRunner().invoke(cli, ["crawl", "http://127.0.0.1:9/a.html", "--db", str(path)])
    assert result.exit_code != 0 and "newer than this newscrawler" in result.output


def test_a_wall_page_kept_for_review_never_becomes_the_sites_dictionary(tmp_path):
    path = tmp_path / "news.db"
    huge = ARTICLE + b"<!--" + b"x" * DICTIONARY_MAX_BYTES + b"-->"  # too big to be a dictionary
    url = "https://www.northfieldcourier.example/huge"
    with Archive.open(path) as archive:
        archive.record(_capture(url, huge, "Huge"))
        wall = Capture(requested_url=url, final_url=url, captured_at="2026-11-30T10:00:00Z", status=403,
                       body=b"<html><body>Subscribe to read</body></html>", content_type="text/html",
                       outcome="failed", error="HTTP 403")
        assert archive.record(wall).outcome == "not_comparable"
        assert archive.db.execute("SELECT count(*) FROM site_dictionaries").fetchone()[0] == 0
        later = archive.record(_capture("https://www.northfieldcourier.example/local", SECTION, "Local"))
        digest = archive.versions(later.article_id)[0]["payload_digest"]
        assert archive.db.execute("SELECT payload_digest FROM site_dictionaries").fetchall() == [(digest,)]
