"""extract_article on saved pages: bodies without boilerplate, metadata, and the benchmark's F1."""

import pytest

from newscrawler.dates import isoformat, parse_date
from newscrawler.extraction import EXTRACTOR, extract_article, prose_paragraphs
from tests.metrics import shingle_f1
from tests.site import load_fixture_pages

ARTICLES = [c for c in load_fixture_pages() if c["expected"].get("is_article", True)]
NOT_ARTICLES = [c for c in load_fixture_pages() if not c["expected"].get("is_article", True)]


@pytest.mark.parametrize("case", ARTICLES, ids=lambda c: c["name"])
def test_fixture_article(case):
    expected = case["expected"]
    result = extract_article(case["html"], expected["url"])
    assert result is not None
    assert result.headline == expected["headline"]
    assert result.body.startswith(expected["body_starts_with"])
    for paragraph in expected["body_must_contain"]:
        assert paragraph in result.body.split("\n\n"), paragraph
    for boilerplate in expected["body_must_not_contain"]:
        assert boilerplate not in result.body, boilerplate
    assert result.authors == expected["authors"]
    assert result.date_published == isoformat(parse_date(expected["date_published"]))
    assert prose_paragraphs(result.body) >= 5
    assert result.language == expected["language"]
    assert result.extractor == EXTRACTOR


def test_seed_case_rferl():
    """The RFE/RL article as a reader copied it: the archived body is the story and nothing else."""
    case = next(c for c in ARTICLES if c["name"] == "www.rferl.org.putin-nato-clinton")
    result = extract_article(case["html"], "https://www.rferl.org/a/putin-nato-clinton-stone/28530006.html")
    assert result.body.startswith("Russian President Vladimir Putin has claimed")
    assert result.body.endswith("With reporting by AFP")
    for gone in ("Accessibility links", "Breaking News", "16x9 Image",
                 "RFE/RL journalists report the news in 27 languages"):
        assert gone not in result.body
    assert result.canonical_url == "https://www.rferl.org/a/putin-nato-clinton-stone/28530006.html"
    assert result.date_published == "2017-06-02T17:23:14Z"
    assert result.date_published_raw == "2017-06-02T17:23:14Z"


def test_body_paragraphs_are_separated_by_a_blank_line():
    case = ARTICLES[0]
    body = extract_article(case["html"], case["expected"]["url"]).body
    assert "\n\n" in body and "\n\n\n" not in body
    assert all(p.strip() == p and p for p in body.split("\n\n"))


@pytest.mark.parametrize("case", NOT_ARTICLES, ids=lambda c: c["name"])
def test_section_front_is_not_an_article(case):
    result = extract_article(case["html"], case["expected"]["url"])
    assert result is None or prose_paragraphs(result.body) == 0


@pytest.mark.parametrize("html", ["", "   ", "<html></html>", "<<<>>>\x00", b"\x00\x01\x02"])
def test_garbage_gives_none(html):
    assert extract_article(html, "https://example.com/a") is None


def test_hints_fill_missing_dates():
    html = "<html><body><article>" + "<p>A sentence about the harbour works.</p>" * 20 + \
        "</article></body></html>"
    result = extract_article(html, "https://example.com/a",
                             hints={"published": "2026-01-02T03:04:05+01:00", "modified": None,
                                    "title": "From the sitemap"})
    assert result.date_published == "2026-01-02T02:04:05Z"
    assert result.date_published_raw == "2026-01-02T03:04:05+01:00"


@pytest.mark.corpus
def test_corpus_f1(corpus_pages):
    """Mean body F1 over the shared benchmark pages, scored with the benchmark's 4-word shingles."""
    predictions = {}
    for page in corpus_pages:
        result = extract_article(page["html"], page["url"])
        predictions[page["id"]] = result.body if result else ""
    truths = {page["id"]: page["truth"] for page in corpus_pages}
    precision, recall, f1 = shingle_f1(predictions, truths)
    assert f1 >= 0.95, (precision, recall, f1)


def test_raw_bytes_are_decoded_by_the_content_type_they_were_served_with():
    # How a worker gets a page, and how stored raw HTML is re-extracted: the bytes and their Content-Type.
    sentence = "Городской совет утвердил бюджет на следующий год после долгого обсуждения. "
    html = ("<html><head><title>Бюджет утверждён</title></head><body><article><h1>Бюджет утверждён</h1>"
            f"<p>{sentence * 6}</p><p>{sentence * 5}</p></article></body></html>")
    raw, url = html.encode("koi8-r"), "https://www.example.com/news/budget"
    labelled = extract_article(raw, url, content_type="text/html; charset=KOI8-R")
    assert labelled.headline == "Бюджет утверждён"
    assert sentence.strip() in labelled.body
    unlabelled = extract_article(raw, url)  # no charset anywhere: windows-1252, as decode_html says
    assert unlabelled is None or "Бюджет" not in unlabelled.body
