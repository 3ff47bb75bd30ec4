"""The version rules (newscrawler.versioning), called directly: no SQL, no Scrapy."""

import pytest

from newscrawler.changes import digested_paragraphs
from newscrawler.items import Outcome
from newscrawler.versioning import decide, decide_unextracted, needs_reextraction

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


def test_back_to_an_older_version_is_a_revert_that_points_to_it():
    v1, v2 = _version(1, _ex()), _version(2, _ex(headline="Harbour dredging delayed again"))
    decision = decide(_ex(), [v1, v2], v2)
    assert (decision.outcome, decision.version["version"]) == (Outcome.REVERTED, 1)
    assert decision.note == "back to version 1 from version 2"


def test_numbering_follows_the_highest_version_after_a_revert():
    v1, v2 = _version(1, _ex()), _version(2, _ex(headline="B"))
    decision = decide(_ex(headline="C"), [v1, v2], v1)  # v1 current again after a revert
    assert (decision.outcome, decision.number) == (Outcome.CHANGED, 3)


def test_a_shrunken_body_is_not_compared_and_its_page_kept():
    v1 = _version(1, _ex())
    decision = decide(_ex(body="Subscribe to read the rest of this story."), [v1], v1)
    assert decision.outcome is Outcome.NOT_COMPARABLE and decision.keep_payload
    assert "shrank" in decision.note and decision.number is None


def test_boilerplate_is_masked_on_both_sides():
    v1 = _version(1, _ex(body=BODY + "\n\n" + DISCLAIMER))
    mask = frozenset({_digest(DISCLAIMER)})
    assert decide(_ex(), [v1], v1, mask).outcome is Outcome.REVISIT
    assert decide(_ex(), [v1], v1).outcome is Outcome.CHANGED  # unmasked, the paragraph's loss is an edit


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
