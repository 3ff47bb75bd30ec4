"""The one item of a crawl: a :class:`Capture` travels from the spider through extraction into the archive.

Spiders fill the fetch fields (or build a failed capture with :meth:`Capture.failed`);
:class:`newscrawler.pipelines.ExtractPipeline` fills ``extracted`` or settles the outcome
(``not_article``, ``failed``); :class:`newscrawler.pipelines.ArchivePipeline` has the archive decide
the rest (:mod:`newscrawler.versioning`) and fills ``recorded``. Scrapy handles dataclass items
through itemadapter, so feed exports and ``scrapy parse`` see the fields as they see an Item's.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

from newscrawler.dates import utcnow_iso


class Outcome(enum.StrEnum):
    """What a capture turned out to be; the ``captures.outcome`` column holds the value."""

    NEW = "new"
    """The first version of an article."""
    CHANGED = "changed"
    """A new version of an archived article."""
    REVISIT = "revisit"
    """The same content as the article's current version."""
    REVERTED = "reverted"
    """The same content as an older version, which is current again."""
    NOT_MODIFIED = "not_modified"
    """A 304 to a conditional request."""
    NOT_ARTICLE = "not_article"
    """The page holds no article (not HTML, too short, no prose, non-2xx for an unknown URL)."""
    NOT_COMPARABLE = "not_comparable"
    """An archived article's page that cannot be compared (a wall, a teaser, an error page); the raw
    page is kept for review, no version is made."""
    GONE = "gone"
    """A 404 or 410 for an archived article: it is marked gone, its versions are kept."""
    FAILED = "failed"
    """Nothing usable was received (network error, timeout, an HTTP error, an extraction crash)."""


#: Outcomes that make a version.
VERSION_OUTCOMES = (Outcome.NEW, Outcome.CHANGED)


@dataclasses.dataclass
class Recorded:
    """What the archive wrote for a capture: its outcome and row ids (None where absent)."""

    outcome: Outcome
    capture_id: int
    article_id: int | None
    version_id: int | None
    version: int | None
    article_url: str | None
    note: str | None = None


@dataclasses.dataclass
class Capture:
    """One fetch of an article page, ready to extract and archive.

    Times are ISO 8601 UTC strings (``2026-11-29T22:43:05.1Z``). ``body`` is the raw response body
    (bytes, Content-Encoding undone), decoded where it is extracted, in a worker
    (:func:`newscrawler.charsets.decode_html`). ``extracted`` is the dict of
    :class:`newscrawler.extraction.Extracted`, or None; without it, ``outcome`` says why and
    ``error`` gives the reason in words.
    """

    requested_url: str
    """URL as requested, before redirects."""
    captured_at: str = dataclasses.field(default_factory=utcnow_iso)
    """When the response arrived (or the fetch failed)."""
    final_url: str | None = None
    """URL of the response, after redirects; None when nothing was received."""
    status: int | None = None
    """HTTP status code; None when the fetch failed before a response."""
    content_type: str | None = None
    """The Content-Type header as sent."""
    etag: str | None = None
    """The ETag header as sent."""
    last_modified: str | None = None
    """The Last-Modified header as sent (an HTTP date)."""
    body: bytes | None = None
    """Raw response body; kept (compressed) when it shows a new version or a page to review."""
    is_text: bool = False
    """Whether Scrapy read the response as text (a TextResponse: HTML, XML or plain text)."""
    discovered_via: str | None = None
    """How the URL was found: "cli", "sitemap", "feed", "list", "home", "recheck"."""
    hints: dict[str, Any] = dataclasses.field(default_factory=dict)
    """Metadata from discovery, raw strings or None: {"title", "published", "modified"}; and a
    watched site's "prune_xpath" (XPath expressions removed before extraction)."""
    outcome: Outcome | None = None
    """Set when no comparison applies (failed, not_article, not_modified, revisit by same bytes);
    else decided on archiving (:mod:`newscrawler.versioning`)."""
    error: str | None = None
    """Why a capture failed or holds no article, in words."""
    note: str | None = None
    """How the outcome was decided, when not obvious, e.g. "304 to a conditional request"."""
    extracted: dict[str, Any] | None = None
    """The extraction: dict of :class:`newscrawler.extraction.Extracted` fields."""
    reextracted: dict[str, Any] | None = None
    """The article's current version extracted again by this capture's extractor, in a worker, when
    the version was made by another one: ``{"version_id", "extractor", "headline", "body"}`` (the
    extraction-drift check, :func:`newscrawler.versioning.decide`)."""
    exchange: dict[str, Any] | None = None
    """The HTTP exchange as it went over the wire, for WARC records
    (:func:`newscrawler.middlewares.exchange_of`): ``{"protocol", "peer_ip", "response_headers",
    "request_method", "request_headers", "payload_decoded", "payload_encoding"}``, headers as
    ``[[name, value], ...]`` in the order received; None when nothing was received or it is not
    known (captures imported from a WARC carry the record's)."""
    recorded: Recorded | None = None
    """After archiving: what was written."""

    @property
    def url(self) -> str:
        """The URL the content came from: the final URL, else the requested one."""
        return self.final_url or self.requested_url

    @classmethod
    def failed(cls, requested_url: str, error: str, *, status: int | None = None,
               discovered_via: str | None = "cli", hints: dict[str, Any] | None = None,
               **fields: Any) -> Capture:
        """A ``failed`` capture: nothing usable was received for ``requested_url``.

        ``error`` says why in words (``TimeoutError: ...``, ``HTTP 503``); ``fields`` are any other
        :class:`Capture` fields (a final URL, headers) known of the response.
        """
        return cls(requested_url=requested_url, status=status, outcome=Outcome.FAILED, error=error,
                   discovered_via=discovered_via, hints=hints or {}, **fields)

    def settle(self, outcome: Outcome, error: str | None = None, note: str | None = None) -> Capture:
        """Set the outcome of a capture that will not be compared (and why); returns the capture."""
        self.outcome = Outcome(outcome)
        if error is not None:
            self.error = error
        if note is not None:
            self.note = note
        return self
