"""Archive: versions, revisits, captures without versions, canonical keys, migrations (real SQLite)."""

import json
import sqlite3

import pytest

from newscrawler.store import Archive, Capture


def _extracted(headline="Harbour dredging delayed", body=None, canonical=None, **extra):
    body = body or ("The harbour board said on Wednesday that dredging will not start before "
                    "autumn.\n\nFishing crews say the delay has cost them a season.")
    return {"headline": headline, "body": body, "authors": ["Hannah Pryce"],
            "date_published": "2026-03-04", "date_published_raw": "2026-03-04",
            "date_modified": None, "date_modified_raw": None, "language": "en",
            "description": None, "site_name": "Coastline Times", "canonical_url": canonical,
            "tags": ["port"], "image_url": None, "extractor": "trafilatura 2.3.1", **extra}


def _capture(url="https://www.example.com/news/harbour?utm_source=rss", at="2026-11-29T10:00:00Z",
             body=b"<html>v1</html>", **kwargs):
    kwargs.setdefault("extracted", _extracted())
    return Capture(requested_url=url, final_url=url, captured_at=at, status=200, body=body,
                   content_type="text/html", **kwargs)


@pytest.fixture
def archive(tmp_path):
    with Archive.open(tmp_path / "news.db") as archive:
        yield archive


def test_first_capture_makes_version_one(archive):
    recorded = archive.record(_capture())
    assert (recorded.outcome, recorded.version) == ("new", 1)
    assert recorded.article_url == "https://www.example.com/news/harbour"
    [version] = archive.versions(recorded.article_id)
    assert version["authors"] == ["Hannah Pryce"]
    assert version["content_digest"].startswith("sha256:")
    assert archive.payload(version["payload_digest"]) == b"<html>v1</html>"


def test_same_content_is_a_revisit(archive):
    first = archive.record(_capture())
    again = archive.record(_capture(at="2026-11-29T11:00:00Z", body=b"<html>v1 other markup</html>",
                                    extracted=_extracted(headline=" Harbour  dredging delayed")))
    assert again.outcome == "revisit"
    assert again.version_id == first.version_id
    assert len(archive.versions(first.article_id)) == 1
    assert [c["outcome"] for c in archive.captures(first.article_id)] == ["new", "revisit"]
    article = archive.article("https://www.example.com/news/harbour")
    assert article["last_checked_at"] == "2026-11-29T11:00:00Z"
    assert article["last_changed_at"] == "2026-11-29T10:00:00Z"


def test_an_edit_adds_exactly_one_version(archive):
    first = archive.record(_capture())
    edited = _extracted(body="The harbour board said on Thursday that dredging will not start "
                             "before autumn.\n\nFishing crews say the delay has cost them a season.")
    second = archive.record(_capture(at="2026-11-29T12:00:00Z", body=b"<html>v2</html>",
                                     extracted=edited))
    third = archive.record(_capture(at="2026-11-29T13:00:00Z", body=b"<html>v2</html>",
                                    extracted=edited))
    assert (second.outcome, second.version, third.outcome) == ("changed", 2, "revisit")
    versions = archive.versions(first.article_id)
    assert [v["version"] for v in versions] == [1, 2]
    assert versions[1]["changed"] == ["body"]


def test_capture_without_article_keeps_outcome_and_reason(archive):
    recorded = archive.record(Capture(requested_url="https://www.example.com/report.pdf",
                                      captured_at="2026-11-29T10:00:00Z", status=200,
                                      body=b"%PDF-1.4", outcome="not_article",
                                      error="not HTML: the body is a PDF"))
    assert (recorded.outcome, recorded.article_id, recorded.version_id) == ("not_article", None, None)
    row = archive.db.execute("SELECT outcome, error, content_length FROM captures").fetchone()
    assert row == ("not_article", "not HTML: the body is a PDF", 8)
    assert archive.db.execute("SELECT count(*) FROM versions").fetchone()[0] == 0


def test_failed_fetch_of_a_known_article_is_attached_to_it(archive):
    first = archive.record(_capture())
    failed = archive.record(Capture(requested_url="https://www.example.com/news/harbour?utm_source=rss",
                                    captured_at="2026-11-29T14:00:00Z", outcome="failed",
                                    error="TimeoutError: took longer than 30 seconds"))
    assert failed.article_id == first.article_id
    assert len(archive.versions(first.article_id)) == 1


def test_capture_needs_an_outcome(archive):
    with pytest.raises(ValueError, match="no valid outcome"):
        archive.record(Capture(requested_url="https://www.example.com/x", captured_at="2026-11-29T10:00:00Z"))
    assert archive.db.execute("SELECT count(*) FROM captures").fetchone()[0] == 0


def test_same_site_canonical_keys_the_article(archive):
    canonical = "https://example.com/news/harbour"
    a = archive.record(_capture(url="https://m.example.com/news/harbour", extracted=_extracted(canonical=canonical)))
    b = archive.record(_capture(url="https://www.example.com/news/harbour?ref=home",
                                extracted=_extracted(canonical=canonical)))
    assert a.article_url == b.article_url == canonical
    assert b.outcome == "revisit"


def test_cross_domain_canonical_cannot_write_into_another_sites_history(archive):
    victim = archive.record(_capture(url="https://www.victim.org/story"))
    attacker = archive.record(_capture(
        url="https://attacker.example.net/story",
        extracted=_extracted(headline="Forged", canonical="https://www.victim.org/story")))
    assert attacker.article_url == "https://attacker.example.net/story"
    assert attacker.article_id != victim.article_id
    assert [v["headline"] for v in archive.versions(victim.article_id)] == ["Harbour dredging delayed"]
    row = archive.db.execute("SELECT canonical_url FROM articles WHERE id = ?", [attacker.article_id]).fetchone()
    assert row[0] == "https://www.victim.org/story"


def test_failed_write_leaves_nothing_half_written(archive, monkeypatch):
    def broken(*args, **kwargs):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(archive, "_insert_capture", broken)
    with pytest.raises(sqlite3.OperationalError):
        archive.record(_capture())
    counts = [archive.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
              for t in ("articles", "versions", "captures", "payloads")]
    assert counts == [0, 0, 0, 0]


def test_open_is_idempotent_and_uses_wal(tmp_path):
    path = tmp_path / "news.db"
    Archive.open(path).close()
    with Archive.open(path) as archive:
        assert archive.db.execute("PRAGMA user_version").fetchone()[0] == 1
        assert archive.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert "versions_fts" in archive.db.table_names()


def test_full_text_search_follows_new_versions(archive):
    archive.record(_capture())
    hits = archive.db.execute(
        "SELECT headline FROM versions WHERE rowid IN "
        "(SELECT rowid FROM versions_fts WHERE versions_fts MATCH 'dredging')").fetchall()
    assert hits == [("Harbour dredging delayed",)]


def test_crawl_rows(archive):
    crawl_id = archive.start_crawl("newscrawler crawl http://x/sitemap.xml")
    archive.finish_crawl(crawl_id, {"item_scraped_count": 3}, "finished")
    row = archive.db.execute("SELECT command, finish_reason, stats, finished_at FROM crawls").fetchone()
    assert row[:2] == ("newscrawler crawl http://x/sitemap.xml", "finished")
    assert json.loads(row[2]) == {"item_scraped_count": 3}
    assert row[3].endswith("Z")


def test_readonly_open_of_missing_archive_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        Archive.open(tmp_path / "missing.db", readonly=True)
