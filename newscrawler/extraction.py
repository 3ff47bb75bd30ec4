"""Article extraction from HTML: body text and metadata; the only module that imports trafilatura."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import lxml.etree
import lxml.html
import trafilatura
from trafilatura.utils import load_html

from newscrawler import boilerplate, notes
from newscrawler.changes import churn_kind, normalize_text
from newscrawler.charsets import decode_html
from newscrawler.dates import isoformat, parse_date

logger = logging.getLogger(__name__)
# trafilatura logs a WARNING per odd link ("empty link") and per page it gives up on: noise in a
# cron log, where our own outcomes and stats say what happened to each page.
logging.getLogger("trafilatura").setLevel(logging.ERROR)

#: Version of our own rules around trafilatura (paragraphs, link density, churn lines, pruning):
#: bump it whenever they change, so that archived versions are re-extracted before comparing.
RULES_VERSION = 4
#: Stored with each version; a capture whose extractor differs triggers the extraction-drift check.
EXTRACTOR = f"trafilatura {trafilatura.__version__} (newscrawler rules {RULES_VERSION})"

# Options for every call; deduplicate=True would keep a process-wide cache (see STYLE.md).
TRAFILATURA_OPTIONS: dict[str, Any] = {
    "with_metadata": True,
    "include_comments": False,
    "include_tables": True,
    "deduplicate": False,
    "favor_precision": False,
    "favor_recall": False,
    "include_links": True,  # kept in the body tree only, to measure link density per paragraph
}
#: Sign-up and promo boxes: a short element (under 400 characters of text) around an e-mail form.
#: Pruned before extraction, with a watched site's own prune_xpath expressions.
#: (Written from the form up: testing every element of the page for a form inside costs 1-2 ms a page.)
SIGNUP_BOX_XPATH = ('//form[.//input[@type="email" or contains(@name, "mail")]]'
                    '/ancestor::*[not(self::html or self::body)][string-length(normalize-space(.)) < 400]')
#: A paragraph whose text is at least this share of link text is a link list or a "READ MORE:" line.
LINK_DENSITY_MAX = 0.5
# trafilatura's block elements (its XML output format); anything else in a body is inline markup.
_BLOCK_TAGS = {"p", "head", "list", "item", "quote", "table", "row", "code", "div", "section", "article"}

# schema.org types whose datePublished/dateModified/author describe the article itself.
_ARTICLE_TYPES = {
    "article", "newsarticle", "reportagenewsarticle", "analysisnewsarticle", "opinionnewsarticle",
    "backgroundnewsarticle", "reviewnewsarticle", "blogposting", "liveblogposting", "webpage",
    "socialmediaposting", "scholarlyarticle", "techarticle", "report",
}
# <meta> names/properties for dates, most specific first (Open Graph, schema.org microdata, Dublin Core,
# Parse.ly and Sailthru, as listed by htmldate's date sources).
_PUBLISHED_META = (
    "article:published_time", "og:article:published_time", "datepublished", "dc.date.issued",
    "dcterms.created", "parsely-pub-date", "sailthru.date", "pubdate", "publishdate",
    "publish-date", "date",
)
_MODIFIED_META = (
    "article:modified_time", "og:updated_time", "datemodified", "dc.date.modified",
    "dcterms.modified", "last-modified", "lastmod",
)


@dataclasses.dataclass
class Extracted:
    """What extraction found in one page. Text is normalised (NFC, paragraphs split by a blank line).

    Dates are ISO 8601 strings: ``2024-05-01T12:00:00Z`` (UTC) when the page gives a time,
    ``2024-05-01`` when it gives only a day; the ``*_raw`` fields keep the string as found.
    """

    headline: str
    body: str
    authors: list[str]
    date_published: str | None
    date_published_raw: str | None
    date_modified: str | None
    date_modified_raw: str | None
    language: str | None  # ISO 639-1, lower case, e.g. "en"
    description: str | None
    site_name: str | None
    canonical_url: str | None  # absolute rel=canonical (or og:url) as the page gives it
    tags: list[str]
    image_url: str | None
    extractor: str = EXTRACTOR
    title: str | None = None  # the page's og:title or <title> (metadata; the headline is what readers see)
    corrections: list[str] = dataclasses.field(default_factory=list)  # schema.org correction texts

    def to_dict(self) -> dict[str, Any]:
        """All fields as a plain dict (lists stay lists)."""
        return {name: list(value) if isinstance(value, list) else value for name, value in vars(self).items()}


def extract_article(
    html: str | bytes,
    url: str,
    *,
    content_type: str | None = None,
    hints: dict[str, str | None] | None = None,
    default_tz: str = "UTC",
) -> Extracted | None:
    """Extract the article body and metadata from one HTML page.

    ``html`` is the page: decoded, or its raw bytes, decoded here by
    :func:`newscrawler.charsets.decode_html` with ``content_type`` (the Content-Type header as
    sent, e.g. ``text/html; charset=utf-8``); ``url`` the URL it was fetched from. ``hints`` may
    carry what discovery knew: ``title``, ``published`` and ``modified`` raw strings from a
    sitemap or syndication feed, used only when the page itself gives none, and ``prune_xpath``,
    a list of XPath expressions whose elements are removed before extraction (a watched site's
    setting). Returns ``None`` when the page has no extractable body (empty, not HTML, nothing but
    navigation); never raises on bad markup.

    :raises MemoryError: when the page does not fit in memory (ExtractPipeline records a failed
        capture).
    """
    hints = hints or {}
    if isinstance(html, bytes):
        html = decode_html(html, content_type)
    try:
        # Parsed once, by trafilatura's own parser (its settings give better bodies than lxml's
        # defaults); bare_extraction works on a copy of the tree, so ours is read first, unchanged.
        tree = load_html(html) if html else None
    except (lxml.etree.ParserError, ValueError) as exc:
        logger.debug("unparseable HTML at %s: %s", url, exc)
        return None
    if tree is None:
        return None
    own = _page_metadata(tree, url)
    _unmark_story_prose(tree)
    boilerplate.prune_promo_boxes(tree)
    boilerplate.prune_teaser_lists(tree)
    feed = boilerplate.live_blog_updates(tree)
    try:
        doc = trafilatura.bare_extraction(
            tree, url=url, prune_xpath=[SIGNUP_BOX_XPATH, *(hints.get("prune_xpath") or [])],
            **TRAFILATURA_OPTIONS)
    except MemoryError:  # not a property of the page's markup: the capture fails, with the reason
        raise
    except Exception as exc:  # trafilatura raises assorted errors on pathological trees
        logger.warning("trafilatura failed on %s: %r", url, exc)
        return None
    if doc is None or doc.body is None:
        return None
    if feed is not None:  # a live blog: its updates in page order, each with heading and time
        paragraphs = [p for p in boilerplate.live_blog_paragraphs(tree, feed)
                      if not churn_kind(p) and not boilerplate.is_ad_label(p)]
    else:
        paragraphs = body_paragraphs(doc.body)
    body = "\n\n".join(paragraphs)
    if not body:
        return None

    published_raw = own["published"] or doc.date or hints.get("published")
    modified_raw = own["modified"] or hints.get("modified")
    published = parse_date(published_raw, default_tz)
    modified = parse_date(modified_raw, default_tz)
    title = normalize_text(doc.title) or None
    headline = normalize_text(own["h1"] or own["headline"] or doc.title or hints.get("title") or "")
    body = _strip_headline(body, headline)
    return Extracted(
        headline=headline,
        body=body,
        authors=own["authors"] or _split_authors(doc.author),
        date_published=isoformat(published),
        date_published_raw=published_raw,
        date_modified=isoformat(modified),
        date_modified_raw=modified_raw,
        language=_language(doc.language or own["language"]),
        description=normalize_text(doc.description) or None,
        site_name=normalize_text(doc.sitename) or None,
        canonical_url=own["canonical"],
        tags=_tags(doc.tags) or _tags(doc.categories),
        image_url=doc.image or None,
        title=title,
        corrections=own["corrections"],
    )


def body_paragraphs(body: lxml.etree._Element) -> list[str]:
    """The article's paragraphs from trafilatura's body tree, normalised, boilerplate churn left out.

    Each block without blocks inside it (paragraph, heading, list item, table row, a quote's
    paragraph) is one paragraph; text standing between blocks is one too. Left out: paragraphs
    that are mostly link text (share >= LINK_DENSITY_MAX: "READ MORE: <link>" lines, related-story
    lists) and lines that change by themselves between captures
    (:func:`newscrawler.changes.churn_kind`: relative times, counters, bare timestamps).
    """
    paragraphs = []
    for text, link_chars in _blocks(body):
        text = normalize_text(text)
        if (text and not churn_kind(text) and link_chars / len(text) < LINK_DENSITY_MAX
                and not boilerplate.is_ad_label(text)):
            paragraphs.append(text)
    return paragraphs


def _blocks(element: lxml.etree._Element) -> Iterator[tuple[str, int]]:
    """(text, characters of link text) of each leaf block under ``element``, in document order."""
    if element.tag == "row":  # a table row: its non-empty cells, so a huge colspan adds no "| | |"
        cells = (normalize_text(_inline_text(cell)) for cell in element)
        yield " | ".join(cell for cell in cells if cell), 0
        return
    if not any(child.tag in _BLOCK_TAGS for child in element):
        yield _inline_text(element), _link_chars(element)
        return
    run_text, run_links = [element.text or ""], 0
    for child in element:
        if child.tag in _BLOCK_TAGS:
            yield "".join(run_text), run_links
            yield from _blocks(child)
            run_text, run_links = [child.tail or ""], 0
        else:  # inline markup between blocks: part of the current run
            run_text += [_inline_text(child), child.tail or ""]
            run_links += _link_chars(child)
    yield "".join(run_text), run_links


def _inline_text(element: lxml.etree._Element) -> str:
    """The text of ``element`` as written: inline markup adds no spaces, a line break (``lb``) one.

    Cells and other blocks nested in it are set apart by a space.
    """
    parts = [element.text or ""]
    for child in element:
        if child.tag == "lb":
            parts.append(" ")
        elif child.tag in _BLOCK_TAGS or child.tag == "cell":
            parts += [" ", _inline_text(child), " "]
        else:
            parts.append(_inline_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _link_chars(element: lxml.etree._Element) -> int:
    refs = [element] if element.tag == "ref" else element.iter("ref")
    return sum(len(normalize_text(_inline_text(ref))) for ref in refs)


# A sentence end: terminal punctuation of Latin, CJK, Arabic and Devanagari scripts, closing quotes allowed.
_SENTENCE_END = re.compile(r"[.!?\u3002\uff01\uff1f\u2026\u061f\u0964][\"\u201d\u2019\u00bb)\]]*(\s|$)")


def prose_paragraphs(body: str) -> int:
    """How many paragraphs of a body read as prose: 40 characters or more with a sentence end.

    Section fronts and link lists that trafilatura keeps as a "body" have none; any article,
    even a short one or one written without spaces between words, has at least one.
    """
    return sum(1 for p in body.split("\n\n") if len(p) >= 40 and _SENTENCE_END.search(p))


def _strip_headline(body: str, headline: str) -> str:
    """Drop first paragraphs that only repeat the headline (trafilatura keeps the <h1> sometimes)
    or give the byline (:func:`newscrawler.boilerplate.is_byline`): both are metadata."""
    while True:
        first, _, rest = body.partition("\n\n")
        if not rest or not ((headline and first == headline) or boilerplate.is_byline(first)):
            return body
        body = rest


def _page_metadata(tree: lxml.html.HtmlElement, url: str) -> dict[str, Any]:
    """Dates, authors, canonical URL and language given by JSON-LD, <meta> and <link> tags."""
    meta: dict[str, str] = {}
    for el in tree.iter("meta"):
        key = (el.get("property") or el.get("name") or el.get("itemprop") or "").strip().lower()
        content = (el.get("content") or "").strip()
        if key and content and key not in meta:
            meta[key] = content
    ld = next(_json_ld_articles(tree), {})
    published = _first_str(ld.get("datePublished")) or _first_meta(meta, _PUBLISHED_META)
    modified = _first_str(ld.get("dateModified")) or _first_meta(meta, _MODIFIED_META)
    if not published:
        for el in tree.iter("time"):
            if el.get("datetime") and (el.get("itemprop") or "").lower() in ("datepublished", ""):
                published = el.get("datetime").strip()
                break
    canonical = None
    for el in tree.iter("link"):
        if "canonical" in (el.get("rel") or "").lower().split() and el.get("href"):
            canonical = el.get("href").strip()
            break
    canonical = canonical or meta.get("og:url")
    if canonical:
        canonical = _absolute(canonical, url)
    html_el = tree if tree.tag == "html" else tree.getroottree().getroot()
    language = html_el.get("lang") or html_el.get("{http://www.w3.org/XML/1998/namespace}lang")
    return {
        "published": published,
        "modified": modified,
        "headline": _first_str(ld.get("headline")),
        "h1": _visible_headline(tree, _first_str(ld.get("headline")), meta.get("og:title")),
        "corrections": notes.schema_corrections(ld.get("correction")) + _correction_comments(tree),
        "authors": _ld_authors(ld.get("author")),
        "canonical": canonical,
        "language": language or meta.get("content-language") or meta.get("og:locale"),
    }


#: Class tokens trafilatura discards an element for (its byline, date and UI-meta tokens) that sites
#: also give prose paragraphs and editorial notes among a story's paragraphs.
_META_CLASS = re.compile(r"meta|timestamp|byline|date|info|author|stats|note", re.IGNORECASE)
_PROSE_END = re.compile(r"[.!?…»\"”)]\s*$")
_PROSE_MAX_CHARS = 700


def _prose(text: str) -> bool:
    """A sentence or two of story text: six words or more ending a sentence, or an editorial note;
    never a dateline, counter or byline."""
    if not text or len(text) > _PROSE_MAX_CHARS or churn_kind(text) or boilerplate.is_byline(text):
        return False
    return bool(notes.note_kind(text)) or (len(text.split()) >= 6 and bool(_PROSE_END.search(text)))


def _unmark_story_prose(tree: lxml.html.HtmlElement) -> int:
    """Drop the class of prose blocks that sit among a story's paragraphs with a byline, date or
    meta class (``<p class="timestamp">Police said ...</p>``, an editor's note in
    ``<div class="note">``): trafilatura discards elements by such classes, and the text is the
    story's. A block qualifies when its text is :func:`_prose` and its parent holds two more prose
    ``<p>``. Returns how many were unmarked."""
    unmarked = 0
    for el in tree.xpath("//*[self::p or self::div or self::ul or self::ol or self::blockquote or self::table]"
                         "[@class]"):
        if not _META_CLASS.search(el.get("class") or "") or el.find(".//h1") is not None:
            continue
        text = normalize_text(el.text_content())
        parent = el.getparent()
        if parent is None or not _prose(text):
            continue
        siblings = sum(1 for p in parent.iterchildren("p")
                       if p is not el and not p.get("class") and _prose(normalize_text(p.text_content())))
        if siblings >= 2:
            del el.attrib["class"]
            unmarked += 1
    return unmarked


#: A heading longer than this is not a headline (a teaser paragraph marked up as <h1>).
HEADLINE_MAX_CHARS = 300
_WORDS = re.compile(r"[^\W_]+")


def _visible_headline(tree: lxml.html.HtmlElement, ld_headline: str | None, og_title: str | None) -> str | None:
    """The headline readers see: the page's ``<h1>`` that shares most words with the JSON-LD
    ``headline`` or ``og:title`` (or ``<title>``); a site logo or section name in an ``<h1>``
    shares few. An ``<h1>`` inside ``<article>``/``<main>`` or marked ``itemprop="headline"`` is
    taken when it is the only one. None when no heading qualifies (the caller falls back to the
    JSON-LD headline, then the title)."""
    headings = []
    for el in tree.iter("h1"):
        text = normalize_text(el.text_content())
        if text and len(text) <= HEADLINE_MAX_CHARS:
            inside = el.get("itemprop") == "headline" or any(a.tag in ("article", "main") for a in el.iterancestors())
            headings.append((text, inside))
    if not headings:
        return None
    title = next((normalize_text(t.text_content()) for t in tree.iter("title")), "")
    reference = {w.casefold() for w in _WORDS.findall(ld_headline or og_title or title or "")}
    if len(headings) == 1 and (headings[0][1] or not reference):
        return headings[0][0]
    if not reference:
        return None

    def overlap(text: str) -> float:
        words = {w.casefold() for w in _WORDS.findall(text)}
        return len(words & reference) / max(1, len(words | reference))
    best = max((text for text, _ in headings), key=overlap)
    return best if overlap(best) >= 0.25 else None


def _correction_comments(tree: lxml.html.HtmlElement) -> list[str]:
    """Texts of schema.org ``CorrectionComment`` objects anywhere in the page's JSON-LD."""
    found: list[str] = []

    def walk(data: Any, depth: int = 0) -> None:
        if depth > 6:
            return
        if isinstance(data, list):
            for entry in data:
                walk(entry, depth + 1)
        elif isinstance(data, dict):
            types = data.get("@type")
            types = types if isinstance(types, list) else [types]
            if "CorrectionComment" in types:
                found.extend(t for t in notes.schema_corrections(data) if t not in found)
                return
            for key, value in data.items():
                if key != "correction":  # the article's own correction property is read apart
                    walk(value, depth + 1)
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            walk(json.loads(script.text_content() or "null", strict=False))
        except ValueError:
            continue
    return found


def _json_ld_articles(tree: lxml.html.HtmlElement) -> Iterator[dict[str, Any]]:
    """schema.org article objects from the page's JSON-LD blocks, in document order."""
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            data = json.loads(script.text_content() or "null", strict=False)
        except ValueError:
            continue
        yield from _walk_ld(data)


def _walk_ld(data: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    if depth > 5:
        return
    if isinstance(data, list):
        for entry in data:
            yield from _walk_ld(entry, depth + 1)
    elif isinstance(data, dict):
        types = data.get("@type")
        types = types if isinstance(types, list) else [types]
        if any(isinstance(t, str) and t.lower() in _ARTICLE_TYPES for t in types) and (
            data.get("datePublished") or data.get("headline")
        ):
            yield data
        for key in ("@graph", "mainEntity", "mainEntityOfPage"):
            if key in data:
                yield from _walk_ld(data[key], depth + 1)


def _ld_authors(value: Any) -> list[str]:
    names = []
    for entry in value if isinstance(value, list) else [value]:
        name = entry.get("name") if isinstance(entry, dict) else entry
        name = _first_str(name)
        if name and normalize_text(name) not in names:
            names.append(normalize_text(name))
    return names


def _split_authors(value: str | None) -> list[str]:
    return [normalize_text(a) for a in (value or "").split(";") if a.strip()]


def _tags(values: list[str] | None) -> list[str]:
    out: list[str] = []
    for value in values or []:
        for tag in value.split(",") if len(values) == 1 else [value]:
            tag = normalize_text(tag)
            if tag and tag not in out:
                out.append(tag)
    return out


def _language(value: str | None) -> str | None:
    """First subtag of a BCP 47 / locale code, lower case: ``en-GB`` and ``en_GB`` give ``en``."""
    if not value:
        return None
    code = value.strip().replace("_", "-").split("-")[0].lower()
    return code if 2 <= len(code) <= 3 and code.isalpha() else None


def _first_str(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    return value.strip() if isinstance(value, str) and value.strip() else None


def _first_meta(meta: dict[str, str], keys: tuple[str, ...]) -> str | None:
    return next((meta[k] for k in keys if meta.get(k)), None)


def _absolute(href: str, base: str) -> str:
    from urllib.parse import urljoin

    return urljoin(base, href)
