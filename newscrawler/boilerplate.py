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
#: Before the module is found, never into an element with this many prose paragraphs beside the
#: box when it has a heading of its own (a promo's heading, pitch and fine print), or two when it
#: has none: a short pitch (no heading, under 100 characters) between an article's paragraphs.
_MODULE_PARAGRAPHS = 5
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
            prose = _prose_outside(parent, box)
            if in_module and prose:
                break
            if not in_module and prose >= (_MODULE_PARAGRAPHS if _heading_outside(parent, box) else 2):
                break  # the form sits among an article's paragraphs: its own box only
            box = parent
        _drop(box)
        removed += 1
    return removed


#: Block elements that can carry a paragraph of the article's text.
_TEXT_BLOCKS = ("p", "div", "li", "ul", "ol", "blockquote", "table", "section", "aside", "figure")


def unmark_prose_among_paragraphs(tree: lxml.html.HtmlElement) -> int:
    """Drop ``class`` and ``id`` from prose blocks that sit among the article's own paragraphs.

    trafilatura discards any element whose class names a page part (``meta``, ``info``,
    ``timestamp``, ``byline``, ... : ``trafilatura.xpaths.OVERALL_DISCARD_XPATH``) whatever it
    holds, so a paragraph added to a story in such markup was never compared: an edit hidden. A
    block whose text is prose (a sentence of 40 characters or more) and whose parent holds two or
    more other prose ``<p>`` elements is part of the text; its markup names are removed (with its
    descendants'), so trafilatura judges it by its text. Datelines and counters that this keeps
    are left out of the comparison by :func:`newscrawler.churn.churn_kind`; ad labels are not
    prose. Returns how many blocks were unmarked.
    """
    unmarked = 0
    for element in tree.iter(*_TEXT_BLOCKS):
        if not (element.get("class") or element.get("id")) or element.tag in _STOP:
            continue
        parent = element.getparent()
        if parent is None or not _PROSE.search(normalize_text(element.text_content())):
            continue
        siblings = sum(1 for p in parent if p is not element and p.tag == "p"
                       and _PROSE.search(normalize_text(p.text_content())))
        if siblings < 2:
            continue
        for node in element.iter():
            node.attrib.pop("class", None)
            node.attrib.pop("id", None)
        unmarked += 1
    return unmarked


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


def _heading_outside(parent: lxml.etree._Element, box: lxml.etree._Element) -> bool:
    return any(h is not box and not any(a is box for a in h.iterancestors())
               for h in parent.iter(*_HEADINGS))


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


#: Embedded social posts as their platforms' embed codes write them (Twitter/X, Instagram, Facebook,
#: TikTok, Threads, Bluesky, Mastodon; source: each platform's published embed snippet): a
#: blockquote with one of these classes, or one citing a post on one of these hosts.
SOCIAL_CLASSES = ("twitter-tweet", "twitter-video", "instagram-media", "fb-xfbml-parse-ignore", "fb-post",
                  "tiktok-embed", "text-post-media", "bluesky-embed", "mastodon-embed", "reddit-embed-bq")
_SOCIAL_HOSTS = re.compile(r"^https?://(?:[\w-]+\.)*(?:twitter\.com|x\.com|instagram\.com|facebook\.com|"
                           r"tiktok\.com|threads\.net|bsky\.app|reddit\.com)/", re.I)


def keep_social_posts(tree: lxml.html.HtmlElement) -> int:
    """Make embedded social posts that an article quotes plain quotations, so their text is kept.

    Each embed's blockquote (:data:`SOCIAL_CLASSES`, or a ``cite`` on a social host) loses its
    class, and a wrapper around it that holds nothing else (a ``<figure>`` or ``<div>`` with the
    embed's iframe and script) is replaced by the blockquote itself: extractors drop figures and
    elements classed "embed" or "social" as page furniture. The script and iframe go. Returns the
    number of posts kept.
    """
    count = 0
    for quote in list(tree.iter("blockquote")):
        classes = set((quote.get("class") or "").split())
        if not (classes & set(SOCIAL_CLASSES) or _SOCIAL_HOSTS.match(quote.get("cite") or "")
                or quote.get("data-instgrm-permalink")):
            continue
        if not normalize_text(quote.text_content()):
            continue
        for attribute in ("class", "id", "style", "data-instgrm-permalink"):
            quote.attrib.pop(attribute, None)
        for element in quote.xpath(".//script | .//iframe | .//style"):
            _drop(element)
        wrapper = quote.getparent()
        while wrapper is not None and wrapper.tag in ("figure", "div", "span", "aside", "section") \
                and wrapper.getparent() is not None \
                and _visible_text(wrapper) == _visible_text(quote):
            outer = wrapper.getparent()
            quote.tail = wrapper.tail
            outer.replace(wrapper, quote)
            wrapper = outer
        count += 1
    return count


def _visible_text(element: lxml.etree._Element) -> str:
    """The normalised text of ``element`` without that of its scripts and styles."""
    return normalize_text("".join(element.xpath(".//text()[not(ancestor::script) and not(ancestor::style)]")))


# HTML elements that start a block of their own; text beside them in the same parent is "loose".
_BLOCK_HTML = frozenset({
    "p", "div", "section", "article", "main", "header", "footer", "aside", "nav", "figure", "form",
    "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "dl", "li", "table", "blockquote", "pre", "hr",
    "details", "fieldset", "address", "center", "noscript", "iframe", "video", "audio", "canvas",
})
_NOT_TEXT = frozenset({"script", "style", "template", "svg", "button", "select", "input", "textarea"})
_CONTAINERS = ("div", "section", "article", "main", "blockquote", "td", "th", "li", "dd")


def wrap_loose_text(tree: lxml.html.HtmlElement) -> int:
    """Put each run of loose text (text and inline elements standing beside blocks in one parent)
    into a paragraph of its own, so that a sentence with a link in it stays one paragraph.

    ``<div><p>Intro.</p>Posted by <a>Harbour Watch</a> on Monday.</div>``: trafilatura reads the
    loose text and the link as separate pieces and stores "Posted by" and "Harbour Watch on
    Monday." as two paragraphs; after this they are one ``<p>``. Only runs that hold both loose
    text and an inline element with text are wrapped (a run of plain text, or a lone ``<span>``
    caption beside an image, is read whole already). Returns the number of paragraphs made.
    """
    made = 0
    for element in list(tree.iter(*_CONTAINERS)):
        children = list(element)
        if not any(isinstance(c.tag, str) and c.tag in _BLOCK_HTML for c in children):
            continue
        if not ((element.text and element.text.strip()) or any(
                (c.tail and c.tail.strip()) or (isinstance(c.tag, str) and c.tag not in _BLOCK_HTML
                                                and c.tag not in _NOT_TEXT and c.text_content().strip())
                for c in children)):
            continue
        # The parent's content as a sequence of strings and elements, tails detached.
        items: list = [element.text or ""]
        for child in children:
            tail, child.tail = child.tail, None
            items += [child, tail or ""]
        element.text = None
        for child in children:
            element.remove(child)
        run: list = []
        for item in items:
            if isinstance(item, str) or not isinstance(item.tag, str) or item.tag not in _BLOCK_HTML:
                run.append(item)
            else:
                made += _flush_run(element, run)
                run = []
                element.append(item)
        made += _flush_run(element, run)
    return made


def _flush_run(parent: lxml.etree._Element, run: list) -> int:
    """Append a run of loose content to ``parent``: as one new ``<p>`` when it holds both loose
    text and an inline element with text (returns 1), else as it was (returns 0)."""
    loose = any(isinstance(i, str) and i.strip() for i in run)
    inline = any(not isinstance(i, str) and isinstance(i.tag, str) and i.tag not in _NOT_TEXT
                 and i.text_content().strip() for i in run)
    if loose and inline:  # only text beside inline markup is split apart by extractors
        paragraph = lxml.html.Element("p")
        _append_all(paragraph, run)
        parent.append(paragraph)
        return 1
    _append_all(parent, run)
    return 0


def _append_all(parent: lxml.etree._Element, items: list) -> None:
    """Append strings and elements to ``parent`` in order (strings as text or tails)."""
    for item in items:
        if isinstance(item, str):
            if not item:
                continue
            last = parent[-1] if len(parent) else None
            if last is None:
                parent.text = (parent.text or "") + item
            else:
                last.tail = (last.tail or "") + item
        else:
            parent.append(item)
