"""Change-detection benchmark: false-version and missed-edit rates per kind, on real pages.

Every page of ../shared/corpus/extraction is served on 127.0.0.1 once per kind of tests/mutations.py:
churn kinds (clock lines, READ MORE links, newsletter boxes, ad slots, counters, most-read lists,
tokens, markup) and edit kinds (a word, a number, a paragraph added, removed or moved, the headline, a
correction). Round 1 crawls the sitemap into a fresh archive through the real ``newscrawler crawl``;
then every page is replaced by its round-2 form (lastmod bumped) and the sitemap crawled again. A churn
page with more than one version is a false version; an edit page without exactly two is a missed edit.

    python benchmarks/change_detection.py [--limit N] [--json results.json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from newscrawler.extraction import extract_article  # noqa: E402
from tests.crawling import rows, run_crawl, summary  # noqa: E402
from tests.metrics import shingle_f1  # noqa: E402
from tests.mutations import CHURN, EDITS  # noqa: E402
from tests.site import LoopbackSite  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus" / "extraction"


def load_pages(limit: int | None) -> list[dict]:
    import gzip

    truths = json.loads((CORPUS / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for page_id in sorted(truths)[:limit]:
        html = gzip.decompress((CORPUS / "html" / f"{page_id}.html.gz").read_bytes()).decode("utf-8")
        pages.append({"id": page_id, "url": truths[page_id]["url"], "html": html,
                      "truth": truths[page_id]["articleBody"]})
    return pages


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="use only the first N corpus pages")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    args = parser.parse_args()
    if not CORPUS.is_dir():
        print(f"{CORPUS} is absent: this benchmark needs the shared corpus", file=sys.stderr)
        return 2
    pages = load_pages(args.limit)
    bodies = {}
    for page in pages:
        result = extract_article(page["html"], page["url"])
        bodies[page["id"]] = result.body if result else ""
    _p, _r, f1 = shingle_f1(bodies, {p["id"]: p["truth"] for p in pages})

    kinds = {**{k: ("churn", f) for k, f in CHURN.items()}, **{k: ("edit", f) for k, f in EDITS.items()}}
    plan: dict[str, tuple[str, str, str]] = {}  # path -> (kind, round 1 html, round 2 html)
    skipped = defaultdict(int)
    for n, page in enumerate(pages):
        for kind, (_group, mutate) in kinds.items():
            pair = mutate(page["html"], bodies[page["id"]], n * 7919 + len(kind)) if bodies[page["id"]] else None
            if pair is None:
                skipped[kind] += 1
                continue
            plan[f"/{kind}/{page['id']}.html"] = (kind, *pair)

    # One site per kind, each on its own loopback address, so that a site's learned boilerplate
    # comes from its own distinct articles (as on a real site), not from copies of one page.
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        sites = {kind: stack.enter_context(LoopbackSite(Path(tmp) / kind, host=f"127.0.0.{n + 2}").serve())
                 for n, kind in enumerate(kinds)}
        db = Path(tmp) / "news.db"
        for path, (kind, first, _second) in plan.items():
            sites[kind].add_page(path, first)
        sitemaps = []
        for site in sites.values():
            site.write_discovery()
            sitemaps.append(site.url("/sitemap.xml"))
        started = time.monotonic()
        fast = ("CONCURRENT_REQUESTS=32", "ARCHIVE_ALLOW_PRIVATE_ADDRESSES=True")
        round_1 = summary(run_crawl(db, *sitemaps, settings=fast, timeout=3600))
        for path, (kind, _first, second) in plan.items():
            sites[kind].add_page(path, second)
        for site in sites.values():
            site.write_discovery()
        round_2 = summary(run_crawl(db, *sitemaps, settings=fast, timeout=3600))
        seconds = time.monotonic() - started
        urls = {path: sites[kind].url(path) for path, (kind, *_r) in plan.items()}
        versions = dict(rows(db, "SELECT a.url, count(v.id) FROM articles a JOIN versions v "
                                 "ON v.article_id = a.id GROUP BY a.id"))
    results = {}
    print(f"pages: {len(pages)}, extraction F1 {f1:.4f}; round 1: {round_1}; round 2: {round_2}; "
          f"{seconds:.0f} s")
    print(f"{'kind':<20}{'group':<7}{'pages':>6}{'skipped':>9}{'rate':>8}  meaning")
    for kind, (group, _mutate) in kinds.items():
        counts = [versions.get(urls[path], 0) for path, (k, *_r) in plan.items() if k == kind]
        wrong = sum(1 for c in counts if (c != 1 if group == "churn" else c != 2))
        rate = wrong / len(counts) if counts else float("nan")
        meaning = "false-version rate" if group == "churn" else "missed-edit rate"
        results[kind] = {"group": group, "pages": len(counts), "skipped": skipped[kind], "wrong": wrong,
                         "rate": rate}
        print(f"{kind:<20}{group:<7}{len(counts):>6}{skipped[kind]:>9}{rate:>8.2f}  {meaning}")
    if args.json:
        args.json.write_text(json.dumps({"f1": f1, "kinds": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
