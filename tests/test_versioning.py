"""The version rules (newscrawler.versioning), called directly: no SQL, no Scrapy."""

import random

import pytest

from newscrawler.changes import digested_paragraphs
from newscrawler.items import Outcome
from newscrawler.versioning import comparison_mask, decide, decide_unextracted, needs_reextraction
from tests import variants

BODY = ("The harbour board said on Wednesday that dredging will not start before autumn.\n\n"
        "Fishing crews say the delay has cost them a season.")
DISCLAIMER = "Follow us on social media for more news from the coast."


def _ex(headline="Harbour dredging delayed", body=BODY, extractor="trafilatura 2.3.1", **extra):
    return {"headline": headline, "body": body, "extractor": extractor, "authors": [], "date_published": None,
            "date_modified": None, "language": "en", **extra}


def _version(number, ex, id_=None):
    return {"id": id_ or number * 10, "version": number, "payload_digest": None, **ex}


def _digest(paragraph):
    return dict((p, d) for p, d in digested_paragraphs(paragraph))[paragraph]


def test_first_capture_is_version_one():
    decision = decide(_ex(), [], None)
    assert (decision.outcome, decision.number, decision.version) == (Outcome.NEW, 1, None)


def test_same_content_is_a_revisit_of_the_current_version():
    v1 = _version(1, _ex())
    decision = decide(_ex(), [v1], v1)
    assert (decision.outcome, decision.version, decision.number) == (Outcome.REVISIT, v1, None)


def test_an_edit_is_the_next_version_with_its_changed_fields():
    v1 = _version(1, _ex())
    decision = decide(_ex(headline="Harbour dredging delayed again"), [v1], v1)
    assert (decision.outcome, decision.number, decision.changed) == (Outcome.CHANGED, 2, ["headline"])


def test_back_to_an_older_version_is_a_revert_version_that_points_to_it():
    v1, v2 = _version(1, _ex()), _version(2, _ex(headline="Harbour dredging delayed again"))
    decision = decide(_ex(), [v1, v2], v2)
    assert (decision.outcome, decision.version["version"]) == (Outcome.REVERTED, 1)
    assert (decision.number, decision.change_kind, decision.reverts_to) == (3, "revert", 1)
    assert decision.note == "back to version 1 from version 2"


def test_a_revert_after_a_revert_points_to_the_original_not_the_revert():
    v1, v2 = _version(1, _ex()), _version(2, _ex(headline="B"))
    v3 = {**_version(3, _ex()), "change_kind": "revert"}
    decision = decide(_ex(headline="B"), [v1, v2, v3], v3)
    assert (decision.outcome, decision.number, decision.reverts_to) == (Outcome.REVERTED, 4, 2)
    assert decide(_ex(), [v1, v2, v3], v3).outcome is Outcome.REVISIT


def test_numbering_follows_the_highest_version_after_a_revert():
    v1, v2 = _version(1, _ex()), _version(2, _ex(headline="B"))
    decision = decide(_ex(headline="C"), [v1, v2], v1)  # v1 current again after a revert
    assert (decision.outcome, decision.number) == (Outcome.CHANGED, 3)


def test_a_shrunken_body_is_not_compared_and_its_page_kept():
    v1 = _version(1, _ex())
    decision = decide(_ex(body="Subscribe to read the rest of this story."), [v1], v1)
    assert decision.outcome is Outcome.NOT_COMPARABLE and decision.keep_payload
    assert "shrank" in decision.note and decision.number is None


def test_a_template_paragraph_gone_is_an_edit_whatever_the_mask():
    v1 = _version(1, _ex(body=BODY + "\n\n" + DISCLAIMER))
    mask = frozenset({_digest(DISCLAIMER)})
    decision = decide(_ex(), [v1], v1, mask)
    assert (decision.outcome, decision.change_kind) == (Outcome.CHANGED, "stealth")
    assert "template" in decision.note  # the capture says masking did not decide
    assert decide(_ex(), [v1], v1).note is None  # no template paragraph involved: nothing to say


def test_a_template_paragraph_moved_is_a_revisit_that_says_masking_decided():
    v1 = _version(1, _ex(body=BODY + "\n\n" + DISCLAIMER))
    decision = decide(_ex(body=DISCLAIMER + "\n\n" + BODY), [v1], v1, frozenset({_digest(DISCLAIMER)}))
    assert decision.outcome is Outcome.REVISIT and decision.note.startswith("masking decided")


def _seeded(maker, seeds=range(40)):
    return [maker(random.Random(seed)) for seed in seeds]


@pytest.mark.parametrize("note", _seeded(variants.correction_note) + _seeded(variants.update_note)
                         + variants.SHARED_NOTES + _seeded(variants.new_sentence, range(12)))
@pytest.mark.parametrize("where", ["end", "top", "middle"])
def test_no_mask_hides_a_paragraph_added_or_removed(note, where):
    """Whatever the site carries elsewhere (the note is in the mask), adding or removing it is an edit."""
    parts = BODY.split("\n\n")
    at = {"end": len(parts), "top": 0, "middle": 1}[where]
    with_note = "\n\n".join(parts[:at] + [note] + parts[at:])
    mask = frozenset({_digest(note), *(d for _, d in digested_paragraphs(DISCLAIMER))})
    v1, v1_note = _version(1, _ex()), _version(1, _ex(body=with_note))
    assert decide(_ex(body=with_note), [v1], v1, mask).outcome is Outcome.CHANGED
    assert decide(_ex(), [v1_note], v1_note, mask).outcome is Outcome.CHANGED


@pytest.mark.parametrize("note", _seeded(variants.correction_note) + _seeded(variants.update_note))
def test_an_editorial_note_is_never_masked(note):
    v1 = _version(1, _ex(body=BODY + "\n\n" + note))
    assert comparison_mask(_ex(body=note + "\n\n" + BODY), v1, frozenset({_digest(note)})) == frozenset()


@pytest.mark.parametrize("seed", range(30))
@pytest.mark.parametrize(("maker", "kind"), [(variants.correction_note, "correction"),
                                             (variants.update_note, "update")])
def test_a_note_added_gives_its_change_kind(seed, maker, kind):
    rng = random.Random(seed)
    v1 = _version(1, _ex())
    parts = BODY.split("\n\n")
    at = rng.choice([0, 1, len(parts)])
    body = "\n\n".join(parts[:at] + [maker(rng)] + parts[at:])
    decision = decide(_ex(body=body), [v1], v1)
    assert (decision.outcome, decision.change_kind) == (Outcome.CHANGED, kind)


@pytest.mark.parametrize(("new", "kind", "changed"), [
    ({"headline": "Harbour dredging delayed again"}, "headline", ["headline"]),
    ({"body": BODY.replace("autumn", "winter")}, "stealth", ["body"]),
    ({"body": BODY.replace("autumn", "winter"), "date_modified": "2026-11-30T10:00:00Z"}, "update",
     ["date_modified", "body"]),
    ({"title": "Harbour dredging delayed | Coastline Times (updated)"}, "metadata", ["title"]),
    ({"corrections": ["The board meets in week 42, not 41."]}, "correction", ["corrections"]),
])
def test_change_kinds(new, kind, changed):
    known = {"title": "Harbour dredging delayed | Coastline Times", "corrections": [],
             "date_modified": "2026-11-29T10:00:00Z"}
    v1 = _version(1, _ex(**known))
    decision = decide(_ex(**{**known, **new}), [v1], v1)
    assert (decision.outcome, decision.change_kind, decision.changed) == (Outcome.CHANGED, kind, changed)


def test_a_title_or_corrections_unknown_to_an_old_version_are_no_change():
    v1 = _version(1, _ex())  # archived before issue 18: no title, no corrections
    decision = decide(_ex(title="Harbour dredging delayed | Coastline Times", corrections=["x"]), [v1], v1)
    assert decision.outcome is Outcome.REVISIT


def test_masking_most_of_a_story_is_no_masking():
    v1 = _version(1, _ex())
    mask = frozenset(d for _, d in digested_paragraphs(BODY))
    assert decide(_ex(body=BODY + "\n\nA new paragraph about the harbour."), [v1], v1, mask).outcome is Outcome.CHANGED


@pytest.mark.parametrize(("reextracted", "outcome"), [
    ({"version_id": 10, "extractor": "trafilatura 2.3.1"}, Outcome.REVISIT),  # drift: the new extractor's text
    ({"version_id": 11, "extractor": "trafilatura 2.3.1"}, Outcome.CHANGED),  # of another version
    ({"version_id": 10, "extractor": "trafilatura 1.0"}, Outcome.CHANGED),    # by the old extractor
    (None, Outcome.CHANGED),                                                  # none: an edit, when in doubt
])
def test_extraction_drift_needs_the_current_versions_reextraction(reextracted, outcome):
    v1 = _version(1, _ex(extractor="trafilatura 1.0"))
    new = _ex(body=BODY + "\n\nCaption: the harbour at dawn.")
    if reextracted is not None:
        reextracted = {**reextracted, "headline": new["headline"], "body": new["body"]}
    decision = decide(new, [v1], v1, reextracted=reextracted)
    assert decision.outcome is outcome
    if outcome is Outcome.REVISIT:
        assert "extraction drift" in decision.note and "trafilatura 1.0" in decision.note


def test_reextraction_is_asked_only_when_another_extractor_made_a_different_text():
    v1 = _version(1, _ex(extractor="trafilatura 1.0"))
    assert needs_reextraction(_ex(body=BODY + "\n\nMore."), v1)
    assert not needs_reextraction(_ex(), v1)  # same text: a revisit without it
    assert not needs_reextraction(_ex(body=BODY + "\n\nMore.", extractor="trafilatura 1.0"), v1)
    assert not needs_reextraction(_ex(), None)


@pytest.mark.parametrize(("outcome", "status", "expected", "gone", "kept"), [
    (Outcome.FAILED, 404, Outcome.GONE, True, False),
    (Outcome.FAILED, 410, Outcome.GONE, True, False),
    (Outcome.FAILED, 403, Outcome.NOT_COMPARABLE, False, True),
    (Outcome.FAILED, 451, Outcome.NOT_COMPARABLE, False, True),
    (Outcome.FAILED, 503, Outcome.FAILED, False, False),
    (Outcome.FAILED, None, Outcome.FAILED, False, False),
    (Outcome.NOT_ARTICLE, 200, Outcome.NOT_COMPARABLE, False, True),
])
def test_an_archived_article_without_extraction(outcome, status, expected, gone, kept):
    decision = decide_unextracted(outcome, status, "why", None, {"id": 10, "version": 1}, archived=True)
    assert (decision.outcome, decision.gone, decision.keep_payload) == (expected, gone, kept)
    assert decision.version is None


@pytest.mark.parametrize("outcome", [Outcome.NOT_MODIFIED, Outcome.REVISIT])
def test_a_304_or_same_bytes_points_to_the_current_version(outcome):
    latest = {"id": 10, "version": 3}
    decision = decide_unextracted(outcome, 304, None, "304 to a conditional request", latest, archived=True)
    assert (decision.outcome, decision.version, decision.note) == (outcome, latest, "304 to a conditional request")


def test_an_unknown_page_keeps_its_outcome():
    decision = decide_unextracted(Outcome.FAILED, 404, "HTTP 404", None, None, archived=False)
    assert (decision.outcome, decision.gone) == (Outcome.FAILED, False)


def test_an_unknown_outcome_is_refused():
    with pytest.raises(ValueError):
        decide_unextracted("exploded", None, None, None, None, archived=False)
