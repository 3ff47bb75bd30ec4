"""Archive: versions, revisits, captures without versions, canonical keys, migrations (real SQLite)."""

import dataclasses
import json
import sqlite3

import pytest
import sqlite_utils

from newscrawler.changes import digested_paragraphs
from newscrawler.items import Capture
from newscrawler.migrations import MIGRATIONS
from newscrawler.store import Archive


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
                                      error="not HTML: the body is a PDF (application/pdf)"))
    assert (recorded.outcome, recorded.article_id, recorded.version_id) == ("not_article", None, None)
    row = archive.db.execute("SELECT outcome, error, content_length FROM captures").fetchone()
    assert row == ("not_article", "not HTML: the body is a PDF (application/pdf)", 8)
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
        assert archive.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
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


BODY_A = ("The harbour board said on Wednesday that dredging will not start before autumn.\n\n"
          "Fishing crews say the delay has cost them a season.\n\nThe board meets again next week.")
BODY_B = BODY_A.replace("Wednesday", "Thursday")


def _at(minute):
    return f"2026-11-29T10:{minute:02d}:00Z"


def test_flip_flop_is_recorded_as_reverts(archive):
    """A -> B -> A -> B: each return is a version of kind revert, so the highest number is current."""
    outcomes = []
    for minute, body in enumerate([BODY_A, BODY_B, BODY_A, BODY_B, BODY_B]):
        recorded = archive.record(_capture(at=_at(minute), extracted=_extracted(body=body)))
        outcomes.append((recorded.outcome, recorded.version))
    assert outcomes == [("new", 1), ("changed", 2), ("reverted", 3), ("reverted", 4), ("revisit", 4)]
    article = archive.article("https://www.example.com/news/harbour")
    versions = archive.versions(article["id"])
    assert [(v["version"], v["change_kind"], v["reverts_to"]) for v in versions] == [
        (1, None, None), (2, "stealth", None), (3, "revert", 1), (4, "revert", 2)]
    assert article["latest_version_id"] == versions[-1]["id"] and versions[-1]["body"] == BODY_B
    assert archive.db.execute("SELECT url, reverts, versions FROM flip_flops").fetchall() == [
        ("https://www.example.com/news/harbour", 2, 4)]


def test_headline_changes_view(archive):
    archive.record(_capture(at=_at(0)))
    archive.record(_capture(at=_at(1), extracted=_extracted(headline="Harbour dredging delayed again")))
    assert archive.db.execute("SELECT version, old_headline, new_headline FROM headline_changes").fetchall() == [
        (2, "Harbour dredging delayed", "Harbour dredging delayed again")]


def test_extraction_drift_is_not_an_edit(archive):
    v1 = archive.record(_capture(at=_at(0), body=b"<html>raw v1</html>",
                                 extracted=_extracted(body=BODY_A, extractor="trafilatura 1.0")))
    drifted = _extracted(body=BODY_A + "\n\nCaption text.", extractor="trafilatura 2.3.1")
    reextracted = {"version_id": v1.version_id, "extractor": "trafilatura 2.3.1",
                   "headline": "Harbour dredging delayed", "body": BODY_A + "\n\nCaption text."}
    first = archive.record(dataclasses.replace(_capture(at=_at(1), body=b"<html>raw v1 again</html>",
                                                        extracted=drifted), reextracted=reextracted))
    assert first.outcome == "revisit" and first.version_id == v1.version_id
    assert "extraction drift" in first.note and "trafilatura 1.0" in first.note
    assert archive.reextraction(v1.version_id, "trafilatura 2.3.1") == reextracted  # cached for the next one
    # Without the re-extraction the same text is an edit: when in doubt, a version.
    assert archive.record(_capture(at=_at(2), extracted=drifted)).outcome == "changed"


def test_a_reextraction_of_another_version_or_extractor_is_not_used(archive):
    v1 = archive.record(_capture(at=_at(0), extracted=_extracted(body=BODY_A, extractor="trafilatura 1.0")))
    drifted = _extracted(body=BODY_A + "\n\nCaption text.", extractor="trafilatura 2.3.1")
    stale = {"version_id": v1.version_id + 99, "extractor": "trafilatura 2.3.1",
             "headline": "Harbour dredging delayed", "body": BODY_A + "\n\nCaption text."}
    assert archive.record(dataclasses.replace(_capture(at=_at(1), extracted=drifted),
                                              reextracted=stale)).outcome == "changed"


def test_shrunken_body_is_not_comparable(archive):
    archive.record(_capture(at=_at(0), extracted=_extracted(body=BODY_A)))
    teaser = _extracted(body="The harbour board said on Wednesday that dredging will not start.")
    recorded = archive.record(_capture(at=_at(1), body=b"<html>subscribe</html>", extracted=teaser))
    assert (recorded.outcome, recorded.version_id) == ("not_comparable", None)
    assert "shrank" in recorded.note
    assert len(archive.versions(recorded.article_id)) == 1
    assert archive.payload("sha256:" + __import__("hashlib").sha256(b"<html>subscribe</html>").hexdigest())


@pytest.mark.parametrize(("status", "outcome"), [(404, "gone"), (410, "gone"), (403, "not_comparable"),
                                                  (451, "not_comparable"), (500, "failed")])
def test_status_of_a_known_article(archive, status, outcome):
    first = archive.record(_capture(at=_at(0)))
    recorded = archive.record(Capture(requested_url="https://www.example.com/news/harbour",
                                      captured_at=_at(1), status=status, outcome="failed", error=f"HTTP {status}"))
    assert recorded.outcome == outcome
    article = archive.article("https://www.example.com/news/harbour")
    assert (article["gone_at"] is not None) == (outcome == "gone")
    assert (article["next_check_at"] is None) == (outcome == "gone")
    assert len(archive.versions(first.article_id)) == 1
    back = archive.record(_capture(at=_at(2)))
    assert back.outcome == "revisit"
    assert archive.article("https://www.example.com/news/harbour")["gone_at"] is None


def test_known_article_without_article_is_not_comparable(archive):
    archive.record(_capture(at=_at(0)))
    recorded = archive.record(Capture(requested_url="https://www.example.com/news/harbour", captured_at=_at(1),
                                      status=200, body=b"<html>consent</html>", outcome="not_article",
                                      error="no article body found"))
    assert recorded.outcome == "not_comparable" and "consent" in recorded.note


def _story(n):
    return (f"Story {n} begins with its own news about harbour number {n} and what the board decided.\n\n"
            f"A second paragraph of story {n} quotes a skipper from berth {n * 7}.\n\n"
            f"The last paragraph of story {n} says the board meets again in week {n + 40}.")


def test_a_note_added_to_many_articles_is_a_version_in_each(archive):
    """Issue 18 part 1 (a): the same note added to several archived articles is never learned as
    boilerplate (only first captures are), so it is a version in every one of them."""
    note = "Correction: An earlier version of this article misstated the board's budget."
    outcomes = []
    for n in range(5):
        url = f"https://www.example.com/news/{n}"
        archive.record(_capture(url=url, at=_at(n), extracted=_extracted(headline=f"Story {n}", body=_story(n))))
    for n in range(5):
        url = f"https://www.example.com/news/{n}"
        outcomes.append(archive.record(_capture(url=url, at=_at(n + 10), extracted=_extracted(
            headline=f"Story {n}", body=_story(n) + "\n\n" + note))).outcome)
    assert outcomes == ["changed"] * 5
    kinds = [k for (k,) in archive.db.execute("SELECT change_kind FROM versions WHERE version = 2 ORDER BY id")]
    assert kinds == ["correction"] * 5


def test_a_template_paragraph_gone_from_one_article_is_a_version_with_a_note(archive):
    """Issue 18 part 1 (b): a disclaimer every article's first capture carries is the site's template,
    and still its removal from one article is a version; the note says masking did not decide."""
    disclaimer = "The company has denied any wrongdoing."
    for n in range(4):
        archive.record(_capture(url=f"https://www.example.com/news/{n}", at=_at(n),
                                extracted=_extracted(headline=f"Story {n}", body=_story(n) + "\n\n" + disclaimer)))
    gone = archive.record(_capture(url="https://www.example.com/news/3", at=_at(20),
                                   extracted=_extracted(headline="Story 3", body=_story(3))))
    assert gone.outcome == "changed" and "template" in gone.note and "never hides" in gone.note
    note = archive.db.execute("SELECT note FROM captures WHERE id = ?", [gone.capture_id]).fetchone()[0]
    assert note == gone.note
    moved = archive.record(_capture(url="https://www.example.com/news/2", at=_at(21), extracted=_extracted(
        headline="Story 2", body=disclaimer + "\n\n" + _story(2))))
    assert moved.outcome == "revisit" and moved.note.startswith("masking decided")  # a template block moved


def test_copies_of_one_story_are_not_boilerplate(archive):
    """The same wire story at several URLs of a site: its paragraphs recur, but they are the story."""
    for n in range(4):
        archive.record(_capture(url=f"https://www.example.com/wire/{n}", at=_at(n),
                                extracted=_extracted(headline="Wire story", body=BODY_A)))
    edited = archive.record(_capture(url="https://www.example.com/wire/0", at=_at(10),
                                     extracted=_extracted(headline="Wire story", body=BODY_B)))
    assert edited.outcome == "changed"


def test_schedule_after_each_capture(archive):
    archive.record(_capture(at="2026-11-29T10:00:00Z"))
    article = archive.article("https://www.example.com/news/harbour")
    assert article["next_check_at"] == "2026-11-29T10:15:00Z"
    assert archive.due_articles("2026-11-29T10:14:59Z", 10) == []
    assert [a["url"] for a in archive.due_articles("2026-11-29T10:15:00Z", 10)] == [article["url"]]


def test_last_fetch_gives_validators(archive):
    archive.record(Capture(requested_url="https://www.example.com/a", final_url="https://www.example.com/a",
                           captured_at=_at(0), status=200, body=b"<html>a</html>", etag='"abc"',
                           last_modified="Sun, 29 Nov 2026 10:00:00 GMT", extracted=_extracted()))
    fetch = archive.last_fetch("https://www.example.com/a")
    assert (fetch["etag"], fetch["last_modified"]) == ('"abc"', "Sun, 29 Nov 2026 10:00:00 GMT")
    assert fetch["payload_digest"] == "sha256:" + __import__("hashlib").sha256(b"<html>a</html>").hexdigest()
    assert archive.last_fetch("https://www.example.com/unknown") is None


def _schema_5(path):
    """A new archive at ``path`` left at schema 5, open (sqlite_utils)."""
    db = sqlite_utils.Database(path)
    for migration in MIGRATIONS[:5]:
        migration(db)
    db.execute("PRAGMA user_version = 5")
    return db


def test_migration_6_keys_site_paragraphs_by_article_and_keeps_what_was_learned(tmp_path):
    """An archive of schema 5 (site_paragraphs keyed by site and digest) keeps its learned rows; after
    the migrations a new article's first capture is counted, and a later capture of it is not
    (issue 18: the template is what first captures carry)."""
    path = tmp_path / "news.db"
    db = _schema_5(path)
    learned = {("example.com", digest, article_id) for article_id, story in ((101, _story(1)), (102, _story(2)))
               for _, digest in digested_paragraphs(story)}
    db["site_paragraphs"].insert_all([{"site": s, "digest": d, "article_id": a} for s, d, a in learned])
    db.conn.commit()
    assert len(learned) == 6
    db.close()

    with Archive.open(path) as archive:
        assert archive.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert set(archive.db.execute("SELECT site, digest, article_id FROM site_paragraphs").fetchall()) == learned
        key = [row[2] for row in archive.db.execute("PRAGMA index_info(sqlite_autoindex_site_paragraphs_1)")]
        assert key == ["article_id", "site", "digest"]
        assert archive.db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        first = archive.record(_capture(url="https://www.example.com/c", at=_at(1),
                                        extracted=_extracted(body=_story(3))))
        edited = _story(3) + "\n\nA correction: the board meets in week 42."
        recorded = archive.record(_capture(url="https://www.example.com/c", at=_at(2),
                                           extracted=_extracted(body=edited)))
        assert (first.outcome, recorded.outcome) == ("new", "changed")
        assert archive.db.execute("SELECT count(*) FROM site_paragraphs WHERE article_id = ?",
                                  [recorded.article_id]).fetchone()[0] == 3  # the added paragraph is not template
        assert archive.db.execute("SELECT count(*) FROM site_paragraphs").fetchone()[0] == 9


def test_migration_6_keeps_a_view_of_the_users_on_site_paragraphs(tmp_path):
    """SQLite refuses to rename a table over a dropped one while a view names it, unless in legacy mode."""
    path = tmp_path / "news.db"
    db = _schema_5(path)
    db.execute("INSERT INTO site_paragraphs (site, digest, article_id) VALUES ('example.com', 'd1', 1)")
    db.execute("CREATE VIEW my_boilerplate AS SELECT site, digest, count(*) AS articles FROM site_paragraphs "
               "GROUP BY site, digest")
    db.conn.commit()
    db.close()
    with Archive.open(path) as archive:
        assert archive.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert archive.db.execute("SELECT * FROM my_boilerplate").fetchall() == [("example.com", "d1", 1)]
        assert archive.db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
