"""Text from a fetched page's bytes: the character encoding the bytes are really in, labels notwithstanding."""

from __future__ import annotations

import codecs
import logging

from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom

logger = logging.getLogger(__name__)

_WIDE = ("utf-16", "utf-32")  # encodings that are not ASCII-compatible: never guessed, only declared


def decode_html(body: bytes, content_type: str | None = None) -> str:
    """Decode a page, trusting its bytes over wrong labels; never raises.

    In order: a byte order mark; a UTF-16/32 label that decodes; UTF-8 when the bytes are UTF-8
    (every non-ASCII sequence valid, or valid ones outnumbering the bad bytes: one cut character
    in a UTF-8 page is replaced, the page stays UTF-8), whatever the labels say, since servers
    label UTF-8 pages ISO-8859-1 by default; the charset of the Content-Type header, then of
    ``<meta>``, when the bytes decode in it without error; else windows-1252, the WHATWG Encoding
    Standard's fallback for undeclared Western pages, with undecodable bytes replaced (U+FFFD).
    Labels are resolved as browsers do (w3lib: ``iso-8859-1`` and ``ascii`` mean windows-1252;
    UTF-7 is refused). So cp1252 bytes labelled UTF-8 read as cp1252, and a site that corrects
    its label archives the same text as before.

    :param content_type: the Content-Type header as sent, e.g. ``text/html; charset=utf-8``.
    """
    encoding, bom = read_bom(body)
    if encoding:
        return body[len(bom):].decode(encoding, "replace")
    declared = [e for e in (http_content_type_encoding(content_type),
                            html_body_declared_encoding(body)) if e]
    for name in declared:
        if name.replace("_", "-").startswith(_WIDE) and (text := _strict(body, name)) is not None:
            return text
    if (text := _mostly_utf8(body)) is not None:
        return text
    for name in declared:
        if codecs.lookup(name).name != "utf-8" and (text := _strict(body, name)) is not None:
            return text
    if declared:
        logger.debug("bytes do not match the declared charsets %s: read as windows-1252", declared)
    return body.decode("cp1252", "replace")


def _strict(body: bytes, encoding: str) -> str | None:
    try:
        return body.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def _mostly_utf8(body: bytes) -> str | None:
    """``body`` decoded as UTF-8 when it is UTF-8: valid as such, or with more valid non-ASCII
    characters than bad bytes (those replaced by U+FFFD); else None."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    text = body.decode("utf-8", "replace")
    bad = text.count("\ufffd") - body.count("\ufffd".encode())
    non_ascii = len(text) - len(text.encode("ascii", "ignore"))
    return text if non_ascii - text.count("\ufffd") > bad else None
