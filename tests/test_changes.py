"""Pure change-detection functions: normalisation, digests, word and paragraph diffs."""

import pytest

from newscrawler.changes import (
    changed_fields,
    churn_kind,
    content_digest,
    diff_paragraphs,
    diff_versions,
    diff_words,
    normalize_text,
    render_text,
)
from newscrawler.render import words_html as render_words_html


def test_normalize_folds_markup_only_whitespace():
    raw = "  The\u00a0council  met.\u200b\n\n\n  Second\tparagraph. \n"
    assert normalize_text(raw) == "The council met.\n\nSecond paragraph."


def test_normalize_is_nfc():
    decomposed = "Cafe\u0301 opens"
    assert normalize_text(decomposed) == "Caf\u00e9 opens"


def test_normalize_keeps_digits_and_punctuation():
    assert normalize_text("Toll rose to 1,204 (from 1,187).") == "Toll rose to 1,204 (from 1,187)."


def test_digest_ignores_whitespace_but_not_words_or_numbers():
    base = content_digest("Fire in town", "12 people died.\n\nMore later.")
    assert base.startswith("sha256:") and len(base) == 7 + 64
    assert content_digest(" Fire  in town ", "12 people\u00a0died.\n\n\nMore later.") == base
    assert content_digest("Fire in town", "13 people died.\n\nMore later.") != base
    assert content_digest("Fire in the town", "12 people died.\n\nMore later.") != base


def test_digest_pair_is_unambiguous():
    assert content_digest("a", "b\n\nc") != content_digest("a\n\nb", "c")


def test_diff_words_marks_the_changed_number():
    words = diff_words("The toll rose to 12 on Monday.", "The toll rose to 15 on Monday.")
    assert words == [("=", "The toll rose to "), ("-", "12 "), ("+", "15 "), ("=", "on Monday.")]


def test_diff_words_reassembles_both_texts():
    old, new = "one two three four", "zero one three four five"
    words = diff_words(old, new)
    assert "".join(t for op, t in words if op != "+").split() == old.split()
    assert "".join(t for op, t in words if op != "-").split() == new.split()


def test_diff_paragraphs_add_remove_replace_move():
    old = "Alpha para one.\n\nBeta para two.\n\nGamma goes away.\n\nDelta at the end."
    new = "Delta at the end.\n\nAlpha para one.\n\nBeta para two changed.\n\nA new paragraph."
    ops = [(b["op"], b["new"] or b["old"]) for b in diff_paragraphs(old, new)]
    assert ("move", "Delta at the end.") in ops
    assert ("equal", "Alpha para one.") in ops
    assert ("replace", "Beta para two changed.") in ops
    assert ("delete", "Gamma goes away.") in ops
    assert ("insert", "A new paragraph.") in ops
    assert len(ops) == 5


def test_changed_fields_lists_what_differs():
    old = {"headline": "A", "body": "x", "authors": '["Ann"]', "date_published": "2024-01-01"}
    new = {"headline": "A", "body": "y", "authors": ["Ann"], "date_published": "2024-01-02"}
    assert changed_fields(old, new) == ["date_published", "body"]
    assert changed_fields(None, new) == ["headline", "authors", "date_published", "body"]


def test_render_text_lists_headline_first():
    diff = diff_versions(
        {"headline": "Old title", "body": "Same.\n\nToll 12."}, {"headline": "New title", "body": "Same.\n\nToll 15."}
    )
    text = render_text(diff)
    assert text.splitlines()[0] == "changed: headline, body"
    assert "headline: [-Old-] {+New+} title" in text
    assert "~ Toll [-12.-] {+15.+}" in text


def test_render_words_html_escapes():
    html = render_words_html([("=", "<script>x</script> "), ("+", "a&b")])
    assert html == "&lt;script&gt;x&lt;/script&gt; <ins>a&amp;b</ins>"


@pytest.mark.parametrize(("line", "kind"), [
    ("Updated 3 hours ago", "relative time"),
    ("Last updated: 25 minutes ago", "relative time"),
    ("5 min read", "reading time"),
    ("1,204 views", "counter"),
    ("Comments (12)", "counter"),
    ("Updated: Nov 4, 2026 10:32 AM EST", "timestamp"),
    ("Monday 4 November 2026", "timestamp"),
    ("Published 10:32 GMT", "timestamp"),
    ("Update, 3:45 p.m.: The mayor has resigned.", None),  # an update note is content
    ("The death toll rose to 12.", None),
    ("12 people were injured", None),
    ("2024", None),
    ("3.14", None),
])
def test_churn_kind(line, kind):
    assert churn_kind(line) == kind
