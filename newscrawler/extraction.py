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

from newscrawler import boilerplate, metadata, notes
from newscrawler.changes import churn_kind, normalize_text
from newscrawler.charsets import decode_html
from newscrawler.dates import isoformat

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
    boilerplate.keep_social_posts(tree)
    boilerplate.wrap_loose_text(tree)
    boilerplate.prune_promo_boxes(tree)
    boilerplate.prune_teaser_lists(tree)
    boilerplate.unmark_prose_among_paragraphs(tree)
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
        paragraphs = body_paragraphs(doc.body, PageText(tree))
    body = "\n\n".join(paragraphs)
    if not body:
        return None

    zone = hints.get("timezone") or default_tz
    sites = metadata.site_names(url, [own["site_name"], own["publisher"], own["application_name"], doc.sitename])
    published, published_raw = metadata.choose_date(
        [(own["published"], "page"), *((raw, "page") for raw in own["published_more"]),
         (doc.date, "trafilatura"), (hints.get("published"), "discovery")], zone)
    modified, modified_raw = metadata.choose_date([(own["modified"], "page"), (hints.get("modified"), "discovery")],
                                                  zone)
    headline = normalize_text(metadata.choose_headline(
        own["h1"], [own["headline"], own["og_title"], own["twitter_title"], doc.title, own["title"],
                    hints.get("title")], sites))
    title = normalize_text(doc.title) or None
    body = _strip_headline(body, headline)
    return Extracted(
        headline=headline,
        body=body,
        authors=(metadata.clean_authors(own["authors"], sites) or metadata.clean_authors([doc.author], sites)
                 or metadata.clean_authors(own["meta_authors"], sites)),
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


def body_paragraphs(body: lxml.etree._Element, source: PageText | None = None) -> list[str]:
    """The article's paragraphs from trafilatura's body tree, normalised, boilerplate churn left out.

    Each block without blocks inside it (paragraph, heading, list item, table row, a quote's
    paragraph) is one paragraph; text standing between blocks is one too. Left out: paragraphs
    that are mostly link text (share >= LINK_DENSITY_MAX: "READ MORE: <link>" lines, related-story
    lists) and lines that change by themselves between captures
    (:func:`newscrawler.changes.churn_kind`: relative times, counters, bare timestamps).
    ``source`` is the page's own text (:class:`PageText`): where trafilatura trimmed the space
    between a text and an inline element, it is put back when the page has it there.
    """
    paragraphs = []
    for text, link_chars in _blocks(body, source):
        text = normalize_text(text)
        if (text and not churn_kind(text) and link_chars / len(text) < LINK_DENSITY_MAX
                and not boilerplate.is_ad_label(text)):
            paragraphs.append(text)
    return paragraphs


class PageText:
    """The text of a parsed page with its whitespace collapsed, read to tell whether two pieces of
    text that trafilatura's tree gives side by side stood apart in the page ("Posted by" +
    "Harbour Watch") or together ("harbour board" + ","). Built on first use."""

    #: Characters of context on each side of a join that must match the page.
    CONTEXT = 24

    def __init__(self, tree: lxml.etree._Element) -> None:
        self._tree = tree
        self._text: str | None = None

    def spaced(self, left: str, right: str) -> bool:
        """Whether the page has whitespace between the end of ``left`` and the start of ``right``
        (and not the two run together)."""
        if self._text is None:
            self._text = re.sub(r"\s+", " ", "".join(self._tree.itertext()))
        a = re.sub(r"\s+", " ", left[-self.CONTEXT:]).rsplit(" ", 1)[-1]
        b = re.sub(r"\s+", " ", right[:self.CONTEXT])
        return f"{a} {b}" in self._text and f"{a}{b}" not in self._text


def _join(parts: list[str], source: PageText | None) -> str:
    """Concatenate text pieces as written: a space only where the page (``source``) has one."""
    out = ""
    for piece in parts:
        if (source is not None and out and piece and not out[-1].isspace() and not piece[0].isspace()
                and source.spaced(out, piece)):
            out += " "
        out += piece
    return out


def _is_block(child: lxml.etree._Element, parent: lxml.etree._Element) -> bool:
    """Whether a child of trafilatura's body tree is a block; code on one line inside a paragraph
    is inline (``<code>f()</code>`` in a sentence)."""
    if child.tag == "code" and parent.tag == "p":
        return "\n" in "".join(child.itertext())
    return child.tag in _BLOCK_TAGS


def _blocks(element: lxml.etree._Element, source: PageText | None = None) -> Iterator[tuple[str, int]]:
    """(text, characters of link text) of each leaf block under ``element``, in document order."""
    if element.tag == "row":  # a table row: its non-empty cells, so a huge colspan adds no "| | |"
        cells = (normalize_text(_inline_text(cell, source)) for cell in element)
        yield " | ".join(cell for cell in cells if cell), 0
        return
    if not any(_is_block(child, element) for child in element):
        yield _inline_text(element, source), _link_chars(element)
        return
    run_text, run_links = [element.text or ""], 0
    for child in element:
        if _is_block(child, element):
            yield _join(run_text, source), run_links
            yield from _blocks(child, source)
            run_text, run_links = [child.tail or ""], 0
        else:  # inline markup between blocks: part of the current run
            run_text += [_inline_text(child, source), child.tail or ""]
            run_links += _link_chars(child)
    yield _join(run_text, source), run_links


def _inline_text(element: lxml.etree._Element, source: PageText | None = None) -> str:
    """The text of ``element`` as written: inline markup adds no spaces, a line break (``lb``) one.

    Cells and other blocks nested in it are set apart by a space.
    """
    parts = [element.text or ""]
    for child in element:
        if child.tag == "lb":
            parts.append(" ")
        elif _is_block(child, element) or child.tag == "cell":
            parts += [" ", _inline_text(child, source), " "]
        else:
            parts.append(_inline_text(child, source))
        parts.append(child.tail or "")
    return _join(parts, source)


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
    published_all = [_first_str(ld.get("datePublished")), *(meta.get(k) for k in _PUBLISHED_META)]
    for el in tree.iter("time"):
        if el.get("datetime") and (el.get("itemprop") or "").lower() in ("datepublished", ""):
            published_all.append(el.get("datetime").strip())
            break
    published_all = [value for value in published_all if value]
    published = published_all[0] if published_all else None
    modified = _first_str(ld.get("dateModified")) or _first_meta(meta, _MODIFIED_META)
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
        "published_more": published_all[1:],
        "headline": _first_str(ld.get("headline")),
        "og_title": meta.get("og:title"),
        "twitter_title": meta.get("twitter:title"),
        "title": normalize_text(tree.findtext(".//title") or "") or None,
        "h1": [normalize_text(h.text_content()) for h in tree.iter("h1")][:8],
        "site_name": meta.get("og:site_name"),
        "application_name": meta.get("application-name"),
        "publisher": _ld_name(ld.get("publisher")),
        "corrections": notes.schema_corrections(ld.get("correction")) + _correction_comments(tree),
        "authors": _ld_authors(ld.get("author")),
        "meta_authors": [meta[k] for k in ("author", "article:author", "parsely-author", "sailthru.author",
                                           "dc.creator", "byl") if meta.get(k)],
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


def _ld_name(value: Any) -> str | None:
    """The ``name`` of a JSON-LD object (or of the first of a list), or a bare string."""
    if isinstance(value, list):
        value = value[0] if value else None
    return _first_str(value.get("name")) if isinstance(value, dict) else _first_str(value)


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
