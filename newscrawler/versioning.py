"""Where a version is decided: what a capture is, given what the archive already holds (pure functions).

No SQL and no Scrapy here. :class:`newscrawler.store.Archive` reads what these rules need (the
article, its versions, the site's boilerplate paragraphs), calls :func:`decide` or
:func:`decide_unextracted`, and writes what the returned :class:`Decision` says.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from newscrawler.changes import changed_fields, comparable_digest, digested_paragraphs
from newscrawler.items import Outcome

#: Statuses that say an archived article no longer exists (its versions are kept).
GONE_STATUSES = (404, 410)
#: Statuses of paywalls, consent walls and legal blocks: no comparison with the archived version.
WALL_STATUSES = (401, 402, 403, 451)
#: A paragraph seen in at least this many articles of one site is that site's boilerplate.
BOILERPLATE_MIN_ARTICLES = 3
#: A known article whose new body is shorter than this share of its current version is not compared.
SHRINK_RATIO = 0.5
#: Masking is dropped when the masked paragraphs hold more than this share of either body's
#: characters: most of the story recurs elsewhere (a copy of another article), not boilerplate.
MASKED_SHARE_MAX = 0.5


@dataclasses.dataclass(frozen=True)
class Decision:
    """What to write for one capture.

    ``version`` is the archived version row (a dict with at least ``id`` and ``version``) the
    capture points to (revisit, reverted, not_modified), or None. ``number`` is the version number
    to write for a new version (``new``/``changed``), else None. ``changed`` lists the fields that
    differ from the current version (:func:`newscrawler.changes.changed_fields`). ``keep_payload``:
    store the raw page even though no version is made (a page kept for review). ``gone``: mark the
    article gone.
    """

    outcome: Outcome
    note: str | None = None
    version: dict[str, Any] | None = None
    number: int | None = None
    changed: list[str] = dataclasses.field(default_factory=list)
    keep_payload: bool = False
    gone: bool = False


def decide_unextracted(outcome: Outcome, status: int | None, error: str | None, note: str | None,
                       latest: dict[str, Any] | None, archived: bool) -> Decision:
    """The outcome of a capture without an extraction (failed, not an article, 304, same bytes).

    ``outcome`` is what the fetch and extraction settled; ``archived`` says whether the page belongs
    to an archived article, whose current version row is ``latest`` (or None). For an unknown page
    the outcome stays. For an archived article: a 404/410 makes it ``gone`` (versions kept); a
    401/402/403/451, or a page with no article, is ``not_comparable`` (a wall, a soft 404, an
    error page; the raw page kept); a 304 or same bytes point to the current version.

    :raises ValueError: when ``outcome`` is not an :class:`Outcome`.
    """
    outcome = Outcome(outcome)
    if not archived:
        return Decision(outcome, note)
    if outcome is Outcome.FAILED and status in GONE_STATUSES:
        return Decision(Outcome.GONE, f"HTTP {status}: the article is gone; its versions are kept", gone=True)
    if outcome is Outcome.FAILED and status in WALL_STATUSES:
        return Decision(Outcome.NOT_COMPARABLE, f"HTTP {status}: a paywall, consent wall or block, not the article",
                        keep_payload=True)
    if outcome is Outcome.NOT_ARTICLE:
        return Decision(Outcome.NOT_COMPARABLE,
                        f"an archived article showed no article ({error}): a paywall, consent wall, "
                        "soft 404 or error page", keep_payload=True)
    if outcome in (Outcome.NOT_MODIFIED, Outcome.REVISIT):
        return Decision(outcome, note, version=latest)
    return Decision(outcome, note)


def masked_share(body: str, masked: frozenset[str]) -> float:
    """Share (0..1) of a body's characters in paragraphs whose digest is in ``masked``."""
    parts = digested_paragraphs(body)
    total = sum(len(p) for p, _ in parts) or 1
    return sum(len(p) for p, digest in parts if digest in masked) / total


def comparison_mask(extracted: dict[str, Any], latest: dict[str, Any], boilerplate: frozenset[str]) -> frozenset[str]:
    """The paragraph digests left out of the comparison: the site's ``boilerplate`` (digests of
    paragraphs that recur across its articles), or nothing when they would hold more than
    :data:`MASKED_SHARE_MAX` of the new or the current body."""
    if boilerplate and max(masked_share(extracted["body"], boilerplate),
                           masked_share(latest["body"], boilerplate)) > MASKED_SHARE_MAX:
        return frozenset()
    return boilerplate


def decide(extracted: dict[str, Any], versions: Sequence[dict[str, Any]], latest: dict[str, Any] | None,
           boilerplate: frozenset[str] = frozenset(), reextracted: dict[str, Any] | None = None,
           shrink_ratio: float = SHRINK_RATIO) -> Decision:
    """The outcome of a capture with an extraction, against the article's archived versions.

    ``extracted``: the new extraction (dict of :class:`newscrawler.extraction.Extracted`).
    ``versions``: the article's version rows, oldest first (each with ``id``, ``version``,
    ``headline``, ``body``, ``extractor`` and the compared fields); ``latest``: the current one
    (None for a new article). ``boilerplate``: digests of the site's recurring paragraphs
    (:func:`newscrawler.changes.digested_paragraphs`), masked on both sides
    (:func:`comparison_mask`). ``reextracted``: the current version's raw page extracted again by
    this capture's extractor (``{"version_id", "extractor", "headline", "body"}``) or None.

    In order: no current version: ``new``. The same content as the current version: ``revisit``.
    Different only because the extractor changed (the re-extraction gives this text):
    ``revisit``, noted as extraction drift. The same as an older version: ``reverted`` (that
    version is current again). A body shrunk below ``shrink_ratio`` of the current one (a paywall
    teaser, soft 404, error page): ``not_comparable``, raw page kept, no version. Otherwise
    ``changed``, numbered after the highest version.
    """
    if latest is None:
        return Decision(Outcome.NEW, number=1, changed=changed_fields(None, extracted))
    masked = comparison_mask(extracted, latest, boilerplate)
    digest = comparable_digest(extracted["headline"], extracted["body"], masked)
    if comparable_digest(latest["headline"], latest["body"], masked) == digest:
        return Decision(Outcome.REVISIT, version=latest)
    if (reextracted is not None and reextracted.get("version_id") == latest["id"]
            and reextracted.get("extractor") == extracted["extractor"] != latest["extractor"]
            and comparable_digest(reextracted["headline"], reextracted["body"], masked) == digest):
        note = (f"extraction drift: version {latest['version']} ({latest['extractor']}) re-extracted "
                f"with {extracted['extractor']} gives this text; not an edit")
        return Decision(Outcome.REVISIT, note, version=latest)
    for older in versions:
        if older["id"] != latest["id"] and comparable_digest(older["headline"], older["body"], masked) == digest:
            return Decision(Outcome.REVERTED, f"back to version {older['version']} from version {latest['version']}",
                            version=older)
    if len(extracted["body"]) < shrink_ratio * len(latest["body"]):
        note = (f"body shrank to {len(extracted['body'])} of {len(latest['body'])} characters: a paywall "
                "teaser, soft 404 or error page? not compared")
        return Decision(Outcome.NOT_COMPARABLE, note, keep_payload=True)
    number = max(v["version"] for v in versions) + 1
    return Decision(Outcome.CHANGED, number=number, changed=changed_fields(latest, extracted))


def needs_reextraction(extracted: dict[str, Any], latest: dict[str, Any] | None,
                       boilerplate: frozenset[str] = frozenset()) -> bool:
    """Whether :func:`decide` would use a re-extraction of ``latest``: the current version was made
    by another extractor and the new extraction differs from it (asked before the re-extraction is
    run, in a worker)."""
    if latest is None or latest["extractor"] == extracted["extractor"]:
        return False
    masked = comparison_mask(extracted, latest, boilerplate)
    return (comparable_digest(latest["headline"], latest["body"], masked)
            != comparable_digest(extracted["headline"], extracted["body"], masked))
