"""Sitemap and syndication-feed parsing into discovery entries (no Scrapy needed)."""

from __future__ import annotations

import dataclasses
import html
import logging
import re
from collections.abc import Iterator

import feedparser
import lxml.etree

logger = logging.getLogger(__name__)

_NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"


@dataclasses.dataclass(slots=True)
class Entry:
    """One URL found by discovery, with what the sitemap or feed said of it (raw strings)."""

    url: str
    lastmod: str | None = None  # <lastmod> of a sitemap, <updated>/<pubDate> of a feed entry
    title: str | None = None  # <news:title>, or the feed entry's title
    published: str | None = None  # <news:publication_date>, or the feed entry's published date


def sniff_xml(body: bytes) -> str | None:
    """The local name of an XML document's root element (``urlset``, ``rss``, ``feed``...), or None.

    Reads only as far as the root start tag; a BOM and leading whitespace are allowed.
    """
    head = body[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head.startswith(b"<"):
        return None
    parser = lxml.etree.XMLPullParser(events=("start",), recover=True, resolve_entities=False,
                                      no_network=True)
    try:
        parser.feed(head)
        for _event, element in parser.read_events():
            return lxml.etree.QName(element).localname
    except lxml.etree.XMLSyntaxError:
        return None
    return None


def parse_sitemap(body: bytes, problems: list[str] | None = None) -> tuple[str | None, list[Entry]]:
    """Parse a sitemap (urlset or sitemapindex; Google News extensions kept).

    Returns ``(kind, entries)`` with ``kind`` one of ``"urlset"``, ``"sitemapindex"`` or None for
    anything else. Parsing is lenient (``recover``) and safe: no entities resolved, no network,
    as Scrapy's own sitemap parser does; huge sitemaps (50,000 URLs) are allowed. What makes a
    sitemap malformed is appended to ``problems``, when given: libxml2's first error with its
    line and column (``line 4, column 33: xmlParseEntityRef: no name``), and how many more.
    """
    parser = lxml.etree.XMLParser(recover=True, remove_comments=True, resolve_entities=False,
                                  no_network=True, huge_tree=True)
    try:
        root = lxml.etree.fromstring(body.lstrip(b"\xef\xbb\xbf \t\r\n"), parser=parser)
    except (lxml.etree.XMLSyntaxError, ValueError):
        return None, []
    if root is None:
        return None, []
    kind = lxml.etree.QName(root).localname
    if kind not in ("urlset", "sitemapindex"):
        return None, []
    entries = list(_sitemap_entries(root))
    errors = parser.error_log.filter_from_errors()
    if errors and problems is not None:
        problems.append(_xml_errors(errors))
    if errors:
        # Malformed XML: recovery stops at a mismatched tag and drops an unescaped "&..." from a
        # URL, so read every <loc> as written; entries the parser did read keep their fields.
        parsed = {e.url: e for e in entries}
        entries = [parsed.get(e.url, e) for e in _scan_locs(body)] or entries
    return kind, entries


def _xml_errors(errors: lxml.etree._ListErrorLog) -> str:
    """libxml2's first error in words, with its place, and the count of the others."""
    first = errors[0]
    text = f"line {first.line}, column {first.column}: {first.message.strip()}"
    return text + (f" (and {len(errors) - 1} more errors)" if len(errors) > 1 else "")


_LOC = re.compile(rb"<loc\s*>(.*?)</loc\s*>", re.S)
_LASTMOD = re.compile(rb"<lastmod\s*>(.*?)</lastmod\s*>", re.S)


def _scan_locs(body: bytes) -> list[Entry]:
    """The ``<loc>`` URLs of a malformed sitemap, each with the ``<lastmod>`` before the next one."""
    found = list(_LOC.finditer(body))
    entries = []
    for match, after in zip(found, [*found[1:], None][:len(found)], strict=True):
        url = _xml_text(match.group(1))
        lastmod = _LASTMOD.search(body, match.end(), after.start() if after else len(body))
        if url:
            entries.append(Entry(url=url, lastmod=_xml_text(lastmod.group(1)) if lastmod else None))
    return entries


def _xml_text(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace").strip()
    if text.startswith("<![CDATA[") and text.endswith("]]>"):
        return text[9:-3].strip()
    return html.unescape(text)


def _sitemap_entries(root: lxml.etree._Element) -> Iterator[Entry]:
    for node in root:
        if not isinstance(node.tag, str) or lxml.etree.QName(node).localname not in ("url",
                                                                                     "sitemap"):
            continue
        fields: dict[str, str] = {}
        for child in node.iter():
            if not isinstance(child.tag, str):
                continue
            name = lxml.etree.QName(child)
            text = (child.text or "").strip()
            if text and name.localname not in fields:
                key = f"news:{name.localname}" if name.namespace == _NEWS_NS else name.localname
                fields.setdefault(key, text)
        if fields.get("loc"):
            yield Entry(
                url=fields["loc"],
                lastmod=fields.get("lastmod"),
                title=fields.get("news:title"),
                published=fields.get("news:publication_date"),
            )


def parse_feed(body: bytes, problems: list[str] | None = None) -> list[Entry]:
    """Parse an RSS 0.9x/1.0/2.0 or Atom syndication feed with feedparser into entries.

    Entries without a link are dropped; ``lastmod`` is the entry's updated date (or published).
    A feed that is not well-formed is read as far as feedparser's lenient parser gets (its
    ``bozo`` flag, kurtmckee/feedparser#117); the error is appended to ``problems`` when given
    (``line 4, column 33: not well-formed (invalid token)``). A charset declared otherwise than
    feedparser decoded it (``CharacterEncodingOverride``) is no problem: nothing is lost.
    """
    feed = feedparser.parse(body)
    error = feed.get("bozo_exception")
    if feed.get("bozo") and problems is not None and error is not None \
            and not isinstance(error, feedparser.CharacterEncodingOverride):
        where = ""
        if hasattr(error, "getLineNumber"):  # xml.sax.SAXParseException
            where = f"line {error.getLineNumber()}, column {error.getColumnNumber()}: "
            error = error.getMessage()
        problems.append(f"{where}{error}")
    entries = []
    for item in feed.entries:
        link = item.get("link")
        if not link:
            continue
        published = item.get("published")
        updated = dict.get(item, "updated")  # item.get() would fall back to published, with a warning
        entries.append(Entry(url=link.strip(), lastmod=updated or published,
                             title=item.get("title"), published=published))
    return entries
