"""decode_html: pages whose bytes and labels disagree are read as their author wrote them."""

from __future__ import annotations

import pytest

from newscrawler.charsets import decode_html

TEXT = "Le café « crème » coûte 2 € – “cher”, l’hiver à Besançon."


def page(text: str, meta: str | None = None) -> str:
    head = f'<meta charset="{meta}">' if meta else ""
    return f"<html><head>{head}</head><body><p>{text}</p></body></html>"


@pytest.mark.parametrize(("encoding", "content_type", "meta"), [
    ("utf-8", "text/html; charset=utf-8", None),
    ("cp1252", "text/html; charset=utf-8", None),  # cp1252 bytes labelled UTF-8 by the server
    ("cp1252", "text/html; charset=UTF-8", "utf-8"),  # ... by both the server and the page
    ("utf-8", "text/html; charset=iso-8859-1", "utf-8"),  # header and meta disagree, bytes are UTF-8
    ("utf-8", "text/html; charset=iso-8859-1", None),  # a server default, never the page's encoding
    ("cp1252", "text/html; charset=utf-8", "windows-1252"),  # the meta is right, the header wrong
    ("cp1252", "text/html", None),  # no declaration at all: windows-1252 (WHATWG), not cp1250
    ("utf-8", None, None),
    ("iso-8859-15", "text/html; charset=iso-8859-15", None),  # a declaration that fits is obeyed
])
def test_text_is_read_as_written(encoding, content_type, meta):
    text = "Œuvre : le café coûte 2 €, à Besançon." if encoding == "iso-8859-15" else TEXT
    assert decode_html(page(text, meta).encode(encoding), content_type) == page(text, meta)


def test_declared_encodings_that_fit_are_obeyed():
    russian = page("Привет, мир", "koi8-r")
    assert decode_html(russian.encode("koi8-r"), "text/html") == russian
    japanese = page("日本語のニュース", "shift_jis")
    assert decode_html(japanese.encode("shift_jis"), None) == japanese


def test_a_byte_order_mark_wins():
    assert decode_html("\ufeff<p>héllo</p>".encode("utf-16-le"), "text/html; charset=utf-8") == "<p>héllo</p>"
    assert decode_html(b"\xef\xbb\xbf<p>h\xc3\xa9llo</p>", "text/html; charset=iso-8859-1") == "<p>héllo</p>"


def test_a_utf8_page_with_a_few_bad_bytes_stays_utf8():
    body = page(TEXT * 3).encode("utf-8")
    cut = body[:body.index("€".encode()) + 1] + body[body.index("€".encode()) + 3:]  # one character cut
    decoded = decode_html(cut, "text/html; charset=utf-8")
    assert decoded.count("\ufffd") == 1 and "café" in decoded


def test_utf7_is_never_decoded():
    """UTF-7 re-spells "<" in ASCII: a page declaring it could smuggle markup (w3lib refuses the label)."""
    body = b"<html><body><p>+ADw-script+AD4-alert(1)+ADw-/script+AD4-</p></body></html>"
    assert "<script>" not in decode_html(body, "text/html; charset=utf-7")
