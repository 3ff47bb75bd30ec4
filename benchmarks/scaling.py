"""How the crawl scales with cores and with shards, measured side by side in one run (issue 21).

Serves N real pages from ../shared/corpus/extraction on loopback (the corpus pages cycled under
distinct URLs, each copy made unique, as ``throughput.py`` does), spread over ``--sites`` sites on
127.0.0.1, 127.0.0.2, ... (one registered domain each, so shards can split them), then measures:

  bare      one bare trafilatura process (the crawl's options) over the pages
  bare||    one bare process per CPU side by side: the machine's extraction limit
  workers   ``newscrawler crawl`` of every site's sitemap with ARCHIVE_EXTRACT_WORKERS = 1 .. CPUs,
            and once with the default (``workers_default``: sized by newscrawler.workers.default_workers)
  shards    1 .. S crawls side by side (``--shard K/S``, each into its own archive, each with
            max(1, CPUs // S) workers), then ``newscrawler merge`` of their archives

For each crawl: pages/s and its ratio to one bare process and to the side-by-side limit; the
crawl process's CPU per page over a bare page's (target <= 0.10) and the workers'; peak RSS and
PSS of the crawl process and its children, and the peak PSS of each extraction worker (target <=
60 MB; PSS counts a page shared copy-on-write once among the processes sharing it). Every setting
is derived from the machine (CPUs from the affinity mask), so the same command runs unchanged on a
2-core and a 16-core machine. Prints the figures and ratios and writes them all to JSON.

    python benchmarks/scaling.py                       # N=1800: ~15 min on 2 cores
    python benchmarks/scaling.py --pages 200           # a quick look: ~3 min on 2 cores
    python benchmarks/scaling.py --max-workers 4 --max-shards 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.throughput import (  # noqa: E402 - the repository root is put on the path above
    CRAWL_SETTINGS,
    Sampler,
    _proc_kb,
    bare_loop,
    descendants,
    git_state,
    load_corpus,
    side_by_side,
    unique_copy,
)
from newscrawler.workers import default_workers, machine_cpus  # noqa: E402
from tests.site import LoopbackSite  # noqa: E402

TARGETS = {"crawl_process_over_bare": 0.10, "worker_pss_mb": 60.0,
           "of_side_by_side_2_cores": 0.85, "of_side_by_side_16_cores": 0.8}


class ProcessSampler(Sampler):
    """:class:`benchmarks.throughput.Sampler` that also keeps each process's peak PSS (MB) and what it
    is: the crawl process, the fork server, an extraction worker (a child of the fork server)."""

    def __init__(self, pid: int, interval: float = 0.5):
        super().__init__(pid, interval)
        self.peak_pss: dict[int, float] = {}
        self.kind: dict[int, str] = {}

    def run(self) -> None:  # the parent's loop, plus per-process PSS
        while not self._halt.is_set():
            for pid in [self.pid, *descendants(self.pid)]:
                if pid not in self.kind:
                    self.kind[pid] = _kind(pid, self.pid, self.kind)
                pss = _proc_kb(pid, "smaps_rollup", "Pss:") / 1024
                self.peak_pss[pid] = max(self.peak_pss.get(pid, 0.0), pss)
            self._halt.wait(self.interval)

    def stop(self) -> dict:
        self._halt.set()
        self.join()
        workers = [v for pid, v in self.peak_pss.items() if self.kind.get(pid) == "worker"]
        return {"peak_pss_mb_by_kind": {k: round(sum(v for p, v in self.peak_pss.items() if self.kind.get(p) == k), 1)
                                        for k in sorted(set(self.kind.values()))},
                "worker_pss_mb": [round(v, 1) for v in sorted(workers)],
                "worker_pss_mb_median": round(statistics.median(workers), 1) if workers else None}


def _kind(pid: int, root: int, known: dict[int, str]) -> str:
    if pid == root:
        return "crawl process"
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        ppid = int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])
    except (OSError, ValueError):
        return "other"
    if known.get(ppid) == "fork server":  # forked from it, so its command line is the fork server's
        return "worker"
    if b"forkserver" in cmdline:
        return "fork server"
    if b"resource_tracker" in cmdline:
        return "resource tracker"
    return "other"


def crawl(dbs: list[Path], sitemaps: list[str], settings: list[tuple[str, ...]], pages: int) -> dict:
    """Run one ``newscrawler crawl`` per archive at once (shards side by side), sampled; their figures.

    Exits the benchmark when a crawl fails.
    """
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("SCRAPY_SETTINGS_MODULE", None)
    os.sync()  # earlier writes flushed, untimed (see throughput.run_crawl)
    procs, samplers = [], []
    start, own_cpu = time.perf_counter(), time.process_time()
    for db, extra in zip(dbs, settings, strict=True):
        args = [sys.executable, "-m", "newscrawler", "crawl", *sitemaps, "--db", str(db)]
        for setting in CRAWL_SETTINGS:
            args += ["-s", setting]
        args += list(extra)
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO,
                                stdin=subprocess.DEVNULL)
        procs.append(proc)
        memory, per_process = Sampler(proc.pid), ProcessSampler(proc.pid)
        memory.start()
        per_process.start()
        samplers.append((memory, per_process))
    outputs = [proc.communicate() for proc in procs]
    seconds = time.perf_counter() - start
    server_cpu = time.process_time() - own_cpu
    figures = [{**memory.stop(), **per_process.stop()} for memory, per_process in samplers]
    for proc, (stdout, stderr) in zip(procs, outputs, strict=True):
        if proc.returncode != 0:
            sys.exit(f"crawl failed (exit {proc.returncode}):\n{stdout}\n{stderr[-4000:]}")
    archived = sum(int(line.split("new ")[1].split(",")[0]) for stdout, _ in outputs
                   for line in stdout.splitlines() if ": fetched " in line)
    crawl_cpu = sum(f.get("cpu_s_crawl_process", 0) for f in figures)
    children_cpu = sum(f.get("cpu_s_children", 0) for f in figures)
    workers_pss = [v for f in figures for v in f["worker_pss_mb"]]
    return {"processes": len(dbs), "seconds": round(seconds, 2), "pages_per_s": round(pages / seconds, 2),
            "new_versions": archived, "cpu_s_crawl_processes": round(crawl_cpu, 2),
            "cpu_s_children": round(children_cpu, 2), "cpu_s_loopback_server": round(server_cpu, 2),
            "crawl_process_cpu_ms_per_page": round(crawl_cpu * 1000 / pages, 2),
            "workers_cpu_ms_per_page": round(children_cpu * 1000 / pages, 2),
            "peak_rss_mb": round(sum(f.get("peak_rss_mb", 0) for f in figures), 1),
            "peak_pss_mb": round(sum(f.get("peak_pss_mb", 0) for f in figures), 1),
            "peak_crawl_process_rss_mb": max(f.get("peak_main_rss_mb", 0) for f in figures),
            "worker_pss_mb": sorted(workers_pss),
            "worker_pss_mb_median": round(statistics.median(workers_pss), 1) if workers_pss else None,
            "peak_pss_mb_by_kind": [f["peak_pss_mb_by_kind"] for f in figures],
            "summaries": [[ln for ln in stdout.splitlines() if ": fetched " in ln][-1] for stdout, _ in outputs]}


def ratios(run: dict, bare: dict, limit: dict) -> dict:
    """A crawl against the bare figures: pages/s over one bare process and over the side-by-side
    limit; the crawl process's and the workers' CPU per page over a bare page's."""
    bare_ms = bare["cpu_ms_per_page"]
    return {"over_one_bare": round(run["pages_per_s"] / bare["pages_per_s"], 3),
            "of_side_by_side": round(run["pages_per_s"] / limit["together_pages_per_s"], 3),
            "crawl_process_over_bare": round(run["crawl_process_cpu_ms_per_page"] / bare_ms, 3),
            "workers_over_bare": round(run["workers_cpu_ms_per_page"] / bare_ms, 3)}


def main() -> None:
    cpus = machine_cpus()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=1800, help="pages to serve and crawl (default 1800)")
    parser.add_argument("--sites", type=int, default=8, help="loopback sites the pages are spread over (default 8)")
    parser.add_argument("--max-workers", type=int, default=cpus, help=f"crawls with 1 .. this many workers "
                        f"(default: the CPUs, {cpus})")
    parser.add_argument("--max-shards", type=int, default=min(cpus, 4),
                        help=f"crawls as 1 .. this many shards side by side (default: min(CPUs, 4), {min(cpus, 4)})")
    parser.add_argument("--json", type=Path, help="where to write the figures (default: "
                        "benchmarks/results/scaling-<commit>-<CPUs>cpu-<N>.json)")
    opts = parser.parse_args()
    if opts.sites < opts.max_shards:
        parser.error("--sites must be at least --max-shards (a shard holds whole sites)")

    corpus = load_corpus()
    tmp = Path(tempfile.mkdtemp(prefix="newscrawler-scaling-"))
    fixed = datetime(2026, 1, 1, tzinfo=UTC)
    sites = [LoopbackSite(tmp / f"site{k}", host=f"127.0.0.{k + 1}", keep_alive=True) for k in range(opts.sites)]
    git = git_state()
    results: dict = {"pages": opts.pages, "cpus": cpus, "sites": opts.sites, "git": git,
                     "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
                     "python": platform.python_version(), "crawl_settings": list(CRAWL_SETTINGS),
                     "default_workers": default_workers(), "targets": TARGETS}
    try:
        for site in sites:
            site.start()
        served: list[tuple[str, str]] = []
        for n in range(opts.pages):
            page_id, html = corpus[n % len(corpus)]
            body = unique_copy(html, n)
            site = sites[n % len(sites)]
            path = f"/news/{n:05d}/{page_id[:16]}.html"
            site.add_page(path, body, lastmod=fixed, title=f"page {n}")
            served.append((site.url(path), body.decode("utf-8")))
        for site in sites:
            site.write_discovery()
        sitemaps = [site.url("/sitemap.xml") for site in sites]
        print(f"{opts.pages} pages on {len(sites)} loopback sites; {cpus} CPUs; default workers "
              f"{results['default_workers']}", flush=True)

        bare_loop(served[:5])  # untimed: trafilatura's first calls (the workers start warm)
        os.sync()
        seconds, cpu = bare_loop(served)
        bare = {"pages": len(served), "seconds": round(seconds, 2), "pages_per_s": round(len(served) / seconds, 2),
                "cpu_ms_per_page": round(cpu * 1000 / len(served), 2)}
        results["bare"] = bare
        print(f"bare trafilatura, one process: {bare['pages_per_s']:.1f} pages/s, {bare['cpu_ms_per_page']:.1f} ms "
              "CPU a page", flush=True)
        limit = side_by_side(served[:120], cpus)
        results["side_by_side"] = limit
        print(f"bare trafilatura, {cpus} processes side by side: {limit['together_pages_per_s']:.1f} pages/s "
              f"({limit['speedup']:.2f}x one)", flush=True)

        def report(label: str, run: dict) -> None:
            run["ratios"] = ratios(run, bare, limit)
            r = run["ratios"]
            print(f"{label}: {run['pages_per_s']:.1f} pages/s = {r['over_one_bare']:.2f} x one bare, "
                  f"{r['of_side_by_side']:.2f} of side by side; crawl process {r['crawl_process_over_bare']:.2f} of a "
                  f"bare page's CPU, workers {r['workers_over_bare']:.2f}; peak PSS {run['peak_pss_mb']:.0f} MB, "
                  f"per worker {run['worker_pss_mb_median']} MB", flush=True)

        results["workers"] = {}
        counts = list(range(1, opts.max_workers + 1))
        for w in [*counts, None]:
            db = tmp / f"workers-{w or 'default'}.db"
            setting = ("-s", f"ARCHIVE_EXTRACT_WORKERS={w}") if w else ()
            run = crawl([db], sitemaps, [setting], opts.pages)
            report(f"crawl, {w or 'default'} workers", run)
            results["workers"][str(w or "default")] = run
            for file in tmp.glob(db.name + "*"):
                file.unlink()

        results["shards"] = {}
        for s in range(1, opts.max_shards + 1):
            watched = tmp / f"sites-{s}.toml"
            watched.write_text("".join(f'[[site]]\nname = "site{k}"\nsitemaps = ["{url}"]\nshard = {k % s + 1}\n'
                                       for k, url in enumerate(sitemaps)), encoding="utf-8")
            dbs = [tmp / f"shards-{s}" / f"shard-{k}.db" for k in range(1, s + 1)]
            per_shard = max(1, cpus // s)
            shard_args = [("--shard", f"{k}/{s}", "-s", f"ARCHIVE_EXTRACT_WORKERS={per_shard}")
                          for k in range(1, s + 1)]
            run = crawl(dbs, ["--sites", str(watched)], shard_args, opts.pages)
            run["workers_per_shard"] = per_shard
            start = time.perf_counter()
            merged = tmp / f"shards-{s}" / "merged.db"
            subprocess.run([sys.executable, "-m", "newscrawler", "merge", *map(str, dbs), "--db", str(merged)],
                           check=True, cwd=REPO, capture_output=True, env={**os.environ, "PYTHONPATH": str(REPO)})
            run["merge_s"] = round(time.perf_counter() - start, 2)
            report(f"{s} shards side by side, {per_shard} workers each (merged in {run['merge_s']:.1f} s)", run)
            results["shards"][str(s)] = run
            for db in [*dbs, merged]:
                for file in db.parent.glob(db.name + "*"):
                    file.unlink()
    finally:
        for site in sites:
            site.stop()
    best = max(results["workers"].values(), key=lambda r: r["pages_per_s"])
    results["summary"] = {
        "best_workers_pages_per_s": best["pages_per_s"], "best_of_side_by_side": best["ratios"]["of_side_by_side"],
        "default_of_side_by_side": results["workers"]["default"]["ratios"]["of_side_by_side"],
        "crawl_process_over_bare_default": results["workers"]["default"]["ratios"]["crawl_process_over_bare"],
        "worker_pss_mb_median_default": results["workers"]["default"]["worker_pss_mb_median"],
        "best_shards_pages_per_s": max(r["pages_per_s"] for r in results["shards"].values())}
    print("summary:", json.dumps(results["summary"]), flush=True)
    path = opts.json or REPO / "benchmarks" / "results" / (
        f"scaling-{git.split()[0]}-{cpus}cpu-{opts.pages}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"figures written to {path}")


if __name__ == "__main__":
    main()
