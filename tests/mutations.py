"""Churn and edits applied to real article pages, for change-detection tests and the benchmark.

Each kind is a function ``(html, body, seed) -> (round_1_html, round_2_html) | None``: ``body`` is the
article body the archive extracted from ``html`` (paragraphs split by a blank line), ``seed`` draws the
variant: wording and language (tests/variants.py), position (top, middle, end of the story) and markup
(paragraph, div, span, list item, table cell, quote). Churn kinds change what a reader does not count
as the article (a new version there is a false version); edit kinds make one editorial change (anything
but exactly one new version is a missed or doubled edit). ``None``: the page offers no place for the kind.
Site-wide kinds (SITEWIDE) change many articles of one site at once: ``(pages, seed) -> [(round_1,
round_2, versions expected), ...]`` for ``pages`` a list of ``(html, body)``.
"""

from __future__ import annotations

import html as html_lib
import json
import random
import re
from collections.abc import Callable

import lxml.html

from newscrawler.changes import normalize_text
from tests import variants

Mutation = Callable[[str, str, int], "tuple[str, str] | None"]


def _tree(html: str) -> lxml.html.HtmlElement:
    return lxml.html.fromstring(html)


def _html(tree: lxml.html.HtmlElement) -> str:
    return lxml.html.tostring(tree, encoding="unicode", doctype="<!DOCTYPE html>")


def anchors(tree: lxml.html.HtmlElement, body: str) -> list[lxml.html.HtmlElement]:
    """The <p> elements whose text is a paragraph of the extracted body, in document order."""
    wanted = set(body.split("\n\n"))
    return [p for p in tree.iter("p") if normalize_text(p.text_content()) in wanted]


def _fragment(markup: str) -> lxml.html.HtmlElement:
    return lxml.html.fragment_fromstring(markup)


def _insert(html: str, body: str, position: int, markup: str) -> str | None:
    """``markup`` inserted before the anchor paragraph at ``position`` (negative: after the last)."""
    tree = _tree(html)
    found = anchors(tree, body)
    if len(found) < 3:
        return None
    element = _fragment(markup)
    if position < 0:
        found[-1].addnext(element)
    else:
        found[min(position, len(found) - 1)].addprevious(element)
    return _html(tree)


def _pair(make: Callable[[random.Random], str], html: str, body: str, seed: int,
          position: int) -> tuple[str, str] | None:
    first = _insert(html, body, position, make(random.Random(seed)))
    second = _insert(html, body, position, make(random.Random(seed + 1_000_003)))
    return None if first is None or second is None else (first, second)



#: Markup a line or note can come in; ``{text}`` is escaped text.
MARKUPS = {
    "p": '<p class="{cls}">{text}</p>',
    "div": '<div class="{cls}">{text}</div>',
    "span": '<span class="{cls}">{text}</span>',
    "li": '<ul class="{cls}"><li>{text}</li></ul>',
    "td": '<table class="{cls}"><tr><td>{text}</td></tr></table>',
}
#: Markup an editorial note comes in (a quote or emphasis as well; never a bare span: text outside any
#: block is not a paragraph of its own in every extractor).
NOTE_MARKUPS = {
    "p": '<p class="{cls}">{text}</p>',
    "div": '<div class="{cls}">{text}</div>',
    "em": '<p class="{cls}"><em>{text}</em></p>',
    "strong": '<p class="{cls}"><strong>{text}</strong></p>',
    "li": '<ul class="{cls}"><li>{text}</li></ul>',
    "blockquote": '<blockquote class="{cls}"><p>{text}</p></blockquote>',
}
_CLASSES = ["meta", "byline", "timestamp", "article-info", "story-meta", "info", "date", "stats", "note", "x1"]


def _markup(rng: random.Random, text: str, choices: dict[str, str]) -> str:
    template = choices[rng.choice(sorted(choices))]
    return template.format(cls=rng.choice(_CLASSES), text=html_lib.escape(text, quote=False))


def _position(rng: random.Random) -> int:
    """Top (before the first paragraph), middle, or end (after the last: -1)."""
    return rng.choice([0, 1, 2, 3, -1])


def _changing_line(maker, html: str, body: str, seed: int) -> tuple[str, str] | None:
    """A line of ``maker``'s structure placed by ``seed``; its values differ between the two rounds."""
    rng = random.Random(seed)
    make = maker(rng)
    template = rng.choice(sorted(MARKUPS))
    cls = rng.choice(_CLASSES)
    position = _position(rng)
    texts = [make(random.Random(seed * 2 + k)) for k in (1, 2)]
    pages = [_insert(html, body, position, MARKUPS[template].format(cls=cls, text=html_lib.escape(t, quote=False)))
             for t in texts]
    return None if None in pages else (pages[0], pages[1])


# --- churn: must not make a version --------------------------------------------------------------

def dateline(html, body, seed):
    """A dateline that moves: dates, clocks, zones, relative and reading times, a byline, in seven
    languages and any order (tests/variants.py), as a paragraph, div, span, list item or table cell."""
    return _changing_line(variants.dateline_maker, html, body, seed)


def counters(html, body, seed):
    """View, share and comment counters in seven languages, one or two a line."""
    return _changing_line(variants.counter_maker, html, body, seed)


_READ_MORE = ["READ MORE:", "Read more:", "Related:", "See also:", "Lesen Sie auch:", "Mehr zum Thema:",
              "À lire aussi :", "Voir aussi :", "Lee también:", "Más información:", "Leggi anche:",
              "Potrebbe interessarti:", "Leia também:", "Saiba mais:", "Читайте также:", "По теме:",
              "ALSO READ:", "Don't miss:", "Auch interessant:", "À voir :"]


def read_more(html, body, seed):
    """A 'READ MORE: <link to another story>' line inside the body (20 labels); the story linked rotates."""
    rng = random.Random(seed)
    label, position = rng.choice(_READ_MORE), _position(rng)
    strong = rng.random() < 0.5

    def make(values):
        n = values.randint(1000, 9999)
        title = variants.new_sentence(values).rstrip(".")[:70]
        lead = f"<strong>{label}</strong>" if strong else label
        return f'<p>{lead} <a href="/news/story-{n}.html">{html_lib.escape(title)}</a></p>'
    first = _insert(html, body, position, make(random.Random(seed + 1)))
    second = _insert(html, body, position, make(random.Random(seed + 2)))
    return None if first is None or second is None else (first, second)


_PITCHES = [
    "Get the morning briefing in your inbox every weekday.", "Sign up for our free evening newsletter.",
    "Join 200,000 readers who get our daily digest by email.", "Never miss a story: subscribe to our newsletter.",
    "Melden Sie sich für unseren Newsletter an.", "Die wichtigsten Nachrichten jeden Morgen per E-Mail.",
    "Inscrivez-vous à notre newsletter quotidienne.", "Recevez l'essentiel de l'actualité chaque matin.",
    "Suscríbase a nuestro boletín diario.", "Recibe las noticias más importantes en tu correo.",
    "Iscriviti alla nostra newsletter gratuita.", "Le notizie del giorno nella tua casella di posta.",
    "Assine a nossa newsletter diária.", "Receba as principais notícias no seu e-mail.",
    "Подпишитесь на нашу рассылку.", "Главные новости дня — на вашу почту.",
    "Want more stories like this? Sign up here.", "Our politics newsletter, every Friday.",
    "Breaking news alerts, straight to your inbox.", "The weekend read: sign up free.",
]


def newsletter(html, body, seed):
    """A newsletter sign-up box inside the article; its pitch (20, seven languages) changes."""
    rng = random.Random(seed)
    position, tag = _position(rng), rng.choice(["div", "section", "aside"])

    def make(values):
        return (f'<{tag} class="newsletter-signup promo"><p>{values.choice(_PITCHES)}</p><form action="/subscribe">'
                f'<input type="email" name="email" placeholder="Email"><button>OK</button></form></{tag}>')
    first = _insert(html, body, position, make(random.Random(seed + 1)))
    second = _insert(html, body, position, make(random.Random(seed + 2)))
    return None if first is None or second is None else (first, second)


_AD_LABELS = ["Advertisement", "ADVERTISEMENT", "Sponsored", "Anzeige", "Werbung", "Publicité", "Publicidad",
              "Pubblicità", "Publicidade", "Реклама", "Ad", "Promoted", "Paid content", "Partner content",
              "Annonce", "Patrocinado", "Sponsorizzato", "Спонсор", "Advertisement - scroll to continue",
              "Story continues below"]
_SPONSORS = ["Acme Bank: loans from 2.9% APR", "Globex Travel: Lisbon from 49 euros", "Initech Cloud: first month free",
             "Umbrella Insurance: compare quotes", "Hooli Phones: trade in today", "Stark Energy: fix your rate"]


def ad_slot(html, body, seed):
    """An ad slot between paragraphs: a label (20, seven languages) and sponsor text that changes."""
    rng = random.Random(seed)
    label, position = rng.choice(_AD_LABELS), _position(rng)

    def make(values):
        return (f'<div class="ad-slot" data-slot="{values.randint(1, 99)}"><span class="ad-label">{label}</span>'
                f'<a href="https://ads.example/click?id={values.randint(1, 10**6)}" rel="sponsored">'
                f'{values.choice(_SPONSORS)}</a></div>')
    first = _insert(html, body, position, make(random.Random(seed + 1)))
    second = _insert(html, body, position, make(random.Random(seed + 2)))
    return None if first is None or second is None else (first, second)


_MOST_READ = ["Most read", "Most popular", "Trending", "Meistgelesen", "Beliebt", "Les plus lus", "Populaires",
              "Lo más leído", "Más visto", "I più letti", "Più popolari", "Mais lidas", "Populares",
              "Самое читаемое", "Популярное", "Top stories", "Don't miss", "Empfohlen", "À la une", "Tendencias"]


def most_read(html, body, seed):
    """A rotating most-read list (20 headings, seven languages) inside the article and a related list after."""
    rng = random.Random(seed)
    heading, position = rng.choice(_MOST_READ), _position(rng)

    def make(values, cls):
        stories = [variants.new_sentence(values).rstrip(".")[:60] for _ in range(4)]
        items = "".join(f'<li><a href="/news/{i}.html">{html_lib.escape(s)}</a></li>' for i, s in enumerate(stories))
        return f'<aside class="{cls}"><h3>{heading}</h3><ol>{items}</ol></aside>'
    pages = []
    for k in (1, 2):
        page = _insert(html, body, position, make(random.Random(seed + k), "most-read"))
        page = page and _insert(page, body, -1, make(random.Random(seed + 10 + k), "related"))
        pages.append(page)
    return None if None in pages else tuple(pages)


def tokens(html, body, seed):
    """CSRF token, script nonce, build id and cache-busting query strings that change on every load."""
    def vary(page, rng):
        token = f"{rng.getrandbits(128):032x}"
        extra = (f'<input type="hidden" name="csrf_token" value="{token}">'
                 f'<script nonce="{token[:16]}">window.__BUILD_ID__="{token[16:]}";</script>'
                 f'<link rel="stylesheet" href="/static/site.css?v={rng.randint(1, 10**9)}">')
        page = re.sub(r"(\.(?:css|js))(\"|')", lambda m: f"{m.group(1)}?cb={rng.randint(1, 10**9)}{m.group(2)}", page)
        return page.replace("</body>", extra + "</body>", 1) if "</body>" in page else page + extra
    return vary(html, random.Random(seed)), vary(html, random.Random(seed + 1))


def markup(html, body, seed):
    """Markup-only changes: class names, attribute order, whitespace, no-break spaces, a span around a
    word (which of them, by seed)."""
    tree = _tree(html)
    found = anchors(tree, body)
    if len(found) < 2:
        return None
    rng = random.Random(seed)
    first = _html(tree)
    changes = rng.sample(["class", "attr", "nbsp", "tail", "wrap"], rng.randint(1, 5))
    for n, p in enumerate(found):
        if "class" in changes:
            p.set("class", f"para-{seed % 97}-{n} text")
        if "attr" in changes:
            p.attrib["data-x"] = "1"
        if "nbsp" in changes and p.text and " " in p.text.strip():
            p.text = p.text.replace(" ", "\u00a0", 1)
        if "tail" in changes:
            p.tail = "\n\n   " + (p.tail or "")
        if "wrap" in changes and len(p) == 0 and p.text and " " in p.text.strip():
            head, _, rest = p.text.partition(" ")
            p.text = head + " "
            span = lxml.html.Element("span")
            span.text = rest
            p.append(span)
    return first, _html(tree)


# --- edits: must make exactly one version ---------------------------------------------------------

def _edit_anchor(html, body, change: Callable[[str], str | None], pick: int = 1):
    tree = _tree(html)
    found = anchors(tree, body)
    for p in found[pick:] + found[:pick]:
        if len(p) == 0 and p.text:  # a paragraph that is plain text
            new = change(p.text)
            if new is not None and new != p.text:
                p.text = new
                return html, _html(tree)
    return None


def word(html, body, seed):
    """One word changed in one paragraph (which word and which paragraph, by seed)."""
    def change(text):
        words = [m for m in re.finditer(r"\b[^\W\d_]{5,}\b", text)]
        if not words:
            return None
        m = words[seed % len(words)]
        return text[:m.start()] + m.group(0)[::-1] + text[m.end():]
    return _edit_anchor(html, body, change, pick=seed % 5)


def number(html, body, seed):
    """One number changed (a toll, an amount, a date)."""
    def change(text):
        found = list(re.finditer(r"\d+", text))
        if not found:
            return None
        m = found[seed % len(found)]
        return text[:m.start()] + str(int(m.group(0)) + 1 + seed % 7) + text[m.end():]
    return _edit_anchor(html, body, change, pick=seed % 3)


def paragraph_added(html, body, seed):
    """A new paragraph (12 wordings, seven languages) at the top, middle or end, in any block markup."""
    rng = random.Random(seed)
    changed = _insert(html, body, _position(rng), _markup(rng, variants.new_sentence(rng), NOTE_MARKUPS))
    return None if changed is None else (html, changed)


def paragraph_removed(html, body, seed):
    """One paragraph removed (not the first; which, by seed)."""
    tree = _tree(html)
    found = anchors(tree, body)
    if len(found) < 4:
        return None
    target = found[1 + seed % (len(found) - 1)]
    if len({normalize_text(p.text_content()) for p in found}) < len(found):
        return None
    target.getparent().remove(target) if target.tail is None else target.drop_tree()
    return html, _html(tree)


def paragraph_moved(html, body, seed):
    """One paragraph moved further down the story."""
    tree = _tree(html)
    found = anchors(tree, body)
    if len(found) < 4 or found[1].text_content() == found[-1].text_content():
        return None
    moving = found[1 + seed % 2]
    tail, moving.tail = moving.tail, None
    parent = moving.getparent()
    previous = moving.getprevious()
    parent.remove(moving)
    if tail:  # keep the text that followed it in place
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    found[-1].addnext(moving)
    return html, _html(tree)


_HEADLINE_EDITS = [
    "{old} as officials respond", "{old}, officials say", "{old} - live updates", "UPDATED: {old}",
    "{old} after public outcry", "{old}: what we know", "{old} (corrected)", "{old}, report finds",
    "{old} - und was jetzt?", "{old} : ce qu'il faut savoir", "{old}: lo que sabemos", "{old}: cosa sappiamo",
    "{old}: o que se sabe", "{old}: что известно", "Breaking: {old}", "Watch: {old}", "{old} amid protests",
    "{old} in second vote", "{old} - exclusive", "{old}, police say",
]


def _rewrite_headline(html: str, seed: int, everywhere: bool) -> tuple[str, str] | None:
    tree = _tree(html)
    h1 = next(iter(tree.iter("h1")), None)
    if h1 is None or not h1.text_content().strip():
        return None
    old = normalize_text(h1.text_content())
    new = random.Random(seed).choice(_HEADLINE_EDITS).format(old=old)
    for element in list(h1):
        h1.remove(element)
    h1.text = new
    if everywhere:
        title = next(iter(tree.iter("title")), None)
        if title is not None:
            title.text = new
        for meta in tree.iter("meta"):
            if (meta.get("property") or meta.get("name") or "").lower() in ("og:title", "twitter:title"):
                meta.set("content", new)
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        if script.text:
            script.text = re.sub(r'("headline"\s*:\s*)"[^"]*"', lambda m: m.group(1) + json.dumps(new), script.text)
    return html, _html(tree)


def headline(html, body, seed):
    """The headline rewritten everywhere the page states it (h1, title, og:title, JSON-LD; 20 rewrites)."""
    return _rewrite_headline(html, seed, everywhere=True)


def headline_visible(html, body, seed):
    """The visible headline rewritten (h1 and JSON-LD headline) while <title> and og:title stay."""
    return _rewrite_headline(html, seed, everywhere=False)


def _note(html, body, seed, make) -> tuple[str, str] | None:
    rng = random.Random(seed)
    position = rng.choice([0, -1, -1, 1])
    changed = _insert(html, body, position, _markup(rng, make(rng), NOTE_MARKUPS))
    return None if changed is None else (html, changed)


def correction(html, body, seed):
    """A correction, clarification or editor's note (23 wordings, seven languages) at the top or end."""
    return _note(html, body, seed, variants.correction_note)


def update_note(html, body, seed):
    """An update note ("Update, 17:05: officials have since ..."; 16 wordings, seven languages)."""
    return _note(html, body, seed, variants.update_note)


CHURN: dict[str, Mutation] = {"dateline": dateline, "counters": counters, "read_more": read_more,
                              "newsletter": newsletter, "ad_slot": ad_slot, "most_read": most_read,
                              "tokens": tokens, "markup": markup}
EDITS: dict[str, Mutation] = {"word": word, "number": number, "paragraph_added": paragraph_added,
                              "paragraph_removed": paragraph_removed, "paragraph_moved": paragraph_moved,
                              "headline": headline, "headline_visible": headline_visible,
                              "correction": correction, "update_note": update_note}
#: The change_kind each edit kind's version should get (issue 18 part 2); None: no marker to tell by.
EXPECTED_KIND: dict[str, str | None] = {"word": "stealth", "number": "stealth", "paragraph_added": "stealth",
                                        "paragraph_removed": "stealth", "paragraph_moved": "stealth",
                                        "headline": "headline", "headline_visible": "headline",
                                        "correction": "correction", "update_note": "update",
                                        "sitewide_note_added": None, "sitewide_note_removed": "stealth"}


# --- site-wide edits: the same note added to, or removed from, many articles of one site ----------

def sitewide_note_added(pages, seed):
    """The same correction or update note added to every article of the site in round 2."""
    rng = random.Random(seed)
    note = (variants.correction_note if rng.random() < 0.5 else variants.update_note)(rng)
    position = rng.choice([0, -1])
    markup = _markup(rng, note, NOTE_MARKUPS)
    out = []
    for html, body in pages:
        changed = _insert(html, body, position, markup)
        out.append(None if changed is None else (html, changed, 2))
    return out


def sitewide_note_removed(pages, seed):
    """A paragraph every article of the site carries (a disclaimer, "The company has denied any
    wrongdoing") removed from every other article in round 2; the rest keep it (one version each)."""
    rng = random.Random(seed)
    note = rng.choice(variants.SHARED_NOTES)
    position = rng.choice([1, -1])
    markup = _markup(rng, note, {"p": NOTE_MARKUPS["p"], "em": NOTE_MARKUPS["em"]})
    out = []
    for n, (html, body) in enumerate(pages):
        with_note = _insert(html, body, position, markup)
        out.append(None if with_note is None else (with_note, html if n % 2 else with_note, 2 if n % 2 else 1))
    return out


SITEWIDE = {"sitewide_note_added": sitewide_note_added, "sitewide_note_removed": sitewide_note_removed}
