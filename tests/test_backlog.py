"""The spiders' backlog of article pages: hosts take turns, about CONCURRENT_REQUESTS in flight."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import pytest
from scrapy.exceptions import DontCloseSpider
from scrapy.utils.test import get_crawler

from newscrawler.spiders.articles import ArticleListSpider
from tests.archive_checks import numbered_story
from tests.crawling import rows, run_crawl, summary
from tests.site import LoopbackSite

URLS = ["http://a.example/1", "http://a.example/2", "http://a.example/3", "http://b.example/1",
        "http://b.example/2", "http://c.example/1"]


def spider(**settings) -> ArticleListSpider:
    crawler = get_crawler(ArticleListSpider, {"CONCURRENT_REQUESTS": 3, **settings})
    made = ArticleListSpider.from_crawler(crawler, urls=URLS)
    made._feed_engine = lambda: None  # no engine here: what a top-up would send, next_requests() shows
    for url in URLS:
        assert made.queue_article(url, "list", force=True)
    assert not made.queue_article(URLS[0] + "#again", "list", force=True)  # once per crawl
    return made


def test_hosts_take_turns_and_requests_in_flight_stay_under_the_cap():
    queued = spider()
    first = list(queued.next_requests())
    assert [r.url for r in first] == ["http://a.example/1", "http://b.example/1", "http://c.example/1"]
    assert list(queued.next_requests()) == []  # 3 in flight: CONCURRENT_REQUESTS
    queued._came_back(first[0])
    assert [r.url for r in queued.next_requests()] == ["http://a.example/2"]
    for request in first[1:]:
        queued._came_back(request)
    assert [r.url for r in queued.next_requests()] == ["http://b.example/2", "http://a.example/3"]
    assert not queued._backlog


def test_a_host_at_its_share_waits_and_the_others_go_on():
    """CONCURRENT_REQUESTS_PER_DOMAIN in flight per host: a slow host does not take the others' share."""
    queued = spider(CONCURRENT_REQUESTS_PER_DOMAIN=1)
    first = list(queued.next_requests())
    assert [r.url for r in first] == ["http://a.example/1", "http://b.example/1", "http://c.example/1"]
    queued._came_back(first[1])  # b is done; a (slow) and c are still in flight
    assert [r.url for r in queued.next_requests()] == ["http://b.example/2"]  # not a.example/2
    queued._came_back(first[2])
    assert list(queued.next_requests()) == []  # a's and b's shares are taken, c has nothing left
    queued._came_back(first[0])
    assert [r.url for r in queued.next_requests()] == ["http://a.example/2"]


def test_a_page_whose_request_cannot_be_made_is_counted_and_the_others_go_on(caplog):
    queued = spider()
    original = queued._article_request

    def broken_for_b(lead, host):
        if host == "b.example":
            raise OSError("disk I/O error")
        return original(lead, host)

    queued._article_request = broken_for_b
    with caplog.at_level(logging.ERROR):
        made = [r.url for r in queued.next_requests(10)]
    assert made == ["http://a.example/1", "http://c.example/1", "http://a.example/2", "http://a.example/3"]
    stats = queued.crawler.stats.get_stats()
    assert stats["spider_exceptions/count"] == 2 and stats["spider_exceptions/OSError"] == 2
    assert "cannot request http://b.example/1" in caplog.text


def test_two_sites_are_crawled_side_by_side(loopback_site, tmp_path):
    """One site's long sitemap does not hold the other site back until it is done."""
    other = LoopbackSite(tmp_path / "other", host="127.0.0.2")
    with other.serve():
        for site, name in ((loopback_site, "harbour"), (other, "council")):
            for n in range(30):
                site.add_page(f"/news/{name}-{n}.html", numbered_story(name, n))
            site.write_discovery()
        db = tmp_path / "news.db"
        proc = run_crawl(db, loopback_site.url("/sitemap.xml"), other.url("/sitemap.xml"),
                         settings=("CONCURRENT_REQUESTS=4",))
    assert summary(proc)["new"] == 60
    hosts = [urlsplit(url).hostname for (url,) in rows(db, "SELECT requested_url FROM captures ORDER BY id")]
    first = hosts[:20]
    assert first.count("127.0.0.1") >= 6 and first.count("127.0.0.2") >= 6, hosts


def test_an_idle_engine_is_fed_even_when_requests_went_missing_without_a_callback():
    queued = spider()
    fed = []
    queued._feed_engine = lambda: fed.extend(queued.next_requests())
    assert len(list(queued.next_requests())) == 3  # in flight; suppose all three are lost silently
    assert list(queued.next_requests()) == []
    with pytest.raises(DontCloseSpider):
        queued._keep_open()  # the engine went idle: nothing can be in flight
    assert [r.url for r in fed] == ["http://a.example/2", "http://b.example/2", "http://a.example/3"]
