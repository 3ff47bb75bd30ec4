"""The extraction worker pool: same results as in-process, crashes cost one page, order per article."""

from __future__ import annotations

import ctypes
import functools
import json
import os
import re
import subprocess
import sys
import time

import pytest
from scrapy.settings import Settings

from newscrawler.extraction import extract_article
from newscrawler.pipelines import extract_workers
from newscrawler.workers import TaskTimeout, WorkerCrashed, WorkerPool, default_workers, describe_exit
from tests.crawling import REPO, rows, run_crawl, summary
from tests.hooks import extract_with_hooks, item_pipelines_setting, with_hook
from tests.site import load_fixture_pages

PAGES = load_fixture_pages()
ARTICLES = [c for c in PAGES if c["expected"].get("is_article", True)]


@pytest.fixture(scope="module")
def pool():
    with WorkerPool(2, timeout=20, preload=["newscrawler.extraction"]) as pool:
        yield pool


def unpicklable_result():
    return lambda: None


def test_pool_gives_the_same_extracted_as_in_process(pool):
    futures = [pool.submit(extract_article, c["html"], c["expected"]["url"], default_tz="Europe/Berlin")
               for c in PAGES]
    for case, future in zip(PAGES, futures, strict=True):
        assert future.result() == extract_article(case["html"], case["expected"]["url"],
                                                  default_tz="Europe/Berlin"), case["name"]


@pytest.mark.parametrize(("task", "reason"), [
    ((ctypes.string_at, 0), "worker process killed by signal 11 (SIGSEGV)"),
    ((os._exit, 3), "worker process exited with status 3"),
])
def test_a_dead_worker_fails_its_task_only(pool, task, reason):
    html, url = ARTICLES[0]["html"], ARTICLES[0]["expected"]["url"]
    crashes = pool.crashes
    before = [pool.submit(extract_article, html, url) for _ in range(3)]
    doomed = pool.submit(*task)
    after = [pool.submit(extract_article, html, url) for _ in range(3)]
    with pytest.raises(WorkerCrashed, match=re.escape(reason)):
        doomed.result()
    expected = extract_article(html, url)
    assert [f.result() for f in before + after] == [expected] * 6
    assert pool.crashes == crashes + 1


def test_memory_error_is_the_task_result_and_the_worker_lives_on():
    with WorkerPool(1) as pool:
        with pytest.raises(MemoryError):
            pool.submit(extract_with_hooks, with_hook(ARTICLES[0]["html"], "memory-error"), "http://x/").result()
        assert pool.submit(pow, 2, 10).result() == 1024
        assert (pool.started, pool.crashes) == (1, 0)


def test_unpicklable_result_fails_its_task(pool):
    with pytest.raises(RuntimeError, match="could not send its answer back"):
        pool.submit(unpicklable_result).result()
    assert pool.submit(pow, 3, 2).result() == 9


def test_a_task_past_the_timeout_is_killed():
    with WorkerPool(1, timeout=0.5) as pool:
        slow = pool.submit(time.sleep, 30)
        quick = pool.submit(pow, 2, 5)
        with pytest.raises(TaskTimeout, match="still running after 0.5 s"):
            slow.result(timeout=20)
        assert quick.result(timeout=20) == 32
        assert (pool.timeouts, pool.started) == (1, 2)


def test_the_initializer_runs_in_every_new_process(tmp_path):
    with WorkerPool(1, initializer=functools.partial(os.chdir, str(tmp_path))) as pool:
        assert pool.submit(os.getcwd).result(timeout=30) == str(tmp_path)
        with pytest.raises(WorkerCrashed):
            pool.submit(os._exit, 3).result(timeout=30)
        assert pool.submit(os.getcwd).result(timeout=30) == str(tmp_path)  # the replacement too
        assert pool.started == 2


def test_shutdown_stops_the_processes():
    pool = WorkerPool(2)
    assert pool.submit(pow, 2, 2).result() == 4
    pids = pool.pids()
    assert pids
    pool.shutdown()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    with pytest.raises(RuntimeError, match="shut down"):
        pool.submit(pow, 2, 2)


def test_workers_setting():
    assert extract_workers(Settings({"ARCHIVE_EXTRACT_WORKERS": None})) == default_workers() >= 1
    assert extract_workers(Settings({"ARCHIVE_EXTRACT_WORKERS": ""})) == default_workers()
    assert extract_workers(Settings({"ARCHIVE_EXTRACT_WORKERS": "0"})) == 0
    assert extract_workers(Settings({"ARCHIVE_EXTRACT_WORKERS": 3})) == 3
    with pytest.raises(ValueError, match="0 or more"):
        extract_workers(Settings({"ARCHIVE_EXTRACT_WORKERS": "-1"}))


@pytest.mark.parametrize("cpus, memory_gb, share, expected", [
    (1, 64, 0.3, 1), (2, 64, 0.3, 2), (4, 64, 0.3, 3), (16, 64, 0.3, 5),  # 16 cores: the crawl process saturates
    (16, 64, 0.1, 13), (64, 64, 0.1, 13),  # a lighter crawl process: the cores left after it, then it saturates
    (16, 0.4, 0.1, 2), (16, 0.05, 0.1, 1),  # little memory: what fits in half of it, at least one
    (16, None, 0.1, 13),  # memory unknown: no memory bound
])
def test_default_workers_are_sized_to_cpus_and_memory(cpus, memory_gb, share, expected):
    memory = None if memory_gb is None else int(memory_gb * (1 << 30))
    found = default_workers(cpus, memory, crawl_share=share, worker_ratio=1.25, worker_bytes=100 << 20)
    assert found == expected
    if memory_gb is None:
        import newscrawler.workers as workers
        original, workers.available_memory = workers.available_memory, lambda: None
        try:
            assert default_workers(cpus, crawl_share=share, worker_ratio=1.25) == expected
        finally:
            workers.available_memory = original


def test_the_machine_as_this_process_sees_it():
    from newscrawler.workers import available_memory, machine_cpus
    assert 1 <= machine_cpus() <= len(os.sched_getaffinity(0))
    meminfo = dict(line.split(":") for line in open("/proc/meminfo"))
    assert 0 < available_memory() <= int(meminfo["MemTotal"].split()[0]) * 1024
    assert 1 <= default_workers() <= machine_cpus()


def test_describe_exit():
    assert describe_exit(-9) == "killed by signal 9 (SIGKILL)"
    assert describe_exit(1) == "exited with status 1"


def test_workers_start_with_trafilaturas_tables_built():
    """The extraction workers' fork server imports newscrawler.warm, so every worker holds jusText's
    stop words of all languages (trafilatura's fallback for a page of unknown language) and the
    public suffix list (courlan's, through tld) before its first page; a plain pool's do not.

    Each pool in a process of its own: a fork server keeps the modules of the pool that started it.
    """
    warm, cold = _tables_in_a_worker("extraction_preload()"), _tables_in_a_worker("[]")
    assert warm["stop words"] > 100_000  # 154,484 in trafilatura 2.3.1
    assert warm["public suffix lists"] == 1
    assert cold == {"stop words": 0, "public suffix lists": 0}


def _tables_in_a_worker(preload: str) -> dict[str, int]:
    code = ("import json\n"
            "from newscrawler.pipelines import extraction_preload\n"
            "from newscrawler.workers import WorkerPool\n"
            "from tests.test_workers import tables_held\n"
            f"with WorkerPool(1, preload={preload}) as pool:\n"
            "    print(json.dumps(pool.submit(tables_held).result()))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, check=True)
    return json.loads(proc.stdout)


def tables_held() -> dict[str, int]:
    """In a worker: sizes of trafilatura's lazy tables (empty before its first use of them)."""
    import tld.utils
    import trafilatura.external

    return {"stop words": len(trafilatura.external.JT_STOPLIST or ()),
            "public suffix lists": len(tld.utils.tld_names)}


# --- full crawls ------------------------------------------------------------------------------------


def test_crawl_with_workers_archives_what_in_process_extraction_does(loopback_site, tmp_path):
    for case in PAGES:
        loopback_site.add_page(f"/news/{case['name']}.html", case["html"])
    loopback_site.write_discovery()
    tables = {}
    for workers in (0, 2):
        db = tmp_path / f"workers-{workers}.db"
        run_crawl(db, loopback_site.url("/sitemap.xml"), settings=(f"ARCHIVE_EXTRACT_WORKERS={workers}",))
        tables[workers] = rows(db, "SELECT a.url, v.headline, v.body, v.authors, v.date_published, v.language, "
                                   "v.tags, v.content_digest FROM versions v JOIN articles a ON a.id = v.article_id "
                                   "ORDER BY a.url")
        [(stats,)] = rows(db, "SELECT stats FROM crawls")
        assert json.loads(stats)["archive/extraction/workers"] == workers
        assert json.loads(stats).get("archive/extraction/processes_started", 0) == workers
    assert len(tables[0]) == len(ARTICLES)
    assert tables[2] == tables[0]


def test_a_crashing_page_fails_alone_and_the_crawl_goes_on(loopback_site, tmp_path):
    hooks = {"segfault": "segfault", "exit": "exit", "memory": "memory-error", "hang": "sleep 60"}
    good = {}
    for case in ARTICLES:
        loopback_site.add_page(f"/news/{case['name']}.html", case["html"])
        good[loopback_site.url(f"/news/{case['name']}.html")] = case
    for name, hook in hooks.items():
        loopback_site.add_page(f"/bad/{name}.html", with_hook(ARTICLES[0]["html"], hook))
    loopback_site.write_discovery()
    db = tmp_path / "news.db"
    proc = run_crawl(db, loopback_site.url("/sitemap.xml"), settings=(
        f"ITEM_PIPELINES={item_pipelines_setting()}", "ARCHIVE_EXTRACT_WORKERS=2", "ARCHIVE_EXTRACT_TIMEOUT=3"))
    assert summary(proc)["new"] == len(ARTICLES)
    assert summary(proc)["failed"] == len(hooks)
    failed = dict(rows(db, "SELECT requested_url, error FROM captures WHERE outcome = 'failed'"))
    # Under load, CPython's fork server sometimes loses a child's exit status and multiprocessing
    # reports 255 (python/cpython#140867); seen once in CI. The page still fails alone, as a crash.
    if failed.get(loopback_site.url("/bad/exit.html")) == "extraction crashed: worker process exited with status 255":
        failed[loopback_site.url("/bad/exit.html")] = "extraction crashed: worker process exited with status 3"
    assert failed == {
        loopback_site.url("/bad/segfault.html"): "extraction crashed: worker process killed by signal 11 (SIGSEGV)",
        loopback_site.url("/bad/exit.html"): "extraction crashed: worker process exited with status 3",
        loopback_site.url("/bad/memory.html"): "extraction failed: MemoryError",
        loopback_site.url("/bad/hang.html"): "extraction timed out: still running after 3 s; worker killed",
    }
    headlines = dict(rows(db, "SELECT a.url, v.headline FROM versions v JOIN articles a ON a.id = v.article_id"))
    assert headlines == {url: case["expected"]["headline"] for url, case in good.items()}
    [(stats,)] = rows(db, "SELECT stats FROM crawls")
    stats = json.loads(stats)
    assert (stats["archive/extraction/crashed"], stats["archive/extraction/timeout"],
            stats["archive/extraction/error"]) == (2, 1, 1)


def test_captures_of_one_url_are_archived_in_fetch_order(loopback_site, tmp_path):
    """/story is fetched twice (named, and through a redirect from /old): it changes in between,
    and the first fetch's extraction is slower; the archive still holds them in fetch order."""
    case = ARTICLES[0]
    first = with_hook(case["html"], "sleep 3")
    lead = case["expected"]["body_must_contain"][0]
    second = case["html"].replace(lead, lead + " A later sentence was added to this story.")
    assert second != case["html"]
    served = []

    def story(request):
        served.append(time.monotonic())
        if len(served) > 1:
            time.sleep(0.5)  # the second fetch surely arrives second
        body = first if len(served) == 1 else second
        request.send_body(200, body, content_type="text/html; charset=utf-8")

    loopback_site.add_route("/story.html", story)
    loopback_site.add_route("/old.html", lambda request: request.send_body(
        301, b"", headers={"Location": "/story.html"}))
    db = tmp_path / "news.db"
    proc = run_crawl(db, loopback_site.url("/story.html"), loopback_site.url("/old.html"), settings=(
        f"ITEM_PIPELINES={item_pipelines_setting()}", "ARCHIVE_EXTRACT_WORKERS=2"))
    assert len(served) == 2
    assert (summary(proc)["new"], summary(proc)["changed"]) == (1, 1), proc.stdout
    captures = rows(db, "SELECT c.outcome, v.version, v.body FROM captures c JOIN versions v "
                        "ON v.id = c.version_id ORDER BY c.id")
    assert [(outcome, version) for outcome, version, _ in captures] == [("new", 1), ("changed", 2)]
    assert "A later sentence was added" not in captures[0][2]
    assert "A later sentence was added" in captures[1][2]


def _item(html: str, url: str = "http://127.0.0.1/news/story.html"):
    from newscrawler.items import Capture

    return Capture(requested_url=url, final_url=url, status=200, captured_at="2026-01-01T00:00:00Z",
                       content_type="text/html; charset=utf-8", body=html.encode(), is_text=True, hints={})


def test_in_process_extraction_fails_one_page_on_memory_error():
    import asyncio

    from scrapy.utils.test import get_crawler

    from tests.hooks import HookedExtractPipeline

    crawler = get_crawler(settings_dict={"ARCHIVE_EXTRACT_WORKERS": 0})
    pipeline = HookedExtractPipeline.from_crawler(crawler)
    pipeline.open_spider()
    good = asyncio.run(pipeline.process_item(_item(ARTICLES[0]["html"])))
    bad = asyncio.run(pipeline.process_item(_item(with_hook(ARTICLES[0]["html"], "memory-error"))))
    pipeline.close_spider()
    assert good.extracted["headline"] == ARTICLES[0]["expected"]["headline"]
    assert (bad.outcome, bad.error, bad.extracted) == ("failed", "extraction failed: MemoryError", None)
    assert crawler.stats.get_value("archive/extraction/error") == 1
    assert crawler.stats.get_value("archive/extraction/workers") == 0


def test_extract_article_lets_memory_error_through(monkeypatch):
    """A MemoryError inside trafilatura is no verdict on the page: it must reach ExtractPipeline."""
    from newscrawler import extraction

    def out_of_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(extraction.trafilatura, "bare_extraction", out_of_memory)
    with pytest.raises(MemoryError):
        extract_article(ARTICLES[0]["html"], ARTICLES[0]["expected"]["url"])
