"""ArticleItem: one fetched page on its way from a spider through extraction into the archive."""

import scrapy


class ArticleItem(scrapy.Item):
    """One capture of an article page: what was fetched, then what extraction found in it.

    Spiders fill the fetch fields; :class:`newscrawler.pipelines.ExtractPipeline` fills
    ``extracted`` (or ``outcome`` and ``error``); :class:`newscrawler.pipelines.ArchivePipeline`
    writes it and fills ``recorded``.
    """

    requested_url = scrapy.Field()
    """URL as requested (str), before redirects."""
    final_url = scrapy.Field()
    """URL of the response (str), after redirects; None when nothing was received."""
    status = scrapy.Field()
    """HTTP status code (int); None when the fetch failed before a response."""
    captured_at = scrapy.Field()
    """When the response arrived: ISO 8601 UTC with microseconds (str), e.g. 2026-11-29T22:43:05.1Z."""
    content_type = scrapy.Field()
    """The Content-Type header as sent (str), or None."""
    etag = scrapy.Field()
    """The ETag header as sent (str), or None."""
    last_modified = scrapy.Field()
    """The Last-Modified header as sent (str, an HTTP date), or None."""
    body = scrapy.Field()
    """Raw response body (bytes, after Content-Encoding is undone), or None."""
    is_text = scrapy.Field()
    """Whether Scrapy read the response as text (a TextResponse: HTML, XML or plain text) (bool). The
    body is decoded where it is extracted, in a worker (newscrawler.charsets.decode_html)."""
    discovered_via = scrapy.Field()
    """How the URL was found: "cli", "sitemap", "feed", "list", "home" (str)."""
    hints = scrapy.Field()
    """Metadata from discovery, raw strings or None: {"title", "published", "modified"}; and a watched
    site's "prune_xpath" (list of XPath expressions removed before extraction)."""
    outcome = scrapy.Field()
    """Set when no extraction applies: "failed", "not_article", "not_modified" (a 304) or "revisit"
    (same bytes as the last capture) (str); else decided on archiving."""
    error = scrapy.Field()
    """Why a capture failed or is not an article, in words (str), or None."""
    note = scrapy.Field()
    """How the outcome was decided, when not obvious (str), e.g. "304 to a conditional request"."""
    extracted = scrapy.Field()
    """Extraction result: dict of newscrawler.extraction.Extracted fields, or None."""
    recorded = scrapy.Field()
    """After archiving: dict of newscrawler.store.Recorded (outcome, ids, version number)."""
