"""Generic page rules applied to the parsed HTML before trafilatura: promo boxes, teaser lists, live blogs.

These hold on a page of a site never seen before; what one site repeats on all its pages is learnt
by :mod:`newscrawler.profiles` instead. Every function takes an ``lxml.html`` tree and never raises
on odd markup.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

import lxml.etree
import lxml.html

from newscrawler.changes import normalize_text

_HEADINGS = ("h2", "h3", "h4", "h5", "h6")
_STOP = {"article", "main", "body", "html"}
#: A promo box around an e-mail form: first the form's module (an element with a heading, or this
#: many characters of text beside the form's own), then any wrappers that add no prose of their own.
_MODULE_CHARS = 100
#: A box's parent with this many prose paragraphs outside the box is the story, not a promo module
#: (a small sign-up box placed straight among the story's paragraphs).
_STORY_PARAGRAPHS = 3
#: ... and never into an element with more text than this (characters), whatever its markup.
_PROMO_CAP_CHARS = 2500
# A paragraph of prose: a sentence end after at least 40 characters.
_PROSE = re.compile(r".{40,}[.!?\u3002\uff01\uff1f\u061f\u0964]", re.S)
#: Labels of ad slots, as the whole text of a paragraph (case folded), in the languages of the
#: corpora (English, German, French, Spanish, Italian, Portuguese, Dutch, Russian, Polish, Czech,
#: Japanese, Korean, Chinese, Arabic, Turkish).
AD_LABELS = frozenset({
    "advertisement", "advertisment", "advertising", "ad", "ads", "sponsored", "sponsored content",
    "paid content", "paid post", "promoted", "promoted content", "story continues below advertisement",
    "article continues below advertisement", "article continues below", "story continues below",
    "continue reading below", "continue reading the main story", "scroll to continue with content",
    "anzeige", "werbung", "weiter nach der anzeige", "artikel wird nach der anzeige fortgesetzt",
    "publicité", "publicite", "la suite après cette publicité", "publicidad", "anuncio",
    "pubblicità", "pubblicita", "publicidade", "advertentie", "реклама", "reklama", "reklam",
    "広告", "광고", "广告", "إعلان",
})


def prune_promo_boxes(tree: lxml.html.HtmlElement) -> int:
    """Remove sign-up and subscription boxes: the element around an e-mail form, however long.

    From each form with an e-mail input, climb to its module (the first ancestor with a heading
    ``h2``-``h6``, or 100 characters of text beside the form's), then through wrappers that add no
    prose paragraph of their own; never into ``article``/``main``/``body``, an element with an
    ``<h1>``, or one with over 2,500 characters of text. So a promo of any length goes whole,
    and a form embedded between an article's paragraphs takes only its own module.
    Returns how many boxes were removed.
    """
    removed = 0
    forms = tree.xpath('//form[.//input[@type="email" or contains(@name, "mail") or contains(@placeholder, "mail")]]')
    for form in forms:
        if form.getparent() is None or not _attached(form, tree):
            continue
        own = len(normalize_text(form.text_content()))
        box, in_module = form, False
        while True:
            if not in_module:
                in_module = (any(box.find(f".//{h}") is not None for h in _HEADINGS)
                             or len(normalize_text(box.text_content())) - own >= _MODULE_CHARS)
            parent = box.getparent()
            if (parent is None or parent.tag in _STOP or parent.find(".//h1") is not None
                    or len(normalize_text(parent.text_content())) > _PROMO_CAP_CHARS):
                break
            if in_module and _prose_outside(parent, box):
                break
            if (not in_module and not any(parent.find(f".//{h}") is not None for h in _HEADINGS)
                    and _prose_outside(parent, box) >= _STORY_PARAGRAPHS):
                break  # a bare form among a story's paragraphs: the parent is the story, not a module
            box = parent
        _drop(box)
        removed += 1
    return removed


def prune_teaser_lists(tree: lxml.html.HtmlElement) -> int:
    """Remove lists of teaser cards ("Latest News", "More from"): two or more sibling cards alike.

    A card is an element whose heading (``h2``-``h6``) is, or sits in, a link; cards are alike when
    they share tag and class under one parent. When the cards are all their container holds but
    a heading or a line, the container goes too. Returns how many cards were removed.
    """
    parents: dict[lxml.etree._Element, Counter] = {}
    cards_of: dict[lxml.etree._Element, list] = {}
    for link in tree.xpath("//a[.//h2 or .//h3 or .//h4 or .//h5 or .//h6] | //h2[a] | //h3[a] | //h4[a]"
                           " | //h5[a] | //h6[a]"):
        card = link
        while card.getparent() is not None and card.getparent().tag not in _STOP:
            parent = card.getparent()
            alike = [c for c in parent if c.tag == card.tag and c.get("class") == card.get("class")]
            if len(alike) >= 2 and all(_has_headline_link(c) for c in alike):
                parents.setdefault(parent, Counter())
                cards_of.setdefault(parent, [])
                if card not in cards_of[parent]:
                    cards_of[parent].append(card)
                break
            card = parent
            if card.tag in _STOP:
                break
    removed = 0
    for parent, cards in cards_of.items():
        if len(cards) < 2 or not _attached(parent, tree):
            continue
        rest = len(normalize_text(parent.text_content())) - sum(len(normalize_text(c.text_content())) for c in cards)
        target = [parent] if rest <= 80 and parent.tag not in _STOP else cards
        for element in target:
            _drop(element)
        removed += len(cards)
    return removed


def live_blog_updates(tree: lxml.html.HtmlElement) -> lxml.etree._Element | None:
    """The container of a live blog's updates, or ``None`` when the page is not a live blog.

    Updates are sibling elements (any tag but a link) holding a ``<time>`` element, two or more
    of them with a prose paragraph that is mostly not link text (a teaser list with dates has
    none); the container is their parent.
    """
    for time_el in tree.iter("time"):
        update = time_el.getparent()
        while update is not None and update.getparent() is not None and update.getparent().tag not in _STOP:
            parent = update.getparent()
            alike = [c for c in parent if isinstance(c.tag, str) and c.find(".//time") is not None]
            if len(alike) >= 2 and update in alike:
                return parent if sum(map(_is_update, alike)) >= 2 else None
            update = parent
    return None


def live_blog_paragraphs(tree: lxml.html.HtmlElement, feed: lxml.etree._Element) -> list[str]:
    """A live blog as paragraphs in page order: the text around the feed, then each update.

    Each update gives its heading with its time before it (``"09:42 Leaders pass the halfway
    mark"``), then its paragraphs, so a new update is new paragraphs and nothing else changes.
    The ``<h1>`` and buttons ("Load more updates") are left out.
    """
    out: list[str] = []
    holder = feed.getparent()
    for child in holder:
        if child is feed:
            for update in feed:
                if isinstance(update.tag, str) and update.find(".//time") is not None:
                    out += _update_paragraphs(update)
        else:
            out += list(_text_blocks(child))
    return [p for p in out if p]


def _is_update(element: lxml.etree._Element) -> bool:
    """A live-blog update: not a link, with a prose paragraph that is mostly not link text."""
    if element.tag == "a":
        return False
    for p in element.iter("p"):
        text = normalize_text(p.text_content())
        links = sum(len(normalize_text(a.text_content())) for a in p.iter("a"))
        if _PROSE.search(text) and links < len(text) / 2:
            return True
    return False


def _update_paragraphs(update: lxml.etree._Element) -> list[str]:
    time_el = update.find(".//time")
    stamp = normalize_text(time_el.text_content()) if time_el is not None else ""
    heading = next((update.find(f".//{h}") for h in _HEADINGS if update.find(f".//{h}") is not None), None)
    out = []
    if heading is not None:
        out.append(normalize_text(f"{stamp} {heading.text_content()}"))
    elif stamp:
        out.append(stamp)
    for child in update:  # the update's own blocks, even when the update is itself an <li>
        out += _text_blocks(child, skip={time_el, heading})
    return out


_TEXT_BLOCKS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "figcaption", "dd", "dt"}
_SKIP_TAGS = {"button", "script", "style", "noscript", "form", "nav", "time", "h1", "template", "svg"}


def _text_blocks(element: lxml.etree._Element, skip: set | None = None) -> Iterator[str]:
    """Normalised text of the text blocks in and under ``element``, in document order."""
    if not isinstance(element.tag, str) or element.tag in _SKIP_TAGS or (skip and element in skip):
        return
    if element.tag in _TEXT_BLOCKS:
        text = normalize_text(element.text_content())
        if text:
            yield text
        return
    for child in element:
        yield from _text_blocks(child, skip)


#: A byline: "By", "Von", "Par", "Por", "Di", "Door", "Av", "Af", "Od", "Przez", "Автор" before a name,
#: a short line without a sentence end. Source: the byline forms of the corpora's languages.
_BYLINE = re.compile(r"(?i)(by|von|par|por|di|door|av|af|od|przez|автор|текст)[:\s]\s*\S")


def is_byline(text: str) -> bool:
    """Whether a paragraph is only a byline ("By Staff Reporter", "Von Anna Weber · 12.3.2024")."""
    return len(text) <= 80 and bool(_BYLINE.match(text)) and not _PROSE.search(text)


def is_ad_label(text: str) -> bool:
    """Whether a paragraph is only an ad slot's label ("Advertisement", "Anzeige", "Реклама")."""
    return len(text) <= 60 and text.strip(" -–—:·*()[]").casefold() in AD_LABELS


def _prose_outside(parent: lxml.etree._Element, box: lxml.etree._Element) -> int:
    count = 0
    for p in parent.iter("p", "li", "blockquote"):
        if any(a is box for a in p.iterancestors()) or p is box:
            continue
        if _PROSE.search(normalize_text(p.text_content())):
            count += 1
    return count


def _has_headline_link(element: lxml.etree._Element) -> bool:
    return bool(element.xpath(".//a[.//h2 or .//h3 or .//h4 or .//h5 or .//h6] | .//*[self::h2 or self::h3 or "
                              "self::h4 or self::h5 or self::h6][.//a]"))


def _attached(element: lxml.etree._Element, tree: lxml.etree._Element) -> bool:
    root = tree.getroottree().getroot() if hasattr(tree, "getroottree") else tree
    return any(a is root for a in element.iterancestors()) or element is root


def _drop(element: lxml.etree._Element) -> None:
    """Remove ``element`` but keep its tail text in place."""
    parent = element.getparent()
    if parent is None:
        return
    if element.tail and element.tail.strip():
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + element.tail
        else:
            parent.text = (parent.text or "") + element.tail
    parent.remove(element)
