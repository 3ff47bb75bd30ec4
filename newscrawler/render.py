"""The one HTML renderer of version diffs: the CLI's page, the Datasette diff page and the Atom feed.

Input is :func:`newscrawler.changes.diff_versions` output. Every archived string is escaped here
(markupsafe); the only markup added is ``<ins>``/``<del>`` around changed words, paragraphs, the
``<details>`` that fold unchanged paragraphs and the change navigation links. No script is emitted:
the pages work under ``default-src 'none'``.
"""

from __future__ import annotations

import html
from typing import Any

from markupsafe import Markup, escape

from newscrawler.changes import render_text, render_words_text

#: Unchanged paragraphs kept in view on each side of a change when the rest are folded.
CONTEXT = 1
#: The fewest unchanged paragraphs folded into one "show N unchanged paragraphs" (fewer stay shown).
FOLD_MIN = 2

__all__ = ["CONTEXT", "FOLD_MIN", "change_count", "diff_html", "diff_text", "display_blocks",
           "feed_html", "fold", "page_html", "render_words_text", "word_counts", "words_html"]


def words_html(words: list[tuple[str, str]], keep: str | None = None) -> Markup:
    """A word diff (``[(op, text)]``, op ``=``/``-``/``+``) as escaped HTML with ``<del>`` and
    ``<ins>`` around changed words; the space after a changed run stays outside its mark.

    ``keep="-"`` renders the old side only (unchanged and deleted words), ``keep="+"`` the new side.
    """
    tags = {"=": "{}", "-": "<del>{}</del>", "+": "<ins>{}</ins>"}
    out = []
    for op, text in words:
        if keep is not None and op not in ("=", keep):
            continue
        core = text.rstrip()
        out.append(tags[op].format(html.escape(core)) + html.escape(text[len(core):]))
    return Markup("".join(out))


def display_blocks(body: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Body blocks (:func:`newscrawler.changes.diff_paragraphs`) with their HTML, all escaped.

    Each is ``{"op", "inline", "left", "right", "change"}``: the inline rendering, the old and new
    sides (empty Markup where the side has no paragraph) and ``change``, the 1-based number of the
    change among the blocks that are not ``equal`` (None for unchanged paragraphs).
    """
    out = []
    number = 0
    for blk in body:
        op, old, new = blk["op"], blk.get("old"), blk.get("new")
        if op == "replace":
            words = blk["words"]
            inline, left, right = words_html(words), words_html(words, "-"), words_html(words, "+")
        elif op == "insert":
            inline = right = Markup("<ins>{}</ins>").format(new)
            left = Markup("")
        elif op == "delete":
            inline = left = Markup("<del>{}</del>").format(old)
            right = Markup("")
        else:  # equal, move
            inline = right = escape(new)
            left = escape(old)
        change = None
        if op != "equal":
            number += 1
            change = number
        out.append({"op": op, "inline": inline, "left": left, "right": right, "change": change})
    return out


def change_count(result: dict[str, Any]) -> int:
    """How many body paragraphs of a diff changed (inserted, deleted, replaced or moved)."""
    return sum(1 for blk in result["body"] if blk["op"] != "equal")


def word_counts(result: dict[str, Any]) -> dict[str, int]:
    """Words inserted and deleted over headline and body: ``{"inserted": n, "deleted": n}``."""
    counts = {"inserted": 0, "deleted": 0}
    words = list(result["headline"])
    for blk in result["body"]:
        if blk["op"] == "replace":
            words += blk["words"]
        elif blk["op"] == "insert":
            words.append(("+", blk["new"]))
        elif blk["op"] == "delete":
            words.append(("-", blk["old"]))
    for op, text in words:
        if op == "+":
            counts["inserted"] += len(text.split())
        elif op == "-":
            counts["deleted"] += len(text.split())
    return counts


def _block_html(blk: dict[str, Any], side_by_side: bool, changes: int) -> Markup:
    """One block; a changed one carries its ``id="change-N"``, a margin mark and links to the
    previous and next change."""
    number = blk["change"]
    if number is None:
        attrs, nav = Markup(""), Markup("")
    else:
        attrs = Markup(' id="change-{}" data-change="{}"').format(number, number)
        prev = (Markup('<a class="prev" href="#change-{}" title="previous change">&uarr;</a>')
                .format(number - 1) if number > 1 else Markup(""))
        nxt = (Markup('<a class="next" href="#change-{}" title="next change">&darr;</a>')
               .format(number + 1) if number < changes else Markup(""))
        nav = Markup('<span class="change-nav" aria-label="change {} of {}">'
                     '<span class="mark">{}/{}</span>{}{}</span>').format(
            number, changes, number, changes, prev, nxt)
    change = Markup(" change") if number is not None else ""
    if side_by_side:
        return Markup('<p class="old op-{op}{change}{empty}"{attrs}>{nav}{left}</p>\n'
                      '<p class="new op-{op}{change}{empty2}">{right}</p>').format(
            op=blk["op"], change=change, attrs=attrs, nav=nav, left=blk["left"], right=blk["right"],
            empty=Markup(" empty") if not blk["left"] else "",
            empty2=Markup(" empty") if not blk["right"] else "")
    moved = blk["op"] == "move"
    return Markup('<p class="op-{op}{change}{moved}"{attrs}{title}>{nav}{inline}</p>').format(
        op=blk["op"], change=change, moved=Markup(" moved") if moved else "", attrs=attrs,
        title=Markup(' title="moved here"') if moved else "", nav=nav, inline=blk["inline"])


def fold(blocks: list[dict[str, Any]], context: int = CONTEXT,
         fold_min: int = FOLD_MIN) -> list[dict[str, Any] | list[dict[str, Any]]]:
    """The blocks with each long run of unchanged paragraphs replaced by a list of them (to fold).

    ``context`` unchanged paragraphs stay in view next to each change; a run is folded when at
    least ``fold_min`` paragraphs would be hidden. Without any change nothing is folded (a first
    version, or a change to the headline or metadata only, reads whole).
    """
    if not any(blk["change"] is not None for blk in blocks):
        return list(blocks)
    out: list[dict[str, Any] | list[dict[str, Any]]] = []
    i = 0
    while i < len(blocks):
        if blocks[i]["change"] is not None:
            out.append(blocks[i])
            i += 1
            continue
        j = i
        while j < len(blocks) and blocks[j]["change"] is None:
            j += 1
        run = blocks[i:j]
        before = context if i > 0 else 0  # kept after the previous change
        after = context if j < len(blocks) else 0  # kept before the next change
        if len(run) - before - after >= fold_min:
            out += run[:before]
            out.append(run[before:len(run) - after])
            out += run[len(run) - after:]
        else:
            out += run
        i = j
    return out


def diff_html(result: dict[str, Any], *, side_by_side: bool = False, folded: bool = True) -> Markup:
    """The ``<div id="diff">`` of a diff: the headline, then the body paragraph by paragraph,
    inline (``<ins>``/``<del>`` in one text) or ``side_by_side`` (old and new in two columns).

    Changed paragraphs are numbered (``id="change-1"``...), carry a margin mark and links to the
    previous and next change; with ``folded``, long runs of unchanged paragraphs are folded into a
    ``<details>`` "show N unchanged paragraphs" (see :func:`fold`).
    """
    blocks = display_blocks(result["body"])
    changes = sum(1 for blk in blocks if blk["change"] is not None)
    headline_change = Markup(" change") if "headline" in result["changed"] else ""
    if side_by_side:
        parts = [Markup('<div class="article-text side-by-side" id="diff">'),
                 Markup('<p class="headline old{}">{}</p>').format(
                     headline_change, words_html(result["headline"], "-")),
                 Markup('<p class="headline new{}">{}</p>').format(
                     headline_change, words_html(result["headline"], "+"))]
    else:
        parts = [Markup('<div class="article-text inline" id="diff">'),
                 Markup('<p class="headline{}">{}</p>').format(
                     headline_change, words_html(result["headline"]))]
    for item in fold(blocks) if folded else blocks:
        if isinstance(item, list):
            noun = "paragraph" if len(item) == 1 else "paragraphs"
            parts.append(Markup('<details class="unchanged"><summary>show {} unchanged {}</summary>'
                                '<div class="folded">').format(len(item), noun))
            parts += [_block_html(blk, side_by_side, changes) for blk in item]
            parts.append(Markup("</div></details>"))
        else:
            parts.append(_block_html(item, side_by_side, changes))
    parts.append(Markup("</div>"))
    return Markup("\n").join(parts)


def feed_html(result: dict[str, Any]) -> str:
    """A feed entry's content: the headline diff (when it changed), the changed metadata and the
    changed paragraphs only, as escaped HTML."""
    parts = []
    if "headline" in result["changed"]:
        parts.append(Markup("<p><strong>{}</strong></p>").format(words_html(result["headline"])))
    for m in result["metadata"]:
        parts.append(Markup("<p>{}: <del>{}</del> <ins>{}</ins></p>").format(
            m["field"], str(m["old"]), str(m["new"])))
    for blk in display_blocks([b for b in result["body"] if b["op"] != "equal"]):
        parts.append(Markup("<p>{}</p>").format(blk["inline"]))
    return str(Markup("\n").join(parts))


def diff_text(result: dict[str, Any]) -> str:
    """The diff as plain text (``[-deleted-]{+inserted+}``), for a report or ``--format text``."""
    return render_text(result)


_PAGE_STYLE = (
    "body{font:16px/1.5 Georgia,serif;max-width:46em;margin:2em auto;padding:0 1em}"
    "del{background:#fbd7d7;color:#7a0b0b}ins{background:#d5f5d5;color:#064d06}"
    ".moved{border-left:3px solid #88f;padding-left:.5em}.meta{font:14px sans-serif}"
    "#diff p{white-space:pre-wrap;overflow-wrap:anywhere}"
    "#diff p.change{border-left:4px solid #d08700;padding-left:.6em;margin-left:-1em}"
    ".change-nav{float:right;font:12px sans-serif;margin-left:.5em}.change-nav a{margin-left:.3em}"
    "details.unchanged summary{font:14px sans-serif;color:#555;cursor:pointer;margin:.5em 0}"
)


def page_html(url: str, old: dict[str, Any], new: dict[str, Any], result: dict[str, Any]) -> str:
    """A self-contained HTML page of a version diff (``newscrawler diff --format html``): no script,
    no external resource (a Content-Security-Policy of ``default-src 'none'``)."""
    parts = [
        Markup("<!DOCTYPE html><html><head><meta charset='utf-8'>"),
        Markup("<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
               "style-src 'unsafe-inline'\">"),
        Markup("<title>Diff of {}</title><style>{}</style></head><body>").format(
            url, Markup(_PAGE_STYLE)),
        Markup("<p class='meta'>{}<br>version {} ({}) &rarr; version {} ({})</p>").format(
            url, old["version"], old["captured_at"], new["version"], new["captured_at"]),
    ]
    for m in result["metadata"]:
        parts.append(Markup("<p class='meta'>{}: <del>{}</del> <ins>{}</ins></p>").format(
            m["field"], str(m["old"]), str(m["new"])))
    if change_count(result):
        parts.append(Markup("<p class='meta'><a href='#change-1'>jump to the first change</a> "
                            "({} changed paragraphs)</p>").format(change_count(result)))
    parts.append(diff_html(result))
    parts.append(Markup("</body></html>"))
    return str(Markup("\n").join(parts))
