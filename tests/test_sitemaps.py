"""Sitemap and syndication-feed parsing, Google News fields included."""

import gzip

from newscrawler.sitemaps import parse_feed, parse_sitemap, sniff_xml

NEWS_SITEMAP = b"""\xef\xbb\xbf<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
  <url>
    <loc>https://example.com/news/a.html</loc>
    <lastmod>2026-11-01T10:00:00+00:00</lastmod>
    <news:news>
      <news:publication><news:name>Example</news:name><news:language>en</news:language></news:publication>
      <news:publication_date>2026-11-01T09:00:00+01:00</news:publication_date>
      <news:title>Council approves depot</news:title>
    </news:news>
  </url>
  <url><loc>https://example.com/news/b.html</loc></url>
  <url><lastmod>2026-01-01</lastmod></url>
</urlset>"""


def test_news_sitemap_keeps_news_fields():
    kind, entries = parse_sitemap(NEWS_SITEMAP)
    assert kind == "urlset"
    assert [(e.url, e.lastmod, e.title, e.published) for e in entries] == [
        ("https://example.com/news/a.html", "2026-11-01T10:00:00+00:00", "Council approves depot",
         "2026-11-01T09:00:00+01:00"),
        ("https://example.com/news/b.html", None, None, None),
    ]


def test_sitemap_index():
    body = b"""<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
      <sitemap><loc>https://example.com/s1.xml.gz</loc><lastmod>2026-11-01</lastmod></sitemap>
    </sitemapindex>"""
    kind, entries = parse_sitemap(gzip.decompress(gzip.compress(body)))
    assert kind == "sitemapindex"
    assert [(e.url, e.lastmod) for e in entries] == [("https://example.com/s1.xml.gz", "2026-11-01")]


def test_not_a_sitemap():
    assert parse_sitemap(b"<html><body>hi</body></html>") == (None, [])
    assert parse_sitemap(b"") == (None, [])
    assert parse_sitemap(b"\x00\x01 not xml") == (None, [])


def test_entities_are_not_resolved():
    body = b"""<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>
    <urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>https://e.com/&e;</loc></url></urlset>"""
    _kind, entries = parse_sitemap(body)
    assert all("root:" not in e.url for e in entries)


def test_sniff_xml_roots():
    assert sniff_xml(NEWS_SITEMAP) == "urlset"
    assert sniff_xml(b'<?xml version="1.0"?>\n<rss version="2.0"><channel/></rss>') == "rss"
    assert sniff_xml(b'<feed xmlns="http://www.w3.org/2005/Atom"></feed>') == "feed"
    assert sniff_xml(b"<!DOCTYPE html><html></html>") in (None, "html")
    assert sniff_xml(b"%PDF-1.4") is None


def test_rss_and_atom_entries():
    rss = b"""<rss version="2.0"><channel><title>T</title>
      <item><title>One</title><link>https://example.com/1</link>
        <pubDate>Mon, 06 Sep 2021 16:45:00 +0200</pubDate></item>
      <item><title>No link</title></item></channel></rss>"""
    atom = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title>
      <entry><title>Two</title><link href="https://example.com/2"/><id>x</id>
        <updated>2026-11-02T10:00:00Z</updated><published>2026-11-01T10:00:00Z</published></entry></feed>"""
    [one] = parse_feed(rss)
    assert (one.url, one.title, one.published) == ("https://example.com/1", "One",
                                                   "Mon, 06 Sep 2021 16:45:00 +0200")
    [two] = parse_feed(atom)
    assert (two.url, two.lastmod, two.published) == ("https://example.com/2", "2026-11-02T10:00:00Z",
                                                     "2026-11-01T10:00:00Z")
