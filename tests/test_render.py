"""The one diff renderer (newscrawler.render): folding, change navigation, escaping, and the three
outputs drawn from it (the CLI's page, the Datasette diff's body, the Atom feed's content)."""

from __future__ import annotations

import re

import lxml.html
import pytest

from newscrawler import render
from newscrawler.changes import diff_versions

HOSTILE = "<script>window.__xss = 1</script> & <img src=x onerror=alert(1)>"


def edited(i: int) -> str:
    """Paragraph ``i`` with one word changed (a replace, not a delete and an insert)."""
    return f"Paragraph {i} says something about the harbour, the board and the city."


def article(n: int, edits: dict[int, str] | None = None, headline: str = "A headline") -> dict:
    """A version with ``n`` paragraphs, paragraph i replaced by ``edits[i]`` where given."""
    paras = [f"Paragraph {i} says something about the harbour, the board and the town." for i in range(n)]
    for i, text in (edits or {}).items():
        paras[i] = text
    return {"headline": headline, "body": "\n\n".join(paras)}


def tree(result: dict, **kwargs) -> lxml.html.HtmlElement:
    return lxml.html.fromstring(str(render.diff_html(result, **kwargs)))


def shown_paragraphs(root) -> list[str]:
    """Body paragraphs outside any fold, in order (their text without the change navigation)."""
    out = []
    for p in root.xpath("p[not(contains(@class, 'headline'))]"):
        for nav in p.cssselect(".change-nav"):
            nav.drop_tree()
        out.append(p.text_content())
    return out


@pytest.mark.parametrize(("n", "changed", "shown", "folded"), [
    (30, [25], [24, 25, 26], [24, 3]),            # near the end: 24 folded before, 3 after
    (30, [0], [0, 1], [28]),                      # the first paragraph: nothing before it to fold
    (30, [29], [28, 29], [28]),                   # the last one
    (30, [5, 20], [4, 5, 6, 19, 20, 21], [4, 12, 8]),  # two changes, a fold between them
    (6, [3], [2, 3, 4, 5], [2]),                  # two hidden before; one after stays shown
    (5, [2], [0, 1, 2, 3, 4], []),               # one hidden paragraph is never folded
])
def test_unchanged_paragraphs_fold_around_each_change(n, changed, shown, folded):
    old = article(n)
    new = article(n, {i: edited(i) for i in changed})
    root = tree(diff_versions(old, new))
    summaries = [s.text_content() for s in root.cssselect("details.unchanged summary")]
    assert summaries == [f"show {k} unchanged paragraph{'s' if k != 1 else ''}" for k in folded]
    texts = [re.match(r"Paragraph \d+", p).group() for p in shown_paragraphs(root)]
    assert texts == [f"Paragraph {i}" for i in shown]
    # nothing is lost: folded and shown paragraphs together are the whole new text, in order
    every = [p.text_content() for p in root.cssselect("p:not(.headline)")]
    assert len(every) == n
    # unfolded, every paragraph is shown
    assert len(shown_paragraphs(tree(diff_versions(old, new), folded=False))) == n


def test_changes_are_numbered_with_marks_and_previous_next_links():
    old = article(12)
    new = article(12, {2: edited(2), 9: edited(9)})
    new["body"] += "\n\nA new closing paragraph."
    root = tree(diff_versions(old, new))
    changes = root.cssselect("p.change")
    assert [p.get("id") for p in changes] == ["change-1", "change-2", "change-3"]
    assert [p.cssselect(".mark")[0].text_content() for p in changes] == ["1/3", "2/3", "3/3"]
    assert [[a.get("href") for a in p.cssselect(".change-nav a")] for p in changes] == [
        ["#change-2"], ["#change-1", "#change-3"], ["#change-2"]]
    assert render.change_count(diff_versions(old, new)) == 3


def test_side_by_side_keeps_old_left_new_right_with_folds():
    old = article(20)
    new = article(20, {15: edited(15)})
    root = tree(diff_versions(old, new), side_by_side=True)
    assert root.get("class") == "article-text side-by-side"
    assert [p.get("id") for p in root.cssselect("p.old.change")] == ["change-1"]
    assert root.cssselect("p.old.change del") and not root.cssselect("p.old.change ins")
    assert root.cssselect("p.new.change ins") and not root.cssselect("p.new.change del")
    assert [s.text_content() for s in root.cssselect("details summary")] == [
        "show 14 unchanged paragraphs", "show 3 unchanged paragraphs"]


def test_nothing_folds_without_a_body_change():
    old = article(10)
    new = article(10, headline="Another headline")
    root = tree(diff_versions(old, new))
    assert root.cssselect("details") == [] and len(shown_paragraphs(root)) == 10
    assert root.cssselect("p.headline.change del")[0].text_content() == "A"


@pytest.mark.parametrize("where", ["headline", "body", "metadata"])
def test_every_output_escapes_archived_text(where):
    old = article(8)
    if where == "headline":
        new = article(8, headline=f"A headline {HOSTILE}")
    elif where == "body":
        new = article(8, {7: edited(7) + f" It quotes {HOSTILE}"})
    else:
        new = dict(article(8), authors=[HOSTILE])
    result = diff_versions(old, new)
    old.update(version=1, captured_at="2026-12-01T10:00:00Z")
    new.update(version=2, captured_at="2026-12-02T10:00:00Z")
    outputs = [render.feed_html(result), render.page_html("https://example.com/a", old, new, result)]
    if where != "metadata":  # the diff's body shows headline and body; metadata is the page's
        outputs += [str(render.diff_html(result)), str(render.diff_html(result, side_by_side=True))]
    for html in outputs:
        root = lxml.html.fromstring(html)
        assert root.xpath("//script") == [] and root.xpath("//img") == []
        assert "window.__xss = 1" in root.text_content()


def test_page_html_is_self_contained():
    old, new = article(40), article(40, {33: edited(33)})
    old.update(version=1, captured_at="2026-12-01T10:00:00Z")
    new.update(version=2, captured_at="2026-12-02T10:00:00Z")
    page = render.page_html("https://example.com/a", old, new, diff_versions(old, new))
    root = lxml.html.fromstring(page)
    assert root.xpath("//script") == [] and root.xpath("//link") == []
    assert root.xpath("//meta[@http-equiv='Content-Security-Policy']/@content")[0].startswith("default-src 'none'")
    assert root.xpath("//a[text()='jump to the first change']/@href") == ["#change-1"]
    assert [s.text_content() for s in root.cssselect("details summary")] == [
        "show 32 unchanged paragraphs", "show 5 unchanged paragraphs"]


def test_words_html_sides():
    words = [("=", "Harbour "), ("-", "closed "), ("+", "open "), ("=", "today")]
    assert render.words_html(words) == "Harbour <del>closed</del> <ins>open</ins> today"
    assert render.words_html(words, "-") == "Harbour <del>closed</del> today"
    assert render.words_html(words, "+") == "Harbour <ins>open</ins> today"
