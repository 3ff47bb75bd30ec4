"""The shared extraction cases (../shared/cases) as tests, and variants of each kind nobody wrote down.

Each shared case is checked against ``expected.json`` as its README states it; each variant
changes the language, the position or the markup of the same kind of trouble.
"""

from __future__ import annotations

import json
import re

import pytest

from newscrawler.changes import diff_paragraphs
from newscrawler.extraction import extract_article
from tests.conftest import SHARED

CASES = SHARED / "cases"
EXTRACTION_CASES = ["C01", "C02", "C04", "C05", "C06", "C21"]


def _expected(case_id: str) -> dict:
    path = CASES / "expected.json"
    if not path.exists():
        pytest.skip(f"../shared/cases is absent: {path} not found")
    return json.loads(path.read_text(encoding="utf-8"))[case_id]["expect"]


def _extract(case_id: str, name: str | None = None):
    raw = (CASES / "inputs" / (name or f"{case_id}.html")).read_bytes()
    return extract_article(raw, f"https://news.example/{case_id.lower()}/story")


@pytest.mark.parametrize("case_id", EXTRACTION_CASES)
def test_shared_case(case_id):
    expect = _expected(case_id)
    result = _extract(case_id)
    assert result is not None
    body = result.body
    for text in expect.get("body_contains", []) + expect.get("body_contains_in_order", []):
        assert text in body, text
    for text in expect.get("body_not_contains", []):
        assert text not in body, text
    positions = [body.index(text) for text in expect.get("body_contains_in_order", [])]
    assert positions == sorted(positions)
    for text in expect.get("each_update_text_exactly_once", []):
        assert body.count(text) == 1, text
    if "title" in expect:
        assert result.headline == expect["title"]
    if "published_utc" in expect:
        assert result.date_published == expect["published_utc"]
    if "stored_body_chars_below" in expect:
        assert len(body) < expect["stored_body_chars_below"]
    if "max_consecutive_pipe_chars" in expect:
        longest = max((len(run) for run in re.findall(r"\|+", body.replace(" ", ""))), default=0)
        assert longest <= expect["max_consecutive_pipe_chars"]


def test_live_blog_second_fetch_adds_only_the_new_update():
    expect = _expected("C06")["second_fetch"]
    first, second = _extract("C06"), _extract("C06", "C06.2.html")
    blocks = [b for b in diff_paragraphs(first.body, second.body) if b["op"] != "equal"]
    assert [b["op"] for b in blocks] == ["insert", "insert"]
    added = [b["new"] for b in blocks]
    assert expect["diff_added_only"][0] in added[0] and added[1] == expect["diff_added_only"][1]


# --- variants ------------------------------------------------------------------------------------

PROSE = [
    "The regional assembly voted on Thursday to extend the ferry subsidy for another three years, "
    "after a debate that ran well past midnight.",
    "Supporters said the service is the only year-round link for the island's four thousand residents, "
    "many of whom commute to the mainland hospital.",
    "Opponents argued that the money would be better spent on a fixed bridge, which engineers have "
    "costed at roughly twice the subsidy over twenty years.",
    "The operator welcomed the decision and said it would publish a new timetable in the spring, "
    "with two extra sailings on weekdays.",
]
DE_PROSE = [
    "Der Stadtrat hat am Donnerstag beschlossen, die Fähre zur Insel weitere drei Jahre zu fördern, "
    "nach einer Debatte, die bis nach Mitternacht dauerte.",
    "Befürworter sagten, die Verbindung sei für die viertausend Bewohner der Insel die einzige, die "
    "das ganze Jahr über fahre.",
    "Gegner hielten dagegen, das Geld sei in einer festen Brücke besser angelegt, deren Kosten auf "
    "das Doppelte geschätzt werden.",
    "Der Betreiber begrüßte die Entscheidung und kündigte für das Frühjahr einen neuen Fahrplan mit "
    "zwei zusätzlichen Abfahrten an.",
]


def page(body: str, title: str = "Assembly extends ferry subsidy", lang: str = "en") -> str:
    return (f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>{title} | The Island Post'
            f'</title></head><body><nav><a href="/">Home</a> <a href="/news">News</a> <a href="/sport">Sport'
            f"</a></nav><main>{body}</main><footer>&copy; The Island Post</footer></body></html>")


def paras(texts: list[str]) -> str:
    return "".join(f"<p>{t}</p>" for t in texts)


PROMO_EN = ('<div class="nl-box"><h3>Get our morning briefing</h3><p>Sign up for the free daily newsletter and '
            "receive the five stories that matter in your inbox every weekday, with the weather and events."
            '</p><form action="/join"><input type="email" name="e"><button>Subscribe</button></form>'
            "<p>You can unsubscribe at any time with the link in every e-mail we send you.</p></div>")
PROMO_DE = ('<section class="x9"><h4>Der Morgen-Newsletter</h4><p>Jeden Morgen die wichtigsten Nachrichten aus '
            "der Region direkt in Ihr Postfach, kostenlos und jederzeit abbestellbar, mit Wetter und Terminen."
            '</p><form><input name="email_address" placeholder="Ihre E-Mail"><button>Jetzt abonnieren</button>'
            "</form><p>Mit der Anmeldung akzeptieren Sie unsere Datenschutzbestimmungen.</p></section>")


@pytest.mark.parametrize("layout", ["promo_in_article_body_elsewhere", "promo_after_body", "promo_inside_body"])
@pytest.mark.parametrize("lang", ["en", "de"])
def test_promo_box_of_any_size_is_dropped(layout, lang):
    prose, promo = (PROSE, PROMO_EN) if lang == "en" else (DE_PROSE, PROMO_DE)
    if layout == "promo_in_article_body_elsewhere":  # C01's shape: <article> holds only the promo
        body = (f'<article><h1>Assembly extends ferry subsidy</h1><div class="by">By Staff</div>{promo}</article>'
                f'<div class="q7">{paras(prose)}</div>')
    elif layout == "promo_after_body":
        body = f'<article><h1>Assembly extends ferry subsidy</h1><div class="q7">{paras(prose)}</div>{promo}</article>'
    else:  # a form inside the body's own container, between its paragraphs
        body = (f'<article><h1>Assembly extends ferry subsidy</h1><div class="q7">{paras(prose[:2])}{promo}'
                f"{paras(prose[2:])}</div></article>")
    result = extract_article(page(body, lang=lang), "https://islandpost.example/news/ferry")
    assert result is not None
    assert result.body.split("\n\n") == prose
    assert "unsubscribe" not in result.body and "Postfach" not in result.body


@pytest.mark.parametrize("seed", range(12))
def test_a_short_sign_up_box_between_paragraphs_takes_only_itself(seed):
    """A sign-up form with a one-line pitch and no heading, anywhere among the body's paragraphs,
    in any wrapper: the box goes, every paragraph of the article stays (it once took the whole
    body with it, leaving the page's navigation as the article)."""
    from tests.mutations import CHURN
    from tests.site import load_fixture_pages

    for page in (c for c in load_fixture_pages() if c["expected"].get("is_article", True)):
        clean = extract_article(page["html"], page["expected"]["url"]).body
        pair = CHURN["newsletter"](page["html"], clean, seed)
        if pair is None:
            continue
        for html in pair:
            result = extract_article(html, page["expected"]["url"])
            assert result is not None and result.body == clean, (page["name"], seed)


@pytest.mark.parametrize("label", ["Advertisement", "ADVERTISEMENT", "- Advertisement -", "Anzeige", "Реклама",
                                   "Publicité", "Story continues below advertisement"])
def test_ad_labels_between_body_parts_are_dropped(label):
    part = '<div class="body-part"><div class="inner">{}</div></div>'
    body = (f"<article><h1>Assembly extends ferry subsidy</h1>{part.format(paras(PROSE[:2]))}"
            f'<div class="ad-unit"><p class="label">{label}</p></div>{part.format(paras(PROSE[2:]))}</article>')
    result = extract_article(page(body), "https://islandpost.example/news/ferry")
    assert result.body.split("\n\n") == PROSE


def test_a_paragraph_that_mentions_advertisement_is_kept():
    text = "Advertisement revenue fell by a third, the company said in its annual report on Monday."
    body = f"<article><h1>Assembly extends ferry subsidy</h1>{paras(PROSE[:2] + [text] + PROSE[2:])}</article>"
    result = extract_article(page(body), "https://islandpost.example/news/ferry")
    assert text in result.body.split("\n\n")


@pytest.mark.parametrize("markup", [
    '<div class="more"><h3>{head}</h3>{cards}</div>',
    '<aside><h2>{head}</h2><ul>{items}</ul></aside>',
    '<section class="teasers"><h2>{head}</h2>{articles}</section>',
])
@pytest.mark.parametrize("head", ["Latest News", "À lire aussi", "Mehr zum Thema"])
@pytest.mark.parametrize("position", ["after", "before"])
def test_teaser_cards_are_dropped(markup, head, position):
    teasers = [("Port workers vote to accept pay offer", "Union members backed the two-year deal by a narrow margin."),
               ("Bakery chain to open five new shops", "The expansion will create around sixty jobs in the valley."),
               ("Airport adds summer route to the islands", "Flights will run twice a week from late May.")]
    cards = "".join(f'<div class="card"><a href="/b/{i}"><h4>{h}</h4></a><p>{b}</p></div>'
                    for i, (h, b) in enumerate(teasers))
    items = "".join(f'<li><h3><a href="/b/{i}">{h}</a></h3><span>{b}</span></li>' for i, (h, b) in enumerate(teasers))
    articles = "".join(f'<article class="teaser"><h3><a href="/b/{i}">{h}</a></h3><p>{b}</p></article>'
                       for i, (h, b) in enumerate(teasers))
    block = markup.format(head=head, cards=cards, items=items, articles=articles)
    story = f'<div class="story-body">{paras(PROSE)}</div>'
    inner = f"{story}{block}" if position == "after" else f"{block}{story}"
    result = extract_article(page(f"<article><h1>Assembly extends ferry subsidy</h1>{inner}</article>"),
                             "https://islandpost.example/news/ferry")
    assert result.body.split("\n\n") == PROSE


def _live_page(updates: list[tuple[str, str, str]], tag: str = "article", lang: str = "en") -> str:
    entries = "".join(f'<{tag} class="entry"><time datetime="2024-04-21T{t}:00+01:00">{t}</time><h3>{h}</h3>'
                      f"<p>{p}</p></{tag}>" for t, h, p in updates)
    body = (f"<h1>Live: election night</h1><p>Follow our live coverage of the count as results come in from all "
            f"twelve districts tonight.</p><div class=\"feed\">{entries}</div><button>Load more</button>")
    return page(body, title="Live: election night", lang=lang)


UPDATES = [
    ("23:40", "Turnout up on last time", "Officials say turnout reached 64 per cent, four points above the last vote."),
    ("22:15", "First result declared", "The northern district was the first to declare, shortly after ten o'clock."),
    ("21:05", "Polls have closed", "Counting has begun in all twelve districts, with first results expected soon."),
]


@pytest.mark.parametrize("tag", ["article", "div", "li"])
@pytest.mark.parametrize("order", ["newest_first", "oldest_first"])
def test_live_blog_updates_in_page_order_with_heading_and_time(tag, order):
    updates = UPDATES if order == "newest_first" else UPDATES[::-1]
    result = extract_article(_live_page(updates, tag), "https://islandpost.example/live/election")
    expected = ["Follow our live coverage of the count as results come in from all twelve districts tonight."]
    for stamp, heading, text in updates:
        expected += [f"{stamp} {heading}", text]
    assert result.body.split("\n\n") == expected


def test_live_blog_new_update_is_one_added_block():
    old = extract_article(_live_page(UPDATES[1:]), "https://islandpost.example/live/election")
    new = extract_article(_live_page(UPDATES), "https://islandpost.example/live/election")
    changed = [b for b in diff_paragraphs(old.body, new.body) if b["op"] != "equal"]
    assert [(b["op"], b["new"]) for b in changed] == [("insert", "23:40 Turnout up on last time"),
                                                      ("insert", UPDATES[0][2])]


def test_teaser_list_with_dates_is_not_a_live_blog():
    cards = "".join(f'<div class="c"><a href="/s/{i}"><time datetime="2024-01-0{i + 1}">Jan {i + 1}</time>'
                    f"<h4>Other story number {i}</h4></a></div>" for i in range(4))
    body = f"<article><h1>Assembly extends ferry subsidy</h1>{paras(PROSE)}<div class=\"more\">{cards}</div></article>"
    result = extract_article(page(body), "https://islandpost.example/news/ferry")
    assert result.body.split("\n\n") == PROSE


# --- text as written ----------------------------------------------------------------------------------

@pytest.mark.parametrize("markup, expected", [
    ('the harbour <a href="/hb">board</a>, which met', "the harbour board, which met"),
    ('a councillor (<a href="/p/1">profile</a>) said', "a councillor (profile) said"),
    ("as it did last <em>year</em>.", "as it did last year."),
    ("the <b>Harbour</b><i>Master</i>'s office", "the HarbourMaster's office"),
    ('«<a href="/q">quoted</a>» she said', "«quoted» she said"),
    ("東京都の<a href=\"/t\">知事</a>は、", "東京都の知事は、"),
    ("first line<br>second line", "first line second line"),
])
def test_inline_markup_adds_no_spaces(markup, expected):
    sentence = f"In the report, {markup} and the rest of this sentence runs on long enough to be prose."
    body = (f"<article><h1>Assembly extends ferry subsidy</h1>{paras(PROSE[:2])}<p>{sentence}</p>"
            f"{paras(PROSE[2:])}</article>")
    result = extract_article(page(body), "https://islandpost.example/news/ferry")
    assert f"In the report, {expected} and the rest" in result.body


def test_table_rows_are_readable_without_separator_runs():
    rows = "".join(f"<tr><td>{a}</td><td></td><td>{b}</td><td colspan=\"40\"></td></tr>"
                   for a, b in [("High street", "£2.50"), ("Station car park", "£1.80")])
    table = f'<table><tr><th colspan="9007199254740991">Charges</th></tr>{rows}</table>'
    body = f"<article><h1>Assembly extends ferry subsidy</h1>{paras(PROSE[:2])}{table}{paras(PROSE[2:])}</article>"
    result = extract_article(page(body), "https://islandpost.example/news/ferry")
    assert "High street | £2.50" in result.body.split("\n\n")
    assert "| |" not in result.body and "||" not in result.body


@pytest.mark.parametrize("cls", ["meta", "story-meta", "timestamp", "byline", "article-info", "info", "date", "note"])
@pytest.mark.parametrize("position", [1, 2, 3])
def test_a_paragraph_among_the_body_is_kept_whatever_its_class(cls, position):
    """trafilatura discards elements by class name (meta, timestamp, byline, ...); a sentence
    added among the article's paragraphs in such markup must still reach the body, or the edit
    that added it is never compared."""
    added = "Editor's note: an earlier version of this story gave the wrong date for the vote."
    texts = [*PROSE[:position], added, *PROSE[position:]]
    body = "".join(f'<p class="{cls}">{t}</p>' if t == added else f"<p>{t}</p>" for t in texts)
    result = extract_article(page(f"<article><h1>Assembly extends ferry subsidy</h1><div>{body}</div></article>"),
                             "https://islandpost.example/news/ferry")
    assert result is not None and result.body.split("\n\n") == texts
