"""Change-detection benchmark: false versions, missed edits and change kinds, per kind over 5 seeds.

Every page of ../shared/corpus/extraction is served on 127.0.0.1 once per kind of tests/mutations.py
and seed. Each kind draws its variant from a generator by seed (tests/variants.py: wording, language
among en/de/fr/es/it/pt/ru, position, markup: paragraph, div, span, list item, table cell, quote), so no
fixed wording can be tuned to. Churn kinds (datelines, counters, READ MORE links, newsletter boxes, ad
slots, most-read lists, tokens, markup) must leave one version; edit kinds (a word, a number, a paragraph
added, removed or moved, the headline everywhere or only where readers see it, a correction, an update
note) must make exactly two; site-wide kinds change many articles of one site at once (the same note
added to all; a shared disclaimer removed from every other one). Each (kind, seed) is its own site on
its own loopback address, so a site's learned boilerplate comes from its own articles.

Round 1 crawls the sitemaps into a fresh archive through the real ``newscrawler crawl``; then every page
is replaced by its round-2 form (lastmod bumped) and the sitemaps crawled again. Where the archive
records ``versions.change_kind`` (issue 18), the kind of each edit's new version is checked against
the kind its marker calls for (tests/mutations.py EXPECTED_KIND).

    python benchmarks/change_detection.py [--limit N] [--seeds 5] [--kinds a,b] [--json results.json]
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import statistics
import sys
import tempfile
import time
import zlib
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from newscrawler.extraction import extract_article  # noqa: E402
from tests.crawling import rows, run_crawl, summary  # noqa: E402
from tests.metrics import shingle_f1  # noqa: E402
from tests.mutations import CHURN, EDITS, EXPECTED_KIND, SITEWIDE  # noqa: E402
from tests.site import LoopbackSite  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus" / "extraction"


def load_pages(limit: int | None) -> list[dict]:
    truths = json.loads((CORPUS / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for page_id in sorted(truths)[:limit]:
        html = gzip.decompress((CORPUS / "html" / f"{page_id}.html.gz").read_bytes()).decode("utf-8")
        pages.append({"id": page_id, "url": truths[page_id]["url"], "html": html,
                      "truth": truths[page_id]["articleBody"]})
    return pages


def plan_pages(pages: list[dict], bodies: dict[str, str], seeds: list[int], kinds: list[str]):
    """``{(kind, seed): {path: (round 1 html, round 2 html, versions expected)}}`` and skips per kind."""
    plan: dict[tuple[str, int], dict[str, tuple[str, str, int]]] = defaultdict(dict)
    skipped: dict[str, int] = defaultdict(int)
    usable = [p for p in pages if bodies[p["id"]]]
    for seed in seeds:
        for kind in kinds:
            if kind in SITEWIDE:
                made = SITEWIDE[kind]([(p["html"], bodies[p["id"]]) for p in usable], seed)
                for page, entry in zip(usable, made, strict=True):
                    if entry is None:
                        skipped[kind] += 1
                    else:
                        plan[kind, seed][f"/{kind}/{page['id']}.html"] = entry
                continue
            mutate, expected = (CHURN[kind], 1) if kind in CHURN else (EDITS[kind], 2)
            for n, page in enumerate(usable):
                variant = seed * 1_000_003 + n * 7919 + zlib.crc32(kind.encode()) % 9973
                pair = mutate(page["html"], bodies[page["id"]], variant)
                if pair is None:
                    skipped[kind] += 1
                    continue
                plan[kind, seed][f"/{kind}/{page['id']}.html"] = (*pair, expected)
    return plan, skipped


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="use only the first N corpus pages")
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (default 5)")
    parser.add_argument("--kinds", help="comma-separated kinds (default: all)")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    args = parser.parse_args()
    if not CORPUS.is_dir():
        print(f"{CORPUS} is absent: this benchmark needs the shared corpus", file=sys.stderr)
        return 2
    all_kinds = [*CHURN, *EDITS, *SITEWIDE]
    kinds = args.kinds.split(",") if args.kinds else all_kinds
    unknown = set(kinds) - set(all_kinds)
    if unknown:
        print(f"unknown kinds: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    pages = load_pages(args.limit)
    bodies = {}
    for page in pages:
        result = extract_article(page["html"], page["url"])
        bodies[page["id"]] = result.body if result else ""
    _p, _r, f1 = shingle_f1(bodies, {p["id"]: p["truth"] for p in pages})
    seeds = list(range(args.seeds))
    plan, skipped = plan_pages(pages, bodies, seeds, kinds)

    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        sites = {}
        for n, key in enumerate(sorted(plan)):
            host = f"127.0.{1 + n // 250}.{2 + n % 250}"
            sites[key] = stack.enter_context(LoopbackSite(Path(tmp) / f"{key[0]}-{key[1]}", host=host).serve())
        db = Path(tmp) / "news.db"
        for key, entries in plan.items():
            for path, (first, _second, _expected) in entries.items():
                sites[key].add_page(path, first)
            sites[key].write_discovery()
        sitemaps = [site.url("/sitemap.xml") for site in sites.values()]
        started = time.monotonic()
        fast = ("CONCURRENT_REQUESTS=32", "ARCHIVE_ALLOW_PRIVATE_ADDRESSES=True")
        round_1 = summary(run_crawl(db, *sitemaps, settings=fast, timeout=7200))
        for key, entries in plan.items():
            for path, (_first, second, _expected) in entries.items():
                sites[key].add_page(path, second)
            sites[key].write_discovery()
        round_2 = summary(run_crawl(db, *sitemaps, settings=fast, timeout=7200))
        seconds = time.monotonic() - started
        versions = dict(rows(db, "SELECT a.url, count(v.id) FROM articles a JOIN versions v "
                                 "ON v.article_id = a.id GROUP BY a.id"))
        columns = {row[1] for row in rows(db, "PRAGMA table_info(versions)")}
        change_kinds = {}
        if "change_kind" in columns:
            change_kinds = dict(rows(db, "SELECT a.url, v.change_kind FROM articles a JOIN versions v "
                                         "ON v.article_id = a.id WHERE v.version = 2"))
        urls = {(key, path): sites[key].url(path) for key, entries in plan.items() for path in entries}

    results = {}
    print(f"pages: {len(pages)}, seeds: {len(seeds)}, extraction F1 {f1:.4f}; round 1: {round_1}; "
          f"round 2: {round_2}; {seconds:.0f} s")
    print(f"{'kind':<22}{'group':<9}{'pages':>6}{'skipped':>8}{'false':>7}{'missed':>8}{'per seed':>28}"
          f"{'kind right':>12}")
    for kind in kinds:
        group = "churn" if kind in CHURN else "edit" if kind in EDITS else "sitewide"
        false = missed = total = 0
        per_seed = []
        kind_right = kind_total = 0
        for seed in seeds:
            entries = plan.get((kind, seed), {})
            wrong = 0
            for path, (_first, _second, expected) in entries.items():
                url = urls[(kind, seed), path]
                count = versions.get(url, 0)
                total += 1
                if count != expected:
                    wrong += 1
                    false += count > expected
                    missed += count < expected
                want = EXPECTED_KIND.get(kind)
                if expected == 2 and count == 2 and change_kinds and want is not None:
                    kind_total += 1
                    kind_right += change_kinds.get(url) == want
                elif expected == 2 and count == 2 and change_kinds and kind == "sitewide_note_added":
                    kind_total += 1
                    kind_right += change_kinds.get(url) in ("correction", "update")
            per_seed.append(wrong / len(entries) if entries else float("nan"))
        results[kind] = {"group": group, "pages": total, "skipped": skipped[kind], "false_versions": false,
                         "missed_edits": missed, "false_rate": false / total if total else None,
                         "missed_rate": missed / total if total else None,
                         "wrong_per_seed": per_seed,
                         "change_kind_right": kind_right / kind_total if kind_total else None}
        seeds_text = " ".join(f"{r:.2f}" for r in per_seed)
        right = f"{kind_right / kind_total:.2f}" if kind_total else "-"
        print(f"{kind:<22}{group:<9}{total:>6}{skipped[kind]:>8}{false:>7}{missed:>8}{seeds_text:>28}{right:>12}")
    churn = [r for r in results.values() if r["group"] == "churn"]
    edits = [r for r in results.values() if r["group"] != "churn"]
    totals = {
        "false_version_rate": sum(r["false_versions"] for r in churn) / max(1, sum(r["pages"] for r in churn)),
        "missed_edit_rate": sum(r["missed_edits"] for r in edits) / max(1, sum(r["pages"] for r in edits)),
        "doubled_edit_rate": sum(r["false_versions"] for r in edits) / max(1, sum(r["pages"] for r in edits)),
    }
    rights = [r["change_kind_right"] for k, r in results.items()
              if r["change_kind_right"] is not None and EXPECTED_KIND.get(k) != "stealth"]
    if rights:
        totals["change_kind_right_with_marker_median"] = statistics.median(rights)
    print("; ".join(f"{k} {v:.4f}" for k, v in totals.items()))
    if args.json:
        args.json.write_text(json.dumps({"pages": len(pages), "seeds": seeds, "f1": f1, "seconds": seconds,
                                         "totals": totals, "kinds": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
