"""Change detection: text normalisation, content digests and word/paragraph diffs (pure functions)."""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import unicodedata
from typing import Any

from newscrawler.churn import churn_kind  # noqa: F401  (the dateline grammar, kept importable from here)

# Unicode spaces that markup-only changes swap in (&nbsp;, thin and zero-width spaces).
_SPACES = re.compile(r"[\s\u00a0\u1680\u2000-\u200b\u202f\u205f\u3000\ufeff]+")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n|\n")
_TOKEN = re.compile(r"\S+\s*")

#: Fields compared between versions, in the order a diff lists them (headline first, body last).
#: ``title`` is the page's ``<title>``/``og:title`` and ``corrections`` its schema.org corrections
#: (issue 18): metadata, each compared only when both versions know it.
COMPARED_FIELDS = ("headline", "title", "authors", "date_published", "date_modified", "language",
                   "corrections", "body")
_KNOWN_SINCE_ISSUE_18 = ("title", "corrections")


def normalize_text(text: str | None) -> str:
    """Normalise extracted text for comparison and storage.

    Unicode NFC; every run of whitespace (incl. no-break, thin and zero-width spaces) inside a
    paragraph becomes one space; paragraphs (split on line breaks) are stripped, empty ones dropped,
    and joined by one blank line (``"\\n\\n"``). Letters, digits and punctuation are never changed.
    Idempotent: ``normalize_text(normalize_text(t)) == normalize_text(t)``.
    """
    global _normalized_chars
    if not text:
        return ""
    found = _normalized.get(text)
    if found is None:
        # A body from extraction or the archive is normal already: telling so costs a fifth.
        found = text if _is_normal(text) else _normal_form(text)
        if _normalized_chars > _NORMALIZED_MAX_CHARS:
            _normalized.clear()
            _normalized_chars = 0
        _normalized[text] = _normalized[found] = found
        _normalized_chars += len(text) + len(found)
    return found


def _normal_form(text: str) -> str:
    """What :func:`normalize_text` returns, computed (no cache, no short cut)."""
    normal = unicodedata.normalize("NFC", text)
    return "\n\n".join(p for p in (_SPACES.sub(" ", p).strip() for p in _PARAGRAPH_BREAK.split(normal)) if p)


def _is_normal(text: str) -> bool:
    """Whether :func:`normalize_text` leaves ``text`` as it is (a sufficient test, not a necessary one).

    True when the text is NFC and its paragraphs, split on ``"\\n\\n"``, are non-empty, have no
    character that is not printable (``str.isprintable``: line breaks, tabs and every Unicode space
    but U+0020 are not, nor are zero-width and other format characters) and no space at either end
    or twice in a row. Such text has nothing for the normalisation to change.
    """
    if "  " in text or not unicodedata.is_normalized("NFC", text):
        return False
    return all(p and p.isprintable() and p[0] != " " and p[-1] != " " for p in text.split("\n\n"))


# Texts normalised lately, and their normal forms (each its own): a capture's body is normalised for
# several digests and comparisons, and a body from extraction is normal already. Bounded by characters.
_normalized: dict[str, str] = {}
_normalized_chars = 0
_NORMALIZED_MAX_CHARS = 1_000_000


def paragraphs(body: str | None) -> list[str]:
    """Split a normalised body into its paragraphs (``[]`` for an empty body)."""
    return [p for p in normalize_text(body).split("\n\n") if p]


def content_digest(headline: str | None, body: str | None) -> str:
    """Digest of a version's content: ``sha256:<64 hex>`` of the normalised (headline, body) pair.

    Two extractions with the same digest are the same version; the pair is JSON-encoded so that
    no headline/body split can collide with another.
    """
    payload = json.dumps([normalize_text(headline), normalize_text(body)], ensure_ascii=False)
    return "sha256:" + hashlib.sha256(payload.encode("utf-8")).hexdigest()


def digested_paragraphs(body: str | None) -> list[tuple[str, str]]:
    """``(paragraph, digest)`` for each paragraph of ``body``, in order, for per-site boilerplate counts.

    The digest is 16 hex digits of the sha256 of the normalised paragraph. The body is normalised
    once, not each paragraph again (the paragraphs of a normal text are normal).
    """
    return [(p, hashlib.sha256(p.encode("utf-8")).hexdigest()[:16]) for p in paragraphs(body)]


def comparable_digest(headline: str | None, body: str | None, masked: set[str] | frozenset[str] = frozenset()) -> str:
    """Digest of a version's content with masked paragraphs left out (see :func:`digested_paragraphs`).

    Two captures are the same version when their comparable digests are equal under the same
    mask: the per-site boilerplate learned so far. Without a mask it equals :func:`content_digest`.
    """
    kept = [p for p, digest in digested_paragraphs(body) if digest not in masked] if masked else paragraphs(body)
    return content_digest(headline, "\n\n".join(kept))


def payload_digest(data: bytes) -> str:
    """Digest of raw bytes as in WARC-Payload-Digest: ``sha256:<64 hex>``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def changed_fields(old: dict[str, Any] | None, new: dict[str, Any]) -> list[str]:
    """Names of the COMPARED_FIELDS whose values differ between two versions (all set ones if no old).

    Text fields are compared after normalisation; ``authors`` as lists (JSON strings are decoded);
    a date present on one side only is not a change.
    """
    changed = []
    for field in COMPARED_FIELDS:
        a = _comparable(field, (old or {}).get(field))
        b = _comparable(field, new.get(field))
        if field.startswith("date_") and old is not None and (a is None or b is None):
            continue  # a date one capture lacks (a sitemap's lastmod absent on a re-check) is unknown, not changed
        unknown = old is not None and (old.get(field) is None or new.get(field) is None)
        if field in _KNOWN_SINCE_ISSUE_18 and unknown:
            continue  # a version archived before the field was kept: unknown, not changed
        if a != b and (old is not None or b):
            changed.append(field)
    return changed


def _comparable(field: str, value: Any) -> Any:
    if field in ("authors", "corrections"):
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                value = [value]
        return [normalize_text(a) for a in value or []]
    if isinstance(value, str):
        return normalize_text(value)
    return value


def diff_words(old: str, new: str) -> list[tuple[str, str]]:
    """Word-level diff of two texts as ``[(op, text), ...]``, op one of ``"="``, ``"-"``, ``"+"``.

    Words are compared without their trailing whitespace; joining the ``"="`` and ``"-"`` parts
    gives ``old`` back and joining the ``"="`` and ``"+"`` parts gives ``new`` (after whitespace
    normalisation of both).
    """
    a = _TOKEN.findall(" ".join(old.split()) + " ") if old.strip() else []
    b = _TOKEN.findall(" ".join(new.split()) + " ") if new.strip() else []
    matcher = difflib.SequenceMatcher(None, [w.strip() for w in a], [w.strip() for w in b],
                                      autojunk=False)
    out: list[tuple[str, str]] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            out.append(("=", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(("-", "".join(a[i1:i2])))
        if j2 > j1:
            out.append(("+", "".join(b[j1:j2])))
    if out:  # drop the trailing space added above
        op, text = out[-1]
        out[-1] = (op, text.rstrip())
    return [(op, text) for op, text in out if text] if len(out) > 1 else out


def diff_paragraphs(old_body: str, new_body: str) -> list[dict[str, Any]]:
    """Paragraph-level diff of two bodies, with word-level diffs inside changed paragraphs.

    Returns a list of blocks in reading order of the new body, each a dict with ``op`` in
    ``equal | insert | delete | replace | move``, ``old`` and ``new`` paragraph text (``None``
    where absent) and, for ``replace``, ``words`` from :func:`diff_words`. A paragraph deleted in
    one place and inserted unchanged in another is one ``move`` block where it now stands.
    """
    a, b = paragraphs(old_body), paragraphs(new_body)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    blocks: list[dict[str, Any]] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            blocks += [{"op": "equal", "old": p, "new": p} for p in b[j1:j2]]
            continue
        olds, news = a[i1:i2], b[j1:j2]
        pairs = _pair_similar(olds, news) if tag == "replace" else {}
        for k, p in enumerate(olds):
            if k not in pairs:
                blocks.append({"op": "delete", "old": p, "new": None})
        for k, p in enumerate(news):
            old_index = next((o for o, n in pairs.items() if n == k), None)
            if old_index is None:
                blocks.append({"op": "insert", "old": None, "new": p})
            else:
                old = olds[old_index]
                blocks.append({"op": "replace", "old": old, "new": p, "words": diff_words(old, p)})
    # Moves: a deleted paragraph that reappears verbatim as an insertion elsewhere.
    inserted = {blk["new"]: blk for blk in blocks if blk["op"] == "insert"}
    for blk in [blk for blk in blocks if blk["op"] == "delete" and blk["old"] in inserted]:
        target = inserted.pop(blk["old"], None)
        if target is None:  # deleted twice, inserted once: one move, one delete
            continue
        target.update(op="move", old=blk["old"])
        blocks.remove(blk)
    return blocks


def _pair_similar(olds: list[str], news: list[str], threshold: float = 0.5) -> dict[int, int]:
    """Pair old and new paragraphs of a replaced run whose word similarity is >= threshold."""
    pairs: dict[int, int] = {}
    used: set[int] = set()
    for i, old in enumerate(olds):
        best, best_ratio = None, threshold
        for j, new in enumerate(news):
            if j in used:
                continue
            ratio = difflib.SequenceMatcher(None, old.split(), new.split(), autojunk=False).ratio()
            if ratio >= best_ratio:
                best, best_ratio = j, ratio
        if best is not None and (not pairs or best > max(pairs.values())):
            pairs[i] = best
            used.add(best)
    return pairs


def diff_versions(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Diff two version rows (dicts with the COMPARED_FIELDS).

    Returns ``{"changed": [field, ...], "headline": [(op, text), ...], "metadata":
    [{"field", "old", "new"}, ...], "body": [block, ...]}`` with the headline word diff, the other
    changed fields except body, and the body's :func:`diff_paragraphs` blocks.
    """
    changed = changed_fields(old, new)
    return {
        "changed": changed,
        "headline": diff_words(old.get("headline") or "", new.get("headline") or ""),
        "metadata": [
            {"field": f, "old": _comparable(f, old.get(f)), "new": _comparable(f, new.get(f))}
            for f in changed if f not in ("headline", "body")
        ],
        "body": diff_paragraphs(old.get("body") or "", new.get("body") or ""),
    }


def render_words_text(words: list[tuple[str, str]]) -> str:
    """Render a word diff as text in ``git diff --word-diff`` style: ``[-old-]{+new+}``."""
    marks = {"=": "{}", "-": "[-{}-]", "+": "{{+{}+}}"}
    return "".join(marks[op].format(text.rstrip()) + text[len(text.rstrip()):]
                   for op, text in words)


def render_text(diff: dict[str, Any]) -> str:
    """Render :func:`diff_versions` output as plain text (headline, metadata, then body blocks)."""
    lines = [f"changed: {', '.join(diff['changed']) or 'nothing'}"]
    if "headline" in diff["changed"]:
        lines.append("headline: " + render_words_text(diff["headline"]))
    for m in diff["metadata"]:
        lines.append(f"{m['field']}: {m['old']!r} -> {m['new']!r}")
    lines.append("")
    for blk in diff["body"]:
        op = blk["op"]
        if op == "equal":
            continue
        if op == "replace":
            lines.append("~ " + render_words_text(blk["words"]))
        elif op == "insert":
            lines.append("+ " + blk["new"])
        elif op == "delete":
            lines.append("- " + blk["old"])
        elif op == "move":
            lines.append("> (moved) " + blk["new"])
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
