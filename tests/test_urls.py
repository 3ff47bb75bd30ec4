"""Article keys: tracking parameters dropped, canonical URLs trusted only on the same site."""

import pytest

from newscrawler.urls import article_key, clean_url, registered_domain


def test_clean_url_drops_trackers_and_fragment_keeps_real_parameters():
    url = "HTTP://News.Example.com:80/a/story?id=3&utm_source=x&fbclid=abc&page=2#comments"
    assert clean_url(url) == "http://news.example.com/a/story?id=3&page=2"


def test_clean_url_is_idempotent():
    once = clean_url("https://example.com/x?utm_medium=a&b=1")
    assert clean_url(once) == once


@pytest.mark.parametrize("bad", ["ftp://example.com/a", "javascript:alert(1)", "/relative", ""])
def test_clean_url_refuses_non_http(bad):
    with pytest.raises(ValueError):
        clean_url(bad)


def test_registered_domain_uses_public_suffix_list():
    assert registered_domain("https://news.bbc.co.uk/x") == "bbc.co.uk"
    assert registered_domain("http://127.0.0.1:8000/x") == "127.0.0.1"
    assert registered_domain("http://localhost/x") == "localhost"


def test_same_site_canonical_becomes_the_key():
    key = article_key("https://www.example.com/story?utm_source=rss", "https://example.com/story")
    assert key == "https://example.com/story"


def test_cross_domain_canonical_cannot_hijack():
    assert (
        article_key("https://www.example.com/story", "https://evil.example.org/story")
        == "https://www.example.com/story"
    )
    assert article_key("http://127.0.0.1:8000/a", "https://www.rferl.org/a/x.html") == "http://127.0.0.1:8000/a"


def test_bad_canonical_falls_back_to_fetched_url():
    assert article_key("https://example.com/a", "javascript:alert(1)") == "https://example.com/a"
