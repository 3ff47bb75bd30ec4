"""Crawl throughput against bare extraction, measured side by side in one run (issue 5).

Serves N real pages from ../shared/corpus/extraction on loopback over HTTP/1.1 with persistent
connections (the 121 pages cycled under distinct URLs, each copy made unique by a <meta> tag so that
no two raw payloads are equal) and measures, in this order:

  a0  bare trafilatura, one process, over a slice of the same HTML (every R+1-th page)
  b1  the full ``newscrawler crawl`` of the sitemap: fetch, extract, store (default workers)
  a1  bare trafilatura over the next slice; then b2, a2, ... up to bR, aR (R = --rounds, default 3),
      each crawl into a new archive
  b0  the same crawl with ARCHIVE_EXTRACT_WORKERS=0 (extraction on the reactor), into a new archive
  c   re-checks of the unchanged archive of b1: "urls", the N article URLs named again (always
      fetched, unconditionally; same raw bytes skip extraction); "due", ``crawl --recheck`` once
      every article is due (next_check_at moved into the past): conditional requests, 304s
  a|| one bare loop per CPU side by side, against one loop, over 242 pages: the ceiling of b/a on
      this machine at that moment (a shared VM's CPUs do not give twice one CPU's work); b/a is
      also given as a share of it (b_over_a_of_ceiling)

This VM's speed moves by 20-50% from one minute to the next (one bare loop ran at 27 and 40 pages/s
three minutes apart), so each crawl bR is compared with the bare slices just before and after it
(aR-1 and aR, a minute or less away), and b/a is the median of the R rounds' ratios; c/b takes
the median b, b0/a the mean a of all slices (those two are not bracketed). While each
crawl runs, the RSS and PSS of the crawl process and its children (fork server, workers) are
sampled every 0.5 s, and their CPU time is read, with this process's own (the loopback server).
Prints the figures and the ratios b/a and c/b, and writes all of them to a JSON file.

    python benchmarks/throughput.py                  # N=2000, 3 rounds: ~8 min
    python benchmarks/throughput.py --pages 300 --rounds 1 --skip-in-process
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.site import LoopbackSite  # noqa: E402 - the repository root is put on the path above

CORPUS = REPO.parent / "shared" / "corpus" / "extraction"
CRAWL_SETTINGS = ("DOWNLOAD_DELAY=0", "AUTOTHROTTLE_ENABLED=False", "CONCURRENT_REQUESTS=32",
                  "CONCURRENT_REQUESTS_PER_DOMAIN=32", "RETRY_TIMES=1", "LOG_LEVEL=WARNING",
                  "ARCHIVE_ALLOW_PRIVATE_ADDRESSES=True")
TARGETS = {"b_over_a": 1.4, "c_over_b": 5.0, "peak_rss_mb": 400.0, "payload_stored_ratio": 0.20}


def load_corpus() -> list[tuple[str, bytes]]:
    """The corpus pages as ``(id, raw HTML bytes)``, sorted by id."""
    files = sorted((CORPUS / "html").glob("*.html.gz"))
    if not files:
        sys.exit(f"no corpus pages in {CORPUS / 'html'}: the shared folder must sit beside the clone")
    return [(f.name.split(".")[0], gzip.decompress(f.read_bytes())) for f in files]


_HEAD = re.compile(rb"<head[^>]*>", re.IGNORECASE)


def unique_copy(html: bytes, number: int) -> bytes:
    """The page with a ``<meta name="benchmark-copy">`` after ``<head>``: same article, new bytes."""
    tag = b'<meta name="benchmark-copy" content="%d">' % number
    match = _HEAD.search(html)
    return html[:match.end()] + tag + html[match.end():] if match else tag + html


class Sampler(threading.Thread):
    """Samples RSS and PSS (MB) of a process and all its descendants every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float = 0.5):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.samples: list[dict] = []
        self.cpu_s: dict[int, float] = {}  # pid -> user + system CPU seconds, as last seen
        self._halt = threading.Event()
        self._start = time.monotonic()

    def run(self) -> None:
        pids: list[int] = []
        while not self._halt.is_set():
            if len(self.samples) % 4 == 0:  # the process tree changes rarely: rescan /proc every 2 s
                pids = [self.pid, *descendants(self.pid)]
            rss = pss = 0
            for pid in pids:
                rss += _proc_kb(pid, "status", "VmRSS:")
                pss += _proc_kb(pid, "smaps_rollup", "Pss:")
                self.cpu_s[pid] = max(self.cpu_s.get(pid, 0.0), _cpu_seconds(pid))
            if rss:
                self.samples.append({"t": round(time.monotonic() - self._start, 2), "processes": len(pids),
                                     "rss_mb": round(rss / 1024, 1), "pss_mb": round(pss / 1024, 1),
                                     "main_rss_mb": round(_proc_kb(self.pid, "status", "VmRSS:") / 1024, 1)})
            self._halt.wait(self.interval)

    def stop(self) -> dict:
        """Stop sampling; peak and per-quarter figures (a flat crawl has equal late quarters)."""
        self._halt.set()
        self.join()
        s = self.samples
        if not s:
            return {}
        quarters = [s[len(s) * q // 4:max(len(s) * (q + 1) // 4, len(s) * q // 4 + 1)] for q in range(4)]
        return {
            "peak_rss_mb": max(x["rss_mb"] for x in s),
            "peak_pss_mb": max(x["pss_mb"] for x in s),
            "peak_main_rss_mb": max(x["main_rss_mb"] for x in s),
            "max_processes": max(x["processes"] for x in s),
            "rss_mb_by_quarter": [max(x["rss_mb"] for x in q) for q in quarters],
            "pss_mb_by_quarter": [max(x["pss_mb"] for x in q) for q in quarters],
            "samples": len(s),
            "cpu_s_crawl_process": round(self.cpu_s.get(self.pid, 0.0), 2),
            "cpu_s_children": round(sum(v for k, v in self.cpu_s.items() if k != self.pid), 2),
        }


def descendants(pid: int) -> list[int]:
    """Process ids of all descendants of ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rpartition(")")[2].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _proc_kb(pid: int, name: str, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def bare_loop(pages: list[tuple[str, str]]) -> tuple[float, float]:
    """Wall and CPU seconds of trafilatura alone over ``(url, html)`` pages, with the crawl's options."""
    import trafilatura

    from newscrawler.extraction import TRAFILATURA_OPTIONS

    start, cpu = time.perf_counter(), time.process_time()
    for url, html in pages:
        trafilatura.bare_extraction(html, url=url, **TRAFILATURA_OPTIONS)
    return time.perf_counter() - start, time.process_time() - cpu


def _bare_worker(pages: list[tuple[str, str]]) -> float:
    """CPU-bound body of :func:`side_by_side`: bare_loop's wall seconds in a pool process."""
    return bare_loop(pages)[0]


def side_by_side(pages: list[tuple[str, str]], processes: int) -> dict:
    """The most any crawl could reach here: ``processes`` bare loops at once against one loop.

    Each of ``processes`` spawned processes (trafilatura imported and warmed first) runs
    :func:`bare_loop` over all ``pages``; then one loop alone in the same processes. On a
    machine whose CPUs are not independent (SMT siblings, a busy host), ``processes`` loops give
    less than ``processes`` times one, and so does any crawl that extracts on them.
    """
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        pool.map(_bare_worker, [pages[:2]] * processes)  # import and warm up
        start = time.perf_counter()
        pool.map(_bare_worker, [pages] * processes, chunksize=1)
        together = time.perf_counter() - start
        alone = pool.apply(_bare_worker, (pages,))
    return {"pages": len(pages), "processes": processes, "one_loop_pages_per_s": round(len(pages) / alone, 2),
            "together_pages_per_s": round(processes * len(pages) / together, 2),
            "speedup": round(processes * alone / together, 3)}


def extract_article_loop(pages: list[tuple[str, str]]) -> float:
    """Seconds for :func:`newscrawler.extraction.extract_article` over the pages, one process."""
    from newscrawler.extraction import extract_article

    start = time.perf_counter()
    for url, html in pages:
        extract_article(html, url)
    return time.perf_counter() - start


def run_crawl(db: Path, targets: list[str], settings: tuple[str, ...], pages: int, check: bool = True) -> dict:
    """Run ``newscrawler crawl`` in a subprocess with RSS sampling; its figures as a dict.

    A crawl that fails exits the benchmark, unless not ``check``: then its figures say why.
    """
    args = [sys.executable, "-m", "newscrawler", "crawl", *targets, "--db", str(db)]
    for setting in CRAWL_SETTINGS + settings:
        args += ["-s", setting]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("SCRAPY_SETTINGS_MODULE", None)
    # Written just before, and not yet on disk: the site's pages (380 MB at N=2000) or the last
    # crawl's archive. Flushed here, untimed, so that their writeback (the kernel's CPU for it, and
    # this crawl's checkpoints' fdatasync queued behind it) falls outside the crawl timed.
    os.sync()
    start, own_cpu = time.perf_counter(), time.process_time()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=REPO, stdin=subprocess.DEVNULL)
    sampler = Sampler(proc.pid)
    sampler.start()
    stdout, stderr = proc.communicate()
    seconds = time.perf_counter() - start
    server_cpu = time.process_time() - own_cpu  # this process meanwhile: the loopback server (+ sampler)
    memory = sampler.stop()
    if proc.returncode != 0:
        if check:
            sys.exit(f"crawl failed (exit {proc.returncode}):\n{stdout}\n{stderr[-4000:]}")
        return {"failed": f"exit {proc.returncode}: {stderr.strip()[-500:]}", "seconds": round(seconds, 2)}
    summary = [ln for ln in stdout.splitlines() if ": fetched " in ln][-1]
    conn = sqlite3.connect(db)
    [(stats,)] = conn.execute("SELECT stats FROM crawls ORDER BY id DESC LIMIT 1").fetchall()
    conn.close()
    stats = json.loads(stats or "{}")
    return {"seconds": round(seconds, 2), "pages_per_s": round(pages / seconds, 2), "summary": summary,
            "elapsed_in_crawl_s": stats.get("elapsed_time_seconds"),
            "workers": stats.get("archive/extraction/workers"), **memory,
            "cpu_s_loopback_server": round(server_cpu, 2),
            "cpu_ms_per_page": round((memory.get("cpu_s_crawl_process", 0) + memory.get("cpu_s_children", 0)
                                      + server_cpu) * 1000 / pages, 1),
            "warnings": [ln for ln in stderr.splitlines() if "WARNING" in ln or "ERROR" in ln][:20]}


def cpu_account(crawl: dict, around: list[dict], pages: int, cpus: int) -> dict:
    """A crawl's b/a from CPU time: what a crawled page costs, per bare page of the slices beside it.

    ``workers_over_bare``: the extraction workers' CPU per page over the bare loop's (above 1: our
    extraction's extra work, and CPUs slowed by each other); ``fetch_store_over_bare``: the crawl
    process's and the loopback server's; ``cpus_busy``: share of the ``cpus`` busy during the crawl.
    ``b_over_a_from_cpu`` = cpus x busy / (the two shares): equal to the measured b/a when the bare
    slices ran at the crawl's speed.
    """
    bare_ms = sum(x["cpu_s"] for x in around) * 1000 / sum(x["pages"] for x in around)
    workers_ms = crawl.get("cpu_s_children", 0) * 1000 / pages
    fetch_store_ms = (crawl.get("cpu_s_crawl_process", 0) + crawl["cpu_s_loopback_server"]) * 1000 / pages
    busy = (workers_ms + fetch_store_ms) * pages / 1000 / (cpus * crawl["seconds"])
    return {"bare_cpu_ms_per_page": round(bare_ms, 1), "workers_over_bare": round(workers_ms / bare_ms, 3),
            "fetch_store_over_bare": round(fetch_store_ms / bare_ms, 3), "cpus_busy": round(busy, 3),
            "b_over_a_from_cpu": round(cpus * busy * bare_ms / (workers_ms + fetch_store_ms), 3)}


def storage(db: Path) -> dict:
    """Bytes on disk per version, per table, and how small the raw HTML is stored."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    versions = conn.execute("SELECT count(*) FROM versions").fetchone()[0]
    raw, stored, compressions, against_dictionary = conn.execute(
        "SELECT sum(size), sum(length(data)), group_concat(DISTINCT compression), count(dictionary) "
        "FROM payloads").fetchone()
    try:
        tables = dict(conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"))
    except sqlite3.OperationalError:  # SQLite built without dbstat
        tables = {}
    conn.close()
    size = sum(p.stat().st_size for p in db.parent.glob(db.name + "*"))
    return {"db_bytes": size, "versions": versions, "bytes_per_version": round(size / max(versions, 1)),
            "payload_raw_bytes": raw, "payload_stored_bytes": stored, "payload_compression": compressions,
            "payloads_against_a_dictionary": against_dictionary,
            "payload_stored_ratio": round(stored / raw, 4) if raw else None, "bytes_by_table": tables}


def git_state() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                              text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True).stdout.strip()
        return head + (" + uncommitted changes" if dirty else "")
    except OSError:
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=2000, help="pages to serve and crawl (default 2000)")
    parser.add_argument("--workers", default="", help="ARCHIVE_EXTRACT_WORKERS for crawl b (default: the setting's)")
    parser.add_argument("--bare-pages", type=int, help="pages in the bare loop, all slices (default: all N)")
    parser.add_argument("--rounds", type=int, default=3, help="crawls b, each between two bare slices (default 3)")
    parser.add_argument("--skip-in-process", action="store_true", help="skip crawl b0 (workers=0)")
    parser.add_argument("--recheck", choices=["both", "urls", "due"], default="both",
                        help="c as the N article URLs named again (urls), as `crawl --recheck` with every "
                             "article made due (due: conditional requests), or both (default)")
    parser.add_argument("--set", "-s", action="append", default=[], metavar="NAME=VALUE",
                        help="extra setting for every crawl (repeatable)")
    parser.add_argument("--json", type=Path, default=REPO / "benchmarks" / "throughput.json",
                        help="where to write the figures")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary site and the archives of b1, b0 and c (later rounds' are deleted)")
    opts = parser.parse_args()
    if opts.rounds < 1:
        parser.error("--rounds must be 1 or more")
    if min(opts.bare_pages or opts.pages, opts.pages) < 2 * (opts.rounds + 1):
        parser.error(f"--pages and --bare-pages must give each of the {opts.rounds + 1} bare slices 2 pages or more")

    corpus = load_corpus()
    tmp = Path(tempfile.mkdtemp(prefix="newscrawler-bench-"))
    site = LoopbackSite(tmp / "site", keep_alive=True)  # persistent connections, as news sites keep
    fixed = datetime(2026, 1, 1, tzinfo=UTC)
    extra = tuple(opts.set)
    results: dict = {"pages": opts.pages, "cpus": len(os.sched_getaffinity(0)), "corpus_pages": len(corpus),
                     "started_at": datetime.now(UTC).isoformat(timespec="seconds"), "git": git_state(),
                     "python": platform.python_version(), "crawl_settings": list(CRAWL_SETTINGS + extra)}
    try:
        with site.serve():
            served: list[tuple[str, str]] = []
            raw_bytes = 0
            for n in range(opts.pages):
                page_id, html = corpus[n % len(corpus)]
                body = unique_copy(html, n)
                path = f"/news/{n:05d}/{page_id[:16]}.html"
                site.add_page(path, body, lastmod=fixed, title=f"page {n}")
                served.append((site.url(path), body.decode("utf-8")))
                raw_bytes += len(body)
            site.write_discovery()
            results["served_raw_bytes"] = raw_bytes
            bare = served[:opts.bare_pages or len(served)]
            slices = [bare[k::opts.rounds + 1] for k in range(opts.rounds + 1)]
            print(f"{opts.pages} pages ({raw_bytes / 1e6:.0f} MB) on {site.base_url}; "
                  f"{results['cpus']} CPUs", flush=True)

            bare_runs: list[dict] = []

            def bare_slice(k: int) -> None:
                os.sync()  # as before each crawl (run_crawl): no writeback of earlier writes meanwhile
                seconds, cpu = bare_loop(slices[k])
                bare_runs.append({"pages": len(slices[k]), "seconds": seconds, "cpu_s": cpu,  # unrounded: ratios
                                  "pages_per_s": round(len(slices[k]) / seconds, 2)})
                print(f"a{k} bare trafilatura, {len(slices[k])} pages: {len(slices[k]) / seconds:.1f} pages/s",
                      flush=True)

            workers = (f"ARCHIVE_EXTRACT_WORKERS={opts.workers}",) if opts.workers else ()
            bare_loop(bare[:5])  # untimed: trafilatura's first calls (the workers start warm)
            bare_slice(0)
            crawls: list[dict] = []
            for r in range(1, opts.rounds + 1):
                round_db = tmp / f"news-{r}.db"
                b = run_crawl(round_db, [site.url("/sitemap.xml")], workers + extra, opts.pages)
                b["storage"] = storage(round_db)
                print(f"b{r} crawl: {b['pages_per_s']:.1f} pages/s, peak RSS {b.get('peak_rss_mb')} MB "
                      f"(PSS {b.get('peak_pss_mb')} MB); {b['summary']}", flush=True)
                crawls.append(b)
                bare_slice(r)
                if r > 1:  # only b1's archive is re-checked (c) and kept with --keep
                    for file in tmp.glob(round_db.name + "*"):
                        file.unlink()
            results["crawl"], results["crawl_rounds"] = crawls[0], crawls
            db = tmp / "news-1.db"

            if not opts.skip_in_process:
                b0 = run_crawl(tmp / "in-process.db", [site.url("/sitemap.xml")],
                               ("ARCHIVE_EXTRACT_WORKERS=0",) + extra, opts.pages)
                print(f"b0 crawl, extraction in-process: {b0['pages_per_s']:.1f} pages/s, "
                      f"peak RSS {b0.get('peak_rss_mb')} MB", flush=True)
                results["crawl_in_process"] = b0

            modes = ["urls", "due"] if opts.recheck == "both" else [opts.recheck]
            for mode in modes:
                site.clear_log()
                if mode == "urls":  # named article URLs are always fetched (no conditional request)
                    targets = [url for url, _ in served]
                else:  # every article due (as if time had passed): crawl --recheck, conditional requests
                    conn = sqlite3.connect(db)
                    with conn:
                        conn.execute("UPDATE articles SET next_check_at = '2000-01-01T00:00:00Z'")
                    conn.close()
                    targets = ["--recheck", "-s", f"ARCHIVE_RECHECK_MAX={opts.pages}"]
                c = run_crawl(db, targets, workers + extra, opts.pages, check=False)
                c["conditional_requests"] = sum(1 for _m, p, h in site.requests if p.startswith("/news/")
                                                and ("If-None-Match" in h or "If-Modified-Since" in h))
                c["page_requests"] = sum(1 for _m, p, _h in site.requests if p.startswith("/news/"))
                c["storage_after"] = storage(db)
                print(f"c  re-check ({mode}): {c.get('pages_per_s', 0):.1f} pages/s; {c.get('summary')}; "
                      f"{c['conditional_requests']} of {c['page_requests']} requests conditional", flush=True)
                results[f"recheck_{mode}"] = c

            sample = [served[n] for n in range(min(len(corpus), len(served)))]
            ea = extract_article_loop(sample)
            ceiling = side_by_side(served[:2 * len(corpus)], results["cpus"])
            print(f"   {ceiling['processes']} bare loops side by side: {ceiling['together_pages_per_s']:.1f} pages/s "
                  f"= {ceiling['speedup']:.2f} x one loop ({ceiling['one_loop_pages_per_s']:.1f} pages/s): "
                  "the most b/a can be on this machine now", flush=True)
            results["bare_side_by_side"] = ceiling
    finally:
        if not opts.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {tmp}")

    bare_pages, bare_seconds = sum(x["pages"] for x in bare_runs), sum(x["seconds"] for x in bare_runs)
    a = bare_pages / bare_seconds
    results["bare"] = {"pages": bare_pages, "seconds": round(bare_seconds, 2), "pages_per_s": round(a, 2),
                       "slices": bare_runs,
                       "cpu_ms_per_page": round(sum(x["cpu_s"] for x in bare_runs) * 1000 / bare_pages, 1)}
    results["extract_article_loop"] = {"pages": len(sample), "pages_per_s": round(len(sample) / ea, 2)}
    by_round = []
    for r, crawl in enumerate(crawls, 1):  # crawl r against the bare slices just before and after it
        around = bare_runs[r - 1:r + 1]
        crawl["bare_around_pages_per_s"] = round(sum(x["pages"] for x in around) / sum(x["seconds"] for x in around), 2)
        by_round.append(round(crawl["pages_per_s"] / crawl["bare_around_pages_per_s"], 3))
        crawl["account"] = cpu_account(crawl, around, opts.pages, results["cpus"])
    b = statistics.median(c["pages_per_s"] for c in crawls)
    ratios = {"b_over_a": round(statistics.median(by_round), 3), "b_over_a_by_round": by_round,
              **{f"{part}_cpu_over_bare": round(statistics.median(c["account"][f"{part}_over_bare"] for c in crawls), 3)
                 for part in ("workers", "fetch_store")}}
    for mode in ("due", "urls"):
        if results.get(f"recheck_{mode}", {}).get("pages_per_s"):
            ratios[f"c_{mode}_over_b"] = round(results[f"recheck_{mode}"]["pages_per_s"] / b, 3)
    c_key = next((k for k in ("c_due_over_b", "c_urls_over_b") if k in ratios), None)
    ratios["c_over_b"] = ratios[c_key] if c_key else None
    results["c_is"] = c_key
    if "crawl_in_process" in results:
        ratios["b0_over_a"] = round(results["crawl_in_process"]["pages_per_s"] / a, 3)
    # What b/a would be with every CPU busy for the crawl all the time (each round's CPU account).
    ratios["b_over_a_if_cores_were_free"] = round(statistics.median(
        c["account"]["b_over_a_from_cpu"] / c["account"]["cpus_busy"] for c in crawls), 3)
    if "bare_side_by_side" in results:  # b/a as a share of what this machine gave two processes meanwhile
        ratios["b_over_a_of_ceiling"] = round(ratios["b_over_a"] / results["bare_side_by_side"]["speedup"], 3)
    results["ratios"] = ratios
    measured = {**ratios, "peak_rss_mb": max(c.get("peak_rss_mb", 0) for c in crawls),
                "payload_stored_ratio": results["crawl"]["storage"]["payload_stored_ratio"]}
    results["targets"] = {
        name: {"target": target, "measured": measured[name],
               "met": (measured[name] <= target) if name in ("peak_rss_mb", "payload_stored_ratio")
               else (measured[name] >= target)}
        for name, target in TARGETS.items() if measured.get(name) is not None}
    print(f"a  bare trafilatura: {a:.1f} pages/s (extract_article: "
          f"{results['extract_article_loop']['pages_per_s']:.1f} pages/s)")
    for r, (crawl, ratio) in enumerate(zip(crawls, by_round, strict=True), 1):
        print(f"b{r}: {crawl['pages_per_s']:.1f} pages/s against a{r - 1}+a{r} {crawl['bare_around_pages_per_s']:.1f}: "
              f"b/a {ratio:.2f}; CPU per page {crawl['cpu_ms_per_page']} ms = crawl process "
              f"{crawl.get('cpu_s_crawl_process', 0) * 1000 / opts.pages:.1f} + workers "
              f"{crawl.get('cpu_s_children', 0) * 1000 / opts.pages:.1f} + loopback server "
              f"{crawl['cpu_s_loopback_server'] * 1000 / opts.pages:.1f}")
        account = crawl["account"]
        print(f"    per bare page beside it ({account['bare_cpu_ms_per_page']} ms): workers "
              f"{account['workers_over_bare']:.2f} + fetch and store {account['fetch_store_over_bare']:.2f}; "
              f"CPUs {account['cpus_busy']:.0%} busy: {results['cpus']} x busy / (workers + fetch and store) "
              f"= {account['b_over_a_from_cpu']:.2f}")
    print(f"b/a = {ratios['b_over_a']:.2f}, median of {len(by_round)} (target >= 1.4)   c/b = {ratios['c_over_b']} "
          f"(target >= 5; {c_key})" + "".join(f"   {k} = {v:.2f}" for k, v in ratios.items()
                                              if k not in ("b_over_a", "c_over_b", "b_over_a_by_round") and v))
    st = results["crawl"]["storage"]
    print(f"storage: {st['bytes_per_version']} bytes on disk per version; raw HTML stored at "
          f"{st['payload_stored_ratio']:.1%} of its size ({st['payload_compression']})")
    opts.json.parent.mkdir(parents=True, exist_ok=True)
    opts.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"figures written to {opts.json}")


if __name__ == "__main__":
    main()
