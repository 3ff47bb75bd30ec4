"""Churn and edits applied to real article pages, for change-detection tests and the benchmark.

Each kind is a function ``(html, body, seed) -> (round_1_html, round_2_html) | None``: ``body`` is the
article body the archive extracted from ``html`` (paragraphs split by a blank line), ``seed`` makes the
random parts differ between pages and rounds. Churn kinds change what a reader does not count as the
article (a new version there is a false version); edit kinds make one editorial change (anything but
exactly one new version is a missed or doubled edit). ``None``: the page offers no place for the kind.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable

import lxml.html

from newscrawler.changes import normalize_text

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


# --- churn: must not make a version --------------------------------------------------------------

def clock(html, body, seed):
    """'Updated N hours ago' just above the first paragraph, and a clock line in the header."""
    def make(rng):
        return (f'<div class="meta"><p class="ago">Updated {rng.randint(2, 23)} hours ago</p>'
                f'<p class="clock">{rng.randint(10, 12)}:{rng.randint(10, 59)} GMT</p></div>')
    return _pair(make, html, body, seed, 0)


def read_more(html, body, seed):
    """A 'READ MORE: <link to another story>' paragraph inside the body; the story linked rotates."""
    def make(rng):
        n = rng.randint(1000, 9999)
        return (f'<p><strong>READ MORE:</strong> <a href="/news/story-{n}.html">Council unveils plan '
                f'number {n} for the riverside district</a></p>')
    return _pair(make, html, body, seed, 2)


def newsletter(html, body, seed):
    """A newsletter sign-up box inside the article; its pitch changes between captures."""
    def make(rng):
        pitch = rng.choice(["Get the morning briefing in your inbox every weekday.",
                            "Sign up for our free evening newsletter and never miss a story.",
                            "Join 200,000 readers who get our daily digest by email."])
        return (f'<div class="newsletter-signup promo"><p>{pitch}</p><form action="/subscribe">'
                '<input type="email" name="email" placeholder="Your email"><button>Sign up</button></form></div>')
    return _pair(make, html, body, seed, 3)


def ad_slot(html, body, seed):
    """An ad slot between paragraphs: 'Advertisement' and sponsor text that changes."""
    def make(rng):
        sponsor = rng.choice(["Acme Bank: loans from 2.9% APR", "Globex Travel: Lisbon from 49 euros",
                              "Initech Cloud: first month free"])
        return (f'<div class="ad-slot" data-slot="{rng.randint(1, 99)}"><span class="ad-label">Advertisement</span>'
                f'<a href="https://ads.example/click?id={rng.randint(1, 10**6)}" rel="sponsored">{sponsor}</a></div>')
    return _pair(make, html, body, seed, 2)


def counters(html, body, seed):
    """View, share and comment counters near the top of the article."""
    def make(rng):
        return (f'<div class="counters"><p class="views">{rng.randint(1000, 99999):,} views</p>'
                f'<p class="comments">Comments ({rng.randint(1, 400)})</p></div>')
    return _pair(make, html, body, seed, 1)


def most_read(html, body, seed):
    """A rotating most-read list inside the article and a related-links list after it."""
    def make(rng):
        stories = rng.sample(["Mayor resigns after vote", "Storm closes coastal road", "New bridge opens",
                              "Schools to get new heating", "Rail strike called off", "Museum wins award"], 4)
        items = "".join(f'<li><a href="/news/{i}.html">{s}</a></li>' for i, s in enumerate(stories))
        return f'<aside class="most-read"><h3>Most read</h3><ol>{items}</ol></aside>'
    first = _pair(make, html, body, seed, 4)
    if first is None:
        return None
    return tuple(_insert(page, body, -1, make(random.Random(seed + k)).replace("most-read", "related"))
                 for k, page in enumerate(first))


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
    """Markup-only changes: class names, attribute order, whitespace and no-break spaces."""
    tree = _tree(html)
    found = anchors(tree, body)
    if len(found) < 2:
        return None
    first = _html(tree)
    for n, p in enumerate(found):
        p.set("class", f"para-{seed % 97}-{n} text")
        p.attrib["data-x"] = "1"
        if p.text and " " in p.text.strip():
            p.text = p.text.replace(" ", "\u00a0", 1)
        p.tail = "\n\n   " + (p.tail or "")
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
    """One word changed in one paragraph."""
    def change(text):
        words = [m for m in re.finditer(r"\b[a-z]{5,}\b", text)]
        if not words:
            return None
        m = words[seed % len(words)]
        return text[:m.start()] + m.group(0)[::-1] + text[m.end():]
    return _edit_anchor(html, body, change)


def number(html, body, seed):
    """One number changed (a toll, an amount, a date)."""
    def change(text):
        m = re.search(r"\d+", text)
        return None if m is None else text[:m.start()] + str(int(m.group(0)) + 1 + seed % 7) + text[m.end():]
    return _edit_anchor(html, body, change, pick=0)


def paragraph_added(html, body, seed):
    """A new paragraph in the middle of the story."""
    text = (f"The agency said on Tuesday that a further {seed % 90 + 10} inspections were planned "
            f"before the end of the year, reference {seed}.")
    changed = _insert(html, body, 2, f"<p>{text}</p>")
    return None if changed is None else (html, changed)


def paragraph_removed(html, body, seed):
    """One paragraph removed (not the first)."""
    tree = _tree(html)
    found = anchors(tree, body)
    if len(found) < 4:
        return None
    target = found[2]
    target.getparent().remove(target) if target.tail is None else target.drop_tree()
    return html, _html(tree)


def paragraph_moved(html, body, seed):
    """One paragraph moved further down the story."""
    tree = _tree(html)
    found = anchors(tree, body)
    if len(found) < 4 or found[1].text_content() == found[-1].text_content():
        return None
    moving = found[1]
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


def headline(html, body, seed):
    """The headline rewritten everywhere the page states it (h1, title, og:title, JSON-LD)."""
    tree = _tree(html)
    h1 = next(iter(tree.iter("h1")), None)
    if h1 is None or not h1.text_content().strip():
        return None
    old = normalize_text(h1.text_content())
    new = f"{old} as officials respond"
    for element in list(h1):
        h1.remove(element)
    h1.text = new
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


def correction(html, body, seed):
    """A correction note appended after the last paragraph."""
    text = (f"Correction: An earlier version of this article misstated the number of people at the "
            f"meeting. It was {seed % 80 + 20}, not {seed % 80 + 30}.")
    changed = _insert(html, body, -1, f'<p class="correction">{text}</p>')
    return None if changed is None else (html, changed)


CHURN: dict[str, Mutation] = {"clock": clock, "read_more": read_more, "newsletter": newsletter,
                              "ad_slot": ad_slot, "counters": counters, "most_read": most_read,
                              "tokens": tokens, "markup": markup}
EDITS: dict[str, Mutation] = {"word": word, "number": number, "paragraph_added": paragraph_added,
                              "paragraph_removed": paragraph_removed, "paragraph_moved": paragraph_moved,
                              "headline": headline, "correction": correction}
