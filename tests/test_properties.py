"""Properties of the pure parts, for any input hypothesis can think of: normalisation, digests, diffs,
date parsing, URL keys."""

from __future__ import annotations

import datetime as dt
import hashlib
import unicodedata
from collections import Counter
from urllib.parse import parse_qsl, urlsplit

from courlan.clean import TRACKERS_RE
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from newscrawler.changes import (
    _is_normal,
    _normal_form,
    content_digest,
    diff_paragraphs,
    diff_words,
    digested_paragraphs,
    normalize_text,
    paragraphs,
)
from newscrawler.charsets import decode_html
from newscrawler.dates import parse_date
from newscrawler.urls import article_key, clean_url, registered_domain

# Words without whitespace, from every script; the separators a page's markup may put between them.
WORD = st.text(st.characters(blacklist_categories=("Zs", "Zl", "Zp", "Cc", "Cs", "Cf")), min_size=1, max_size=8)
INLINE_SPACE = st.sampled_from([" ", "  ", "\t", "\u00a0", "\u2009", "\u202f", "\u200b", " \u00a0 ", "\u3000"])
BREAK = st.sampled_from(["\n", "\n\n", "\n \n", "\r\n\r\n", "\n\u00a0\n", "\n\n\n"])
PARAGRAPH = st.lists(WORD, min_size=1, max_size=12)
BODY = st.lists(PARAGRAPH, min_size=0, max_size=6)
#: No per-example deadline: a loaded CI machine must not turn a slow example into a failure.
relaxed = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def spaced(draw, body: list[list[str]]) -> str:
    """``body`` (paragraphs of words) written with arbitrary spaces and breaks between words."""
    out = [draw(st.sampled_from(["", " ", "\n", "\u00a0"]))]
    for i, words in enumerate(body):
        if i:
            out.append(draw(BREAK))
        for j, word in enumerate(words):
            out.append(word if j == 0 else draw(INLINE_SPACE) + word)
    out.append(draw(st.sampled_from(["", " ", "\n", "\u00a0\n"])))
    return "".join(out)


def canonical(body: list[list[str]]) -> str:
    return "\n\n".join(" ".join(words) for words in body)


# -- normalisation and digests -----------------------------------------------------------------------


@relaxed
@given(st.text())
@example("e\u0301\u200b\u0301 \n\n\u00a0x")
def test_normalize_text_is_idempotent(text):
    once = normalize_text(text)
    assert normalize_text(once) == once


#: Text that is often normal already: letters, combining accents, spaces, line breaks, a few others.
NEARLY_NORMAL = st.text(st.sampled_from(["a", "\u00e9", "e", "\u0301", "\u4e2d", " ", "\n", "\u00a0", "\u00ad", "\t"]))


@relaxed
@given(st.one_of(st.text(), NEARLY_NORMAL))
@example("e\u0301")  # NFD: not normal
@example("a\n\n\n\nb")  # an empty paragraph
@example("a \n\nb")  # a paragraph ending in a space
@example("a  b")  # two spaces in a row
def test_normal_text_is_told_apart_right(text):
    # normalize_text skips the work for text _is_normal accepts: it must be text the work leaves as it is.
    if _is_normal(text):
        assert _normal_form(text) == text
        assert normalize_text(text) == text
    else:
        assert normalize_text(text) == _normal_form(text)


@relaxed
@given(st.lists(PARAGRAPH, min_size=1, max_size=6))
def test_extracted_bodies_take_the_short_cut(body):
    # canonical() writes a body as extraction does: printable words, single spaces, blank lines.
    text = unicodedata.normalize("NFC", canonical(body))
    assert _is_normal(text) == all(c.isprintable() for c in text.replace("\n\n", ""))


@relaxed
@given(st.text())
@example("a\u0301\n\n\u0301b")
def test_paragraphs_of_a_body_are_normal_each(text):
    # digested_paragraphs digests each paragraph as split, without normalising it again.
    for paragraph, digest in digested_paragraphs(text):
        assert normalize_text(paragraph) == paragraph
        assert digest == hashlib.sha256(paragraph.encode()).hexdigest()[:16]


@relaxed
@given(st.data(), WORD, BODY)
def test_content_digest_ignores_spacing_and_no_break_spaces(data, headline, body):
    written = data.draw(spaced(body))
    assert normalize_text(written) == normalize_text(canonical(body))
    assert content_digest(headline, written) == content_digest(f"\u00a0{headline} ", canonical(body))


@relaxed
@given(WORD, BODY, BODY)
def test_content_digest_tells_different_texts_apart(headline, a, b):
    if canonical(a) != canonical(b):
        assert content_digest(headline, canonical(a)) != content_digest(headline, canonical(b))
    assert content_digest(headline + "x", canonical(a)) != content_digest(headline, canonical(a))


# -- diffs -------------------------------------------------------------------------------------------


@relaxed
@given(st.data(), PARAGRAPH, PARAGRAPH)
def test_diff_words_reassembles_both_texts(data, old_words, new_words):
    old, new = data.draw(spaced([old_words])), data.draw(spaced([new_words]))
    diff = diff_words(old, new)
    assert "".join(t for op, t in diff if op != "+").rstrip() == " ".join(old.split())
    assert "".join(t for op, t in diff if op != "-").rstrip() == " ".join(new.split())
    assert {op for op, _ in diff} <= {"=", "-", "+"}


@relaxed
@given(BODY, BODY)
@example([["A"], ["P"], ["B"], ["P"]], [["P"], ["A"], ["B"]])
def test_diff_paragraphs_rebuilds_the_new_body_and_keeps_every_old_paragraph(old, new):
    old_body, new_body = canonical(old), canonical(new)
    blocks = diff_paragraphs(old_body, new_body)
    assert "\n\n".join(b["new"] for b in blocks if b["new"] is not None) == normalize_text(new_body)
    assert Counter(b["old"] for b in blocks if b["old"] is not None) == Counter(paragraphs(old_body))
    for block in blocks:
        if block["op"] == "replace":
            assert "".join(t for op, t in block["words"] if op != "-").rstrip() == block["new"]


# -- dates -------------------------------------------------------------------------------------------

DATEISH = st.one_of(
    st.text(max_size=60),
    st.from_regex(r"\A\d{1,5}[-/. ]\d{1,2}[-/. ]\d{1,4}([T ]\d{1,2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?"
                  r"( ?(Z|[+-]\d{2}:?\d{2}|[A-Z]{2,5}))?\Z"),
    st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31),
                 timezones=st.none() | st.timezones()).map(lambda d: d.isoformat()),
)


@relaxed
@given(DATEISH, st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Not/AZone", ""]))
def test_parse_date_returns_none_a_date_or_an_aware_utc_datetime_and_never_raises(raw, zone):
    parsed = parse_date(raw, zone)
    if isinstance(parsed, dt.datetime):
        assert parsed.utcoffset() == dt.timedelta(0) and parsed.tzinfo is not None
        assert 1989 <= parsed.year <= 2101
    else:
        assert parsed is None or type(parsed) is dt.date


# -- URLs --------------------------------------------------------------------------------------------

HOST = st.one_of(
    st.from_regex(r"\A([a-zA-Z0-9]([a-zA-Z0-9-]{0,10}[a-zA-Z0-9])?\.){1,3}(com|org|co\.uk|de|news|example)\Z"),
    st.sampled_from(["127.0.0.1", "[::1]", "localhost", "BBC.CO.UK", "news.bbc.co.uk", "xn--bcher-kva.de",
                     "bücher.de", "example.com."]),
)
PARAM = st.tuples(
    st.one_of(st.sampled_from(["utm_source", "UTM_Medium", "utm_campaign", "fbclid", "gclid", "mc_cid", "id",
                               "page", "q", "ref", "utm%5Fterm"]), st.text(max_size=6)),
    st.text(max_size=8),
)
URL = st.builds(
    lambda scheme, user, host, port, path, params, fragment: (
        f"{scheme}://{user}{host}{port}{path}"
        + ("?" + "&".join(f"{k}={v}" for k, v in params) if params else "") + fragment),
    st.sampled_from(["http", "https", "HTTP", "Https"]),
    st.sampled_from(["", "user:pw@"]),
    HOST,
    st.sampled_from(["", ":80", ":443", ":8080", ":0"]),
    st.from_regex(r"\A(/[a-zA-Z0-9._~%!$&'()*+,;=:@-]{0,12}){0,4}/?\Z"),
    st.lists(PARAM, max_size=5),
    st.sampled_from(["", "#top", "#", "#a?b"]),
)


def _clean_or_none(url):
    try:
        return clean_url(url)
    except ValueError:
        return None


@relaxed
@given(st.one_of(URL, st.text(max_size=80)))
def test_clean_url_is_idempotent_and_leaves_no_tracker(url):
    cleaned = _clean_or_none(url)
    if cleaned is None:
        return
    assert clean_url(cleaned) == cleaned
    parts = urlsplit(cleaned)
    assert parts.scheme in ("http", "https") and not parts.fragment and parts.username is None
    assert not [k for k, _ in parse_qsl(parts.query, keep_blank_values=True) if TRACKERS_RE.search(k.lower())]


@relaxed
@given(URL, st.one_of(URL, st.text(max_size=40), st.none()))
def test_article_key_never_leaves_the_fetched_sites_registered_domain(fetched, canonical_url):
    if _clean_or_none(fetched) is None:
        return
    key = article_key(fetched, canonical_url)
    assert registered_domain(key) == registered_domain(clean_url(fetched))
    assert clean_url(key) == key


# -- charsets ------------------------------------------------------------------------------------------


@relaxed
@given(st.text(max_size=200), st.sampled_from(["utf-8", "cp1252", "latin-1"]),
       st.sampled_from([None, "text/html", "text/html; charset=utf-8", "text/html; charset=iso-8859-1",
                        "text/html; charset=bogus", "text/html; charset=utf-7"]))
def test_decode_html_never_raises_and_reads_utf8_as_written(text, encoding, content_type):
    try:
        body = text.encode(encoding)
    except UnicodeEncodeError:
        body = text.encode("utf-8")
        encoding = "utf-8"
    decoded = decode_html(body, content_type)
    assert isinstance(decoded, str)
    if encoding == "utf-8" and not text.startswith("\ufeff"):
        assert decoded == text
