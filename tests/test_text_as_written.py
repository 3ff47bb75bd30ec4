"""The stored body keeps the page's text as written: no spaces added around inline elements, none
lost beside them, in paragraphs, quotes, list items and table cells; embedded social posts kept."""

from __future__ import annotations

import itertools

import pytest

from newscrawler.extraction import extract_article

FILLER = "<p>" + " ".join(["The board chair said the permits for the main channel were not ready yet."] * 4) + "</p>"
INLINE = ["a href='/x'", "b", "em", "span", "i", "strong", "code", "abbr"]
# (text before, inline text, text after) as a writer wrote them, in several languages' punctuation.
SENTENCES = [
    ("The ", "harbour board", ", which met on Monday, said so."),
    ("It was agreed last ", "year", "."),
    ("The chair (", "profile", ") spoke first."),
    ("She called it “", "a delay", "” and left."),
    ("Der Rat sprach von „", "Verzögerung", "“ und ging."),
    ("Il a dit « ", "non", " » hier ; puis il est parti."),
    ("¿", "Quién", " pagará la obra del puerto?"),
    ("港湾局は", "月曜日", "、計画を延期した。"),
    ("The vote was ", "12", "–3; the motion passed!"),
    ("Posted by ", "Harbour Watch", " on the first of May."),
    ("Rates rose by ", "five", " per cent: a record."),
]


def _page(block: str) -> str:
    return f"<html><body><article><h1>Harbour board delays dredging</h1>{FILLER}{block}{FILLER}</article></body></html>"


def _paragraphs(html: str) -> list[str]:
    result = extract_article(html, "https://news.example/harbour/story")
    assert result is not None
    return [p for p in result.body.split("\n\n") if "permits" not in p]


@pytest.mark.parametrize(("tag", "sentence"), list(itertools.product(INLINE, SENTENCES)))
def test_inline_elements_in_a_paragraph(tag, sentence):
    before, inner, after = sentence
    name = tag.split()[0]
    html = _page(f"<p>{before}<{tag}>{inner}</{name}>{after}</p>")
    assert _paragraphs(html) == [before + inner + after]


@pytest.mark.parametrize(("container", "sentence"), list(itertools.product(
    ["blockquote", "ul><li", "ol><li", "table><tr><td"], SENTENCES)))
def test_inline_elements_in_quotes_lists_and_cells(container, sentence):
    before, inner, after = sentence
    opening = "".join(f"<{t}>" for t in container.split("><"))
    closing = "".join(f"</{t.split()[0]}>" for t in reversed(container.split("><")))
    html = _page(f"{opening}{before}<a href='/x'>{inner}</a>{after}{closing}")
    assert before + inner + after in _paragraphs(html)


EMBEDS = {
    "twitter": ('<blockquote class="twitter-tweet"><p lang="en">{text}</p>&mdash; Harbour Watch (@harbourwatch) '
                '<a href="https://twitter.com/harbourwatch/status/1">May 1, 2024</a></blockquote>'
                '<script async src="https://platform.twitter.com/widgets.js"></script>'),
    "twitter in a figure": ('<figure class="embed embed--twitter"><blockquote class="twitter-tweet" data-lang="de">'
                            '<p lang="de">{text}</p>— Hafenwacht (@hafenwacht) <a href="https://twitter.com/h/status/2">'
                            '1. Mai 2024</a></blockquote><script src="https://platform.twitter.com/widgets.js"></script>'
                            '</figure>'),
    "instagram": ('<blockquote class="instagram-media" data-instgrm-permalink="https://www.instagram.com/p/x/">'
                  '<div><a href="https://www.instagram.com/p/x/">A post shared by Harbour Watch</a></div>'
                  '<p>{text}</p></blockquote>'),
    "facebook": ('<div class="social-embed"><iframe src="https://www.facebook.com/plugins/post.php"></iframe>'
                 '<blockquote cite="https://www.facebook.com/x/posts/1" class="fb-xfbml-parse-ignore"><p>{text}</p>'
                 'Posted by <a href="https://www.facebook.com/x">Harbour Watch</a> on Wednesday</blockquote></div>'),
    "bluesky": ('<blockquote class="bluesky-embed" data-bluesky-uri="at://did:plc:x/app.bsky.feed.post/1">'
                '<p lang="en">{text}</p>&mdash; Harbour Watch (<a href="https://bsky.app/profile/x">@x</a>)'
                '</blockquote>'),
}


@pytest.mark.parametrize("kind", sorted(EMBEDS))
@pytest.mark.parametrize("text", ["The dredging is off until spring, the board says.",
                                  "Die Baggerarbeiten sind bis zum Frühjahr abgesagt, sagt der Hafenrat."])
def test_embedded_social_post_text_is_kept(kind, text):
    html = _page("<p>As the group wrote on social media:</p>" + EMBEDS[kind].format(text=text))
    paragraphs = _paragraphs(html)
    assert "As the group wrote on social media:" in paragraphs
    assert text in paragraphs


def test_a_table_reads_as_rows():
    html = _page("<table><tr><th>Berth</th><th>Depth</th><th></th></tr>"
                 "<tr><td>North quay</td><td>4.2 m</td><td colspan='9'></td></tr>"
                 "<tr><td>South quay</td><td>3.8 m</td><td></td></tr></table>")
    assert [p for p in _paragraphs(html) if "|" in p] == ["Berth | Depth", "North quay | 4.2 m",
                                                          "South quay | 3.8 m"]


MIXED = ["<blockquote><p>A quote here.</p>{s}</blockquote>", "<ul><li><b>Item</b> {s}</li></ul>",
         "<div><p>Intro paragraph.</p>{s}</div>", "<table><tr><td><p>Cell</p>{s}</td></tr></table>",
         "<blockquote>{s}<p>More.</p></blockquote>", "<section><h3>Heading</h3>{s}<p>After.</p></section>"]


@pytest.mark.parametrize(("wrapper", "sentence"), list(itertools.product(MIXED, SENTENCES)))
def test_loose_text_beside_blocks_stays_one_sentence(wrapper, sentence):
    """Text and a link standing beside a block in one parent: trafilatura trims and splits them."""
    before, inner, after = sentence
    paragraphs = _paragraphs(_page(wrapper.format(s=f"{before}<a href='/x'>{inner}</a>{after}")))
    assert any(before + inner + after in p for p in paragraphs), paragraphs
