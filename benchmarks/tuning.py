"""Process tuning against none, side by side in one run: does each knob still earn its place?

Serves N real corpus pages on loopback (as ``throughput.py`` does) and crawls them once per
variant per round, the variants taking turns in a new order each round (so that the machine's
drift hits them alike); each crawl goes into a new archive. Variants:

  bare       no tuning at all: glibc's and Python's defaults, workers forked cold
  tunables   ``bare`` plus glibc's mmap threshold fixed by environment variables only
             (``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_``, see mallopt(3)), no code
  product    what the code does when it has tuning in it: whatever the ARCHIVE_* tuning settings
             and the workers' warm-up give (on code without them, the same as ``bare``)
  no_malloc  ``product`` without the mallopt calls (ARCHIVE_*MMAP_THRESHOLD=0)
  no_gc      ``product`` without the collector tuning (ARCHIVE_GC_THRESHOLD=0)
  no_warm    ``product`` without the fork server's warm-up extraction (newscrawler.warm)

For each variant: median pages/s, median peak RSS and PSS of the crawl process and its children
(sampled every 0.5 s), median CPU ms per page, and each against ``product`` as a ratio (median of
the rounds' ratios, each round's crawls minutes apart at most). A knob is worth keeping when the
variant without it is >= 10% slower or bigger. The figures go to a JSON file.

    python benchmarks/tuning.py                            # N=1500, 3 rounds, 6 variants: ~20 min
    python benchmarks/tuning.py --pages 300 --rounds 1 --variants bare product
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.throughput import CRAWL_SETTINGS, Sampler, git_state, load_corpus, unique_copy  # noqa: E402
from tests.site import LoopbackSite  # noqa: E402

OFF = ("ARCHIVE_MMAP_THRESHOLD=0", "ARCHIVE_WORKER_MMAP_THRESHOLD=0", "ARCHIVE_GC_THRESHOLD=0")
# Runs newscrawler's command with the fork server's warm-up module replaced by one it imports anyway.
COLD = ("import sys, newscrawler.pipelines as p; p.WARM_UP_MODULE = 'newscrawler.extraction'; "
        "from newscrawler.cli import cli; sys.argv[0] = 'newscrawler'; cli()")
WARM = "import sys; from newscrawler.cli import cli; sys.argv[0] = 'newscrawler'; cli()"
TUNABLES = {"MALLOC_MMAP_THRESHOLD_": str(128 * 1024), "MALLOC_TRIM_THRESHOLD_": str(512 * 1024)}
VARIANTS: dict[str, dict] = {
    "bare": {"settings": OFF, "code": COLD, "env": {}},
    "tunables": {"settings": OFF, "code": COLD, "env": TUNABLES},
    "product": {"settings": (), "code": WARM, "env": {}},
    "no_malloc": {"settings": OFF[:2], "code": WARM, "env": {}},
    "no_gc": {"settings": OFF[2:], "code": WARM, "env": {}},
    "no_warm": {"settings": (), "code": COLD, "env": {}},
}


def crawl(db: Path, sitemap: str, variant: dict, pages: int) -> dict:
    """One ``newscrawler crawl`` of the sitemap in a subprocess, sampled; its figures."""
    args = [sys.executable, "-c", variant["code"], "crawl", sitemap, "--db", str(db)]
    for setting in CRAWL_SETTINGS + tuple(variant["settings"]):
        args += ["-s", setting]
    env = {**os.environ, "PYTHONPATH": str(REPO), **variant["env"]}
    env.pop("SCRAPY_SETTINGS_MODULE", None)
    os.sync()  # earlier writes flushed, untimed (see throughput.run_crawl)
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=REPO, stdin=subprocess.DEVNULL)
    sampler = Sampler(proc.pid)
    sampler.start()
    stdout, stderr = proc.communicate()
    seconds = time.perf_counter() - start
    memory = sampler.stop()
    if proc.returncode != 0:
        sys.exit(f"crawl failed (exit {proc.returncode}):\n{stdout}\n{stderr[-4000:]}")
    conn = sqlite3.connect(db)
    captured = conn.execute("SELECT count(*) FROM captures WHERE outcome = 'new'").fetchone()[0]
    conn.close()
    return {"seconds": round(seconds, 2), "pages_per_s": round(pages / seconds, 2), "new": captured,
            "cpu_ms_per_page": round((memory.get("cpu_s_crawl_process", 0) + memory.get("cpu_s_children", 0))
                                     * 1000 / pages, 1),
            **{k: memory.get(k) for k in ("peak_rss_mb", "peak_pss_mb", "peak_main_rss_mb",
                                          "rss_mb_by_quarter", "cpu_s_crawl_process", "cpu_s_children")}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=1500, help="pages to serve and crawl (default 1500)")
    parser.add_argument("--rounds", type=int, default=3, help="crawls per variant (default 3)")
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--seed", type=int, default=1, help="seed of the variants' order in each round")
    parser.add_argument("--json", type=Path, default=REPO / "benchmarks" / "results" / "tuning.json")
    opts = parser.parse_args()
    corpus = load_corpus()
    tmp = Path(tempfile.mkdtemp(prefix="newscrawler-tuning-"))
    site = LoopbackSite(tmp / "site", keep_alive=True)
    fixed = datetime(2026, 1, 1, tzinfo=UTC)
    order = random.Random(opts.seed)
    runs: dict[str, list[dict]] = {name: [] for name in opts.variants}
    results: dict = {"pages": opts.pages, "rounds": opts.rounds, "cpus": len(os.sched_getaffinity(0)),
                     "started_at": datetime.now(UTC).isoformat(timespec="seconds"), "git": git_state(),
                     "python": platform.python_version(), "crawl_settings": list(CRAWL_SETTINGS),
                     "variants": {name: {k: (list(v) if isinstance(v, tuple) else v) for k, v in VARIANTS[name].items()}
                                  for name in opts.variants}}
    try:
        with site.serve():
            for n in range(opts.pages):
                page_id, html = corpus[n % len(corpus)]
                site.add_page(f"/news/{n:05d}/{page_id[:16]}.html", unique_copy(html, n), lastmod=fixed)
            site.write_discovery()
            print(f"{opts.pages} pages on {site.base_url}; {results['cpus']} CPUs", flush=True)
            for r in range(opts.rounds):
                names = list(opts.variants)
                order.shuffle(names)
                for name in names:
                    db = tmp / f"{name}-{r}.db"
                    run = crawl(db, site.url("/sitemap.xml"), VARIANTS[name], opts.pages)
                    run["round"] = r
                    runs[name].append(run)
                    for file in tmp.glob(db.name + "*"):
                        file.unlink()
                    print(f"round {r} {name:9}: {run['pages_per_s']:6.1f} pages/s, peak RSS {run['peak_rss_mb']} MB "
                          f"(PSS {run['peak_pss_mb']}, crawl process {run['peak_main_rss_mb']}), "
                          f"{run['cpu_ms_per_page']} ms CPU a page, {run['new']} new", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    base = "product" if "product" in runs else opts.variants[0]
    summary = {}
    for name, crawls in runs.items():
        figures = {key: statistics.median(c[key] for c in crawls)
                   for key in ("pages_per_s", "peak_rss_mb", "peak_pss_mb", "peak_main_rss_mb", "cpu_ms_per_page")}
        for key in ("pages_per_s", "peak_rss_mb", "peak_pss_mb", "cpu_ms_per_page"):
            figures[f"{key}_over_{base}"] = round(statistics.median(
                c[key] / b[key] for c, b in zip(crawls, runs[base], strict=True)), 3)
        summary[name] = figures
    results["runs"], results["summary"], results["baseline"] = runs, summary, base
    print(f"\nmedians of {opts.rounds} rounds; ratios against {base}, round by round:")
    for name, f in summary.items():
        print(f"{name:9}: {f['pages_per_s']:6.1f} pages/s (x{f[f'pages_per_s_over_{base}']:.3f}), peak RSS "
              f"{f['peak_rss_mb']:.0f} MB (x{f[f'peak_rss_mb_over_{base}']:.3f}), PSS {f['peak_pss_mb']:.0f} MB "
              f"(x{f[f'peak_pss_mb_over_{base}']:.3f}), crawl process {f['peak_main_rss_mb']:.0f} MB, "
              f"{f['cpu_ms_per_page']:.1f} ms CPU a page (x{f[f'cpu_ms_per_page_over_{base}']:.3f})")
    opts.json.parent.mkdir(parents=True, exist_ok=True)
    opts.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"figures written to {opts.json}")


if __name__ == "__main__":
    main()
