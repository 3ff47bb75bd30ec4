"""Metadata decisions (newscrawler.metadata) on generated variants, and through extract_article on real markup."""

from __future__ import annotations

import datetime as dt

import pytest

from newscrawler import metadata
from newscrawler.extraction import extract_article
from newscrawler.sites import load_sites, read_sites

HEADLINE = "Harbour board delays dredging until spring"
SITES = metadata.site_names("https://www.coastlinetimes.example/news/x", ["The Coastline Times"])


@pytest.mark.parametrize("sep", [" | ", " - ", " – ", " — ", " · ", " :: ", " » "])
@pytest.mark.parametrize("site", ["The Coastline Times", "Coastline Times", "coastlinetimes.example",
                                  "COASTLINE TIMES"])
def test_site_name_is_stripped_from_either_end(sep, site):
    assert metadata.strip_decorations(f"{HEADLINE}{sep}{site}", SITES) == HEADLINE
    assert metadata.strip_decorations(f"{site}{sep}{HEADLINE}", SITES) == HEADLINE


@pytest.mark.parametrize("title", [
    f"{HEADLINE} | Local | News | The Coastline Times",
    f"Opinion | {HEADLINE}",
    f"{HEADLINE} | Coastline Times",
])
def test_sections_go_with_the_site_name(title):
    assert metadata.strip_decorations(title, SITES) == HEADLINE


@pytest.mark.parametrize("headline", [
    "Star Wars Jedi: Fallen Order review - shoots for the moon, lands among the stars",
    "Milan Design Week 2018 | Michael Anastassiades' light installation for FLOS",
    "Brexit – what happens next",
])
def test_separators_inside_a_headline_are_kept(headline):
    assert metadata.strip_decorations(headline, SITES) == headline
    assert metadata.strip_decorations(f"{headline} - The Coastline Times", SITES) == headline


def test_h1_that_agrees_with_metadata_wins_over_the_seo_title():
    h1 = "‘We had some issues,’ exec says on glitches"
    assert metadata.choose_headline(["Coastline Times", h1], [
        "Glitches blamed on heavy demand, says executive", "'We had some issues,' exec says on glitches",
        "Glitches blamed on heavy demand - The Coastline Times"], SITES) == h1


def test_a_site_logo_h1_is_not_the_headline():
    assert metadata.choose_headline(["The Coastline Times"], [f"{HEADLINE} | The Coastline Times"],
                                    SITES) == HEADLINE
    assert metadata.choose_headline(["Games", "Entertainment"], [f"{HEADLINE} - Coastline Times"],
                                    SITES) == HEADLINE


@pytest.mark.parametrize(("byline", "expected"), [
    ("By Jane Doe", ["Jane Doe"]),
    ("by Jane Doe and John Roe", ["Jane Doe", "John Roe"]),
    ("Von Anna Schmidt und Jonas Weber", ["Anna Schmidt", "Jonas Weber"]),
    ("Par Claire Dubois et Luc Martin", ["Claire Dubois", "Luc Martin"]),
    ("Por María López y Juan Pérez", ["María López", "Juan Pérez"]),
    ("Текст: Венера Ерофеева", ["Венера Ерофеева"]),
    ("Jane Doe, Staff Writer", ["Jane Doe"]),
    ("By Jane DoeStaff Writer", ["Jane Doe"]),
    ("By GREG BEACHAM, AP Sports Writer", ["Greg Beacham"]),
    ("Analysis by Chris Cillizza, CNN Editor-at-large", ["Chris Cillizza"]),
    ("Rachael Link, MS, RD", ["Rachael Link"]),
    ("Jane Doe, The Coastline Times", ["Jane Doe"]),
    ("Jane Doe Coastline Times", ["Jane Doe"]),
    ("Jane Doe; Futurism", ["Jane Doe"]),
    ("The Coastline Times", []),
    ("Coastline Times Staff", []),
    ("admin", []),
    ("Coastline Times wire services Published 11:11 PM EST Nov 19, 2019", []),
    ("Tom Davies Associated Press Published 11:34 PM EST Nov 19, 2019", ["Tom Davies"]),
    ("Carrie Arnold November 15, 2019", ["Carrie Arnold"]),
    ("Sean Martin", ["Sean Martin"]),
    ("Theresa May", ["Theresa May"]),
    ("Reuters", ["Reuters"]),
    ("https://www.facebook.com/coastlinetimes", []),
])
def test_author_bylines(byline, expected):
    assert metadata.clean_authors([byline], SITES) == expected


def test_authors_are_deduplicated_across_sources_in_order():
    assert metadata.clean_authors(["By Jane Doe", "JANE DOE", "John Roe"], SITES) == ["Jane Doe", "John Roe"]


@pytest.mark.parametrize("raw", ["0001-01-01T00:00:00Z", "0001-01-01", "1970-01-01T00:00:00Z", "1970-01-01",
                                 "1900-01-01 00:00:00", "0000-01-01"])
def test_placeholder_dates_give_way(raw):
    value, chosen = metadata.choose_date([(raw, "json-ld"), ("2024-05-01T10:00:00Z", "meta")])
    assert chosen == "2024-05-01T10:00:00Z"
    assert value == dt.datetime(2024, 5, 1, 10, tzinfo=dt.UTC)


def test_a_date_only_value_stays_a_date():
    assert metadata.choose_date([("2024-05-01", "page")]) == (dt.date(2024, 5, 1), "2024-05-01")


@pytest.mark.parametrize(("exact", "zone", "expected"), [
    ("2024-05-01T09:30:00+02:00", "UTC", dt.datetime(2024, 5, 1, 7, 30, tzinfo=dt.UTC)),
    ("Wed, 01 May 2024 23:30:00 -0400", "America/New_York", dt.datetime(2024, 5, 2, 3, 30, tzinfo=dt.UTC)),
    ("2024-05-01 23:30", "Asia/Tokyo", dt.datetime(2024, 5, 1, 14, 30, tzinfo=dt.UTC)),
])
def test_an_exact_time_on_the_same_day_beats_a_date_only_guess(exact, zone, expected):
    value, chosen = metadata.choose_date([("2024-05-01", "page"), (exact, "sitemap")], zone)
    assert (value, chosen) == (expected, exact)


def test_an_exact_time_on_another_day_does_not_replace_the_page_date():
    value, _ = metadata.choose_date([("2024-05-01", "page"), ("2024-06-11T10:00:00Z", "sitemap")])
    assert value == dt.date(2024, 5, 1)


PAGE = """<html lang="en"><head><title>{title}</title>
<meta property="og:title" content="{og}"><meta property="og:site_name" content="The Coastline Times">
<script type="application/ld+json">{{"@type": "NewsArticle", "headline": "{og}",
 "datePublished": "{published}", "author": [{{"@type": "Person", "name": "{author}"}}]}}</script>
</head><body><header><h1 class="logo">The Coastline Times</h1></header>
<article><h1>{h1}</h1><p class="byline">By Jane Doe</p>
<p>The harbour board has delayed the dredging of the main channel until spring, its chair said on Monday.</p>
<p>Contractors had been due to start work in February, but the board said the permits were not ready.</p>
<p>Local fishermen said the delay would cost them another season of low tides at the quay.</p>
</article></body></html>"""


@pytest.mark.parametrize("title", [f"{HEADLINE} | The Coastline Times", f"{HEADLINE} - Coastline Times",
                                   f"Local | {HEADLINE} | The Coastline Times"])
def test_extract_article_headline_and_authors(title):
    html = PAGE.format(title=title, og=title, h1=HEADLINE, published="2024-05-01T09:30:00+02:00",
                       author="By Jane Doe, Staff Writer")
    result = extract_article(html, "https://www.coastlinetimes.example/news/harbour")
    assert result.headline == HEADLINE
    assert result.authors == ["Jane Doe"]
    assert result.date_published == "2024-05-01T07:30:00Z"


@pytest.mark.parametrize(("zone", "expected"), [("UTC", "2024-05-01T09:30:00Z"),
                                                ("Europe/Berlin", "2024-05-01T07:30:00Z"),
                                                ("America/New_York", "2024-05-01T13:30:00Z")])
def test_a_time_without_offset_is_read_in_the_sites_zone(zone, expected):
    html = PAGE.format(title=HEADLINE, og=HEADLINE, h1=HEADLINE, published="2024-05-01T09:30:00",
                       author="Jane Doe")
    url = "https://www.coastlinetimes.example/news/harbour"
    assert extract_article(html, url, hints={"timezone": zone}).date_published == expected
    assert extract_article(html, url, default_tz=zone).date_published == expected


def test_placeholder_in_json_ld_gives_way_to_the_sitemap():
    html = PAGE.format(title=HEADLINE, og=HEADLINE, h1=HEADLINE, published="0001-01-01T00:00:00Z", author="x")
    result = extract_article(html, "https://www.coastlinetimes.example/news/harbour",
                             hints={"published": "2024-05-01T09:30:00+02:00"})
    assert result.date_published == "2024-05-01T07:30:00Z"


def test_sites_toml_timezone(tmp_path):
    path = tmp_path / "sites.toml"
    path.write_text('[[site]]\nname = "a"\nfeeds = ["https://a.example/feed"]\ntimezone = "Europe/Prague"\n')
    assert load_sites(path)[0].timezone == "Europe/Prague"
    path.write_text('[[site]]\nname = "a"\nfeeds = ["https://a.example/feed"]\ntimezone = "Mars/Olympus"\n')
    sites, skipped = read_sites(path)  # the bad site is skipped with one line; the others are crawled
    assert sites == [] and [b.field for b in skipped] == ["timezone"]
    assert "must be an IANA zone name" in str(skipped[0])
