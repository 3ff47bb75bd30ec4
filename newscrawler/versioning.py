"""Where a version is decided: what a capture is, given what the archive already holds (pure functions).

No SQL and no Scrapy here. :class:`newscrawler.store.Archive` reads what these rules need (the
article, its versions, the site's template paragraphs), calls :func:`decide` or
:func:`decide_unextracted`, and writes what the returned :class:`Decision` says.

Masking never hides an edit: a site's template paragraphs (those its articles' *first* captures
share) are left out of a comparison only where both sides carry them the same number of times, so
a paragraph that is new, or newly gone, in an archived article is always compared, whatever other
articles of the site carry; editorial notes (:mod:`newscrawler.notes`) are never masked. Each new
version gets a ``change_kind`` (:func:`change_kind`); a return to an older content is a version of
its own, kind ``revert``, so the highest version number is always the current content.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

from newscrawler.changes import changed_fields, comparable_digest, digested_paragraphs
from newscrawler.items import Outcome
from newscrawler.notes import CORRECTION, UPDATE, note_kind

#: Statuses that say an archived article no longer exists (its versions are kept).
GONE_STATUSES = (404, 410)
#: Statuses of paywalls, consent walls and legal blocks: no comparison with the archived version.
WALL_STATUSES = (401, 402, 403, 451)
#: A paragraph in the first captures of at least this many articles of one site is its template.
BOILERPLATE_MIN_ARTICLES = 3
#: A known article whose new body is shorter than this share of its current version is not compared.
SHRINK_RATIO = 0.5
#: Masking is dropped when the masked paragraphs hold more than this share of either body's
#: characters: most of the story recurs elsewhere (a copy of another article), not boilerplate.
MASKED_SHARE_MAX = 0.5
#: A version's ``change_kind`` (issue 18): what the change carries. ``correction``: a correction,
#: clarification or editor's note (or schema.org ``correction``) appeared or changed; ``update``: an
#: update note appeared or ``date_modified`` moved; ``headline``: only the headline changed;
#: ``stealth``: the text changed with no note and no new ``date_modified``; ``metadata``: only
#: ``<title>``/``og:title`` changed; ``revert``: the content went back to an older version's.
CHANGE_KINDS = ("correction", "update", "headline", "stealth", "metadata", "revert")


@dataclasses.dataclass(frozen=True)
class Decision:
    """What to write for one capture.

    ``version`` is the archived version row (a dict with at least ``id`` and ``version``) the
    capture points to (revisit, reverted, not_modified), or None. ``number`` is the version number
    to write for a new version (``new``/``changed``), else None. ``changed`` lists the fields that
    differ from the current version (:func:`newscrawler.changes.changed_fields`). ``keep_payload``:
    store the raw page even though no version is made (a page kept for review). ``gone``: mark the
    article gone. ``change_kind``: one of :data:`CHANGE_KINDS` for a ``changed`` or ``reverted``
    version, else None; ``reverts_to``: for ``reverted``, the number of the version whose content
    is current again (``version`` is that row; ``number`` the revert's own new number).
    """

    outcome: Outcome
    note: str | None = None
    version: dict[str, Any] | None = None
    number: int | None = None
    changed: list[str] = dataclasses.field(default_factory=list)
    keep_payload: bool = False
    gone: bool = False
    change_kind: str | None = None
    reverts_to: int | None = None


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
    """The paragraph digests left out of the comparison of ``extracted`` with ``latest``.

    Only the site's template paragraphs (``boilerplate``: digests of paragraphs its articles' first
    captures share) that both bodies carry equally often: masking can move a template block, never
    hide a paragraph added or removed, whatever other articles carry it. Editorial notes
    (:func:`newscrawler.notes.note_kind`) are never masked. Nothing is masked when the masked
    paragraphs would hold more than :data:`MASKED_SHARE_MAX` of either body (a copy of another
    story, not a template).
    """
    if not boilerplate:
        return frozenset()
    new = Counter(d for p, d in digested_paragraphs(extracted["body"]) if d in boilerplate and not note_kind(p))
    old = Counter(d for _, d in digested_paragraphs(latest["body"]) if d in boilerplate)
    masked = frozenset(d for d, n in new.items() if old.get(d) == n)
    if masked and max(masked_share(extracted["body"], masked), masked_share(latest["body"], masked)) > MASKED_SHARE_MAX:
        return frozenset()
    return masked


def _paragraph_changes(old_body: str, new_body: str) -> tuple[list[str], list[str]]:
    """Paragraphs of ``new_body`` that ``old_body`` lacks and those it lost (multisets, in order)."""
    old = Counter(p for p, _ in digested_paragraphs(old_body))
    new = Counter(p for p, _ in digested_paragraphs(new_body))
    added, removed = new - old, old - new
    return ([p for p, _ in digested_paragraphs(new_body) if added.get(p)],
            [p for p, _ in digested_paragraphs(old_body) if removed.get(p)])


def change_kind(latest: dict[str, Any], extracted: dict[str, Any], changed: Sequence[str]) -> str:
    """The ``change_kind`` of a new version ``extracted`` after ``latest`` (see :data:`CHANGE_KINDS`),
    given the fields that differ (``changed``, :func:`newscrawler.changes.changed_fields`).

    In order: a correction note among the paragraphs added or changed, or a schema.org
    ``correction`` added or changed: ``correction``; an update note so, or ``date_modified`` moved:
    ``update``; only the headline: ``headline``; only ``title``: ``metadata``; else ``stealth``.
    """
    added, _removed = _paragraph_changes(latest.get("body") or "", extracted.get("body") or "")
    kinds = {note_kind(p) for p in added}
    if CORRECTION in kinds or ("corrections" in changed and extracted.get("corrections")):
        return "correction"
    if UPDATE in kinds or "date_modified" in changed:
        return "update"
    if "headline" in changed and "body" not in changed:
        return "headline"
    if "headline" not in changed and "body" not in changed:
        return "metadata"
    return "stealth"


def _template_note(latest: dict[str, Any], extracted: dict[str, Any], boilerplate: frozenset[str]) -> str | None:
    """A note when the body changed only by template paragraphs added or removed: masking did not
    hide them (they are an edit candidate), and the capture says so."""
    if not boilerplate:
        return None
    added, removed = _paragraph_changes(latest["body"], extracted["body"])
    if not added and not removed:
        return None
    template = {p for p, d in digested_paragraphs(extracted["body"] + "\n\n" + latest["body"]) if d in boilerplate}
    if all(p in template for p in added + removed):
        return (f"only paragraphs the site's template carries were added ({len(added)}) or removed "
                f"({len(removed)}): a new version, since masking never hides a new or gone paragraph")
    return None


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

    In order: no current version: ``new``. The same content as the current version: ``revisit``
    (noted when only the masking of template paragraphs made it so). Different only because the
    extractor changed (the re-extraction gives this text): ``revisit``, noted as extraction drift.
    The same as an older version: ``reverted``, a version of its own numbered after the highest
    (kind ``revert``, ``reverts_to`` the older number). A body shrunk below ``shrink_ratio`` of the
    current one (a paywall teaser, soft 404, error page): ``not_comparable``, raw page kept, no
    version. Otherwise ``changed``, numbered after the highest version, with its
    :func:`change_kind`. A change of ``title`` (``<title>``/``og:title``) or of schema.org
    ``corrections`` alone is ``changed`` too (kind ``metadata`` or ``correction``); either is
    compared only when both sides know it (versions archived before issue 18 do not).
    """
    if latest is None:
        return Decision(Outcome.NEW, number=1, changed=changed_fields(None, extracted))
    masked = comparison_mask(extracted, latest, boilerplate)
    digest = comparable_digest(extracted["headline"], extracted["body"], masked)
    same_meta = _same_metadata(latest, extracted)
    if comparable_digest(latest["headline"], latest["body"], masked) == digest and same_meta:
        note = None
        if masked and comparable_digest(latest["headline"], latest["body"]) != comparable_digest(
                extracted["headline"], extracted["body"]):
            note = (f"masking decided: only the site's template paragraphs ({len(masked)}) moved; "
                    "no paragraph added or removed")
        return Decision(Outcome.REVISIT, note, version=latest)
    if (reextracted is not None and reextracted.get("version_id") == latest["id"]
            and reextracted.get("extractor") == extracted["extractor"] != latest["extractor"]
            and comparable_digest(reextracted["headline"], reextracted["body"], masked) == digest):
        note = (f"extraction drift: version {latest['version']} ({latest['extractor']}) re-extracted "
                f"with {extracted['extractor']} gives this text; not an edit")
        return Decision(Outcome.REVISIT, note, version=latest)
    number = max(v["version"] for v in versions) + 1
    for older in versions:
        if (older["id"] != latest["id"] and comparable_digest(older["headline"], older["body"], masked) == digest
                and _same_metadata(older, extracted)
                and older.get("change_kind") != "revert"):
            return Decision(Outcome.REVERTED, f"back to version {older['version']} from version {latest['version']}",
                            version=older, number=number, changed=changed_fields(latest, extracted),
                            change_kind="revert", reverts_to=older["version"])
    if len(extracted["body"]) < shrink_ratio * len(latest["body"]):
        note = (f"body shrank to {len(extracted['body'])} of {len(latest['body'])} characters: a paywall "
                "teaser, soft 404 or error page? not compared")
        return Decision(Outcome.NOT_COMPARABLE, note, keep_payload=True)
    changed = changed_fields(latest, extracted)
    return Decision(Outcome.CHANGED, _template_note(latest, extracted, boilerplate), number=number,
                    changed=changed, change_kind=change_kind(latest, extracted, changed))


def _same_metadata(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether ``title`` and ``corrections`` agree, each where both sides know it (not None)."""
    for field in ("title", "corrections"):
        a, b = old.get(field), new.get(field)
        if a is None or b is None:
            continue
        if field == "corrections":
            a = json.loads(a) if isinstance(a, str) else a
            b = json.loads(b) if isinstance(b, str) else b
            if [" ".join(x.split()) for x in a] != [" ".join(x.split()) for x in b]:
                return False
        elif " ".join(a.split()) != " ".join(b.split()):
            return False
    return True


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
