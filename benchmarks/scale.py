"""Lookup and insert cost of the archive at 10^3, 10^5 and 10^6 versions, side by side in one run (issue 5).

Builds one synthetic archive per size with ``Archive.open`` (so with the real schema and indexes),
filled in bulk with SQL: per article 2 versions and 4 captures (new, revisit, changed, revisit),
a 3-paragraph body of common words (so the full-text index is real), a payload row per version and
the per-site paragraph counts. Then, after untimed lookups that warm every archive alike
(--warmup), times ``Archive`` methods, the sizes taking turns op by op so that machine noise hits
them alike:

  lookup_latest     article(url) + versions(article id): an article and its latest version
  lookup_unknown    article(url) of a URL never archived (falls back to the captures)
  last_capture_at   the fetch policy's question for a sitemap entry
  last_fetch        what a conditional re-fetch needs (ETag, Last-Modified, payload digest)
  record_new        record() of a capture of a new article: a first version
  record_revisit    record() of an unchanged capture of an archived article
  record_changed    record() of a capture with a new body: a new version

Prints median microseconds per op and the ratio of the largest size to the smallest (target
<= 1.5), and writes all figures to a JSON file.

    python benchmarks/scale.py                           # 10^3, 10^5, 10^6 (about 10 minutes)
    python benchmarks/scale.py --sizes 1000 100000 --ops 200
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from newscrawler.changes import content_digest, digested_paragraphs  # noqa: E402
from newscrawler.extraction import EXTRACTOR  # noqa: E402
from newscrawler.items import Capture  # noqa: E402
from newscrawler.store import Archive  # noqa: E402

SITES = 100
LONG_HISTORY = 5000
"""Extra revisit captures of article 0: an article re-checked for months (hourly for 7 months)."""
PROPOSED_INDEXES = (
    "CREATE INDEX IF NOT EXISTS captures_requested_url_outcome ON captures(requested_url, captured_at, outcome)",
    "CREATE INDEX IF NOT EXISTS captures_final_url_outcome ON captures(final_url, captured_at, outcome)",
    "DROP INDEX IF EXISTS captures_requested_url_at",
    "DROP INDEX IF EXISTS captures_final_url_at",
)
"""The index change measured with --proposed: last_capture_at's newest non-failed capture of a URL read
from the index alone (outcome in it), without a visit to the captures table per URL. Schema 5 (store.py,
migration 5) adopts it, so on a current archive --proposed measures the same schema twice."""
WORDS = [f"{a}{b}" for a in ("har", "bou", "cou", "nci", "dre", "dgi", "ng", "por", "tal", "der", "fis", "cre")
         for b in ("bour", "ncil", "dge", "ws", "rt", "vote", "mayor", "boat", "crew", "cost", "delay", "plan",
                   "work", "town", "port", "ship", "dock", "pier", "bay", "sea")]
BOILERPLATE = "Sign up for our newsletter to get the latest local news in your inbox every morning."


def article_url(n: int) -> str:
    return f"https://www.site{n % SITES}.example/news/{n:08d}.html"


def body_for(rng: random.Random, n: int, version: int) -> str:
    paras = [" ".join(rng.choices(WORDS, k=rng.randint(25, 45))).capitalize() + "." for _ in range(3)]
    paras[0] += f" Story {n}, version {version}."
    return "\n\n".join([*paras, BOILERPLATE])


def at(seconds: int) -> str:
    return (datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def build(path: Path, versions: int, seed: int = 1) -> dict:
    """A synthetic archive of ``versions`` versions (2 per article) at ``path``; build figures."""
    start = time.perf_counter()
    rng = random.Random(seed)
    archive = Archive.open(path)
    db = archive.db
    columns = {t: {r[1] for r in db.execute(f"PRAGMA table_info({t})")} for t in
               ("articles", "versions", "captures", "payloads")}
    has_paragraphs = "site_paragraphs" in db.table_names()
    crawl_id = archive.start_crawl("benchmarks/scale.py")

    def insert(table: str, rows: list[dict]) -> None:
        if not rows:
            return
        names = [k for k in rows[0] if k in columns[table]]
        db.conn.executemany(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                            [[r[k] for k in names] for r in rows])

    articles = versions // 2
    batch = 5000
    version_id = capture_id = 0
    counts: dict[tuple[str, str], int] = {}
    for first in range(0, articles, batch):
        with db.atomic():  # one transaction per batch: the WAL stays small
            a_rows, v_rows, c_rows, p_rows, sp_rows = [], [], [], [], []
            for n in range(first, min(first + batch, articles)):
                url, site = article_url(n), f"site{n % SITES}.example"
                t0 = n * 10
                latest = None
                for version in (1, 2):
                    version_id += 1
                    latest = version_id
                    body = body_for(rng, n, version)
                    payload = f"sha256:{hashlib.sha256(f'{n}/{version}'.encode()).hexdigest()}"
                    v_rows.append({"id": version_id, "article_id": n + 1, "version": version,
                                   "captured_at": at(t0 + version), "headline": f"Story {n} v{version}",
                                   "authors": "[]", "tags": "[]", "language": "en", "body": body,
                                   "content_digest": content_digest(f"Story {n} v{version}", body),
                                   "extractor": EXTRACTOR, "payload_digest": payload,
                                   "changed": "[]" if version == 1 else '["headline", "body"]'})
                    p_rows.append({"digest": payload, "content_type": "text/html", "size": 150_000,
                                   "compression": "zlib", "data": rng.randbytes(64)})
                    for kind, extra in (("new" if version == 1 else "changed", 0), ("revisit", 5)):
                        capture_id += 1
                        c_rows.append({"id": capture_id, "article_id": n + 1, "version_id": version_id,
                                       "crawl_id": crawl_id, "captured_at": at(t0 + version + extra),
                                       "requested_url": url, "final_url": url, "status": 200, "outcome": kind,
                                       "payload_digest": payload, "content_type": "text/html",
                                       "content_length": 150_000, "etag": f'"{n:x}-{version}"',
                                       "discovered_via": "sitemap"})
                    if has_paragraphs and version == 1:
                        for digest in {d for _, d in digested_paragraphs(body)}:
                            sp_rows.append((site, digest, n + 1))
                            counts[(site, digest)] = counts.get((site, digest), 0) + 1
                a_rows.append({"id": n + 1, "url": url, "site": site, "first_seen_at": at(t0 + 1),
                               "last_checked_at": at(t0 + 7), "last_changed_at": at(t0 + 2),
                               "latest_version_id": latest, "next_check_at": at(t0 + 86400)})
            insert("articles", a_rows)
            insert("payloads", p_rows)
            insert("versions", v_rows)
            insert("captures", c_rows)
            if sp_rows:
                db.conn.executemany("INSERT OR IGNORE INTO site_paragraphs (site, digest, article_id) "
                                    "VALUES (?, ?, ?)", sp_rows)
    with db.atomic():  # article 0's long history of revisits
        url = article_url(0)
        db.conn.executemany(
            "INSERT INTO captures (article_id, version_id, crawl_id, captured_at, requested_url, final_url, "
            "status, outcome, payload_digest, etag) SELECT article_id, version_id, crawl_id, ?, requested_url, "
            "final_url, status, 'revisit', payload_digest, etag FROM captures WHERE id = 4",
            [(at(10**8 + k),) for k in range(LONG_HISTORY)])
        db.conn.execute("UPDATE articles SET last_checked_at = ? WHERE url = ?", [at(10**8 + LONG_HISTORY), url])
    if has_paragraphs:
        with db.atomic():
            db.conn.executemany("INSERT INTO site_paragraph_counts (site, digest, articles) VALUES (?, ?, ?)",
                                [(s, d, c) for (s, d), c in counts.items()])
    archive.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    archive.db.execute("ANALYZE")
    archive.close()
    return {"versions": versions, "articles": articles, "captures": capture_id + LONG_HISTORY,
            "build_s": round(time.perf_counter() - start, 1), "db_bytes": path.stat().st_size}


def capture(url: str, when: int, body: str | None, headline: str) -> Capture:
    extracted = None if body is None else {
        "headline": headline, "body": body, "authors": [], "date_published": None, "date_published_raw": None,
        "date_modified": None, "date_modified_raw": None, "language": "en", "description": None,
        "site_name": None, "canonical_url": None, "tags": [], "image_url": None, "extractor": EXTRACTOR}
    return Capture(requested_url=url, captured_at=at(when), final_url=url, status=200,
                   body=f"<html>{headline} {when}</html>".encode(), content_type="text/html",
                   discovered_via="sitemap", extracted=extracted)


def warm_up(archives: dict[int, Archive], lookups: int) -> None:
    """Run ``lookups`` untimed random lookups of each kind per archive (the archives taking turns).

    A freshly built archive's pages may be anywhere between the disk and SQLite's own cache, and
    the first archive built is the coldest: timed from cold, a size's figure says more about which
    archive was built last than about its indexes (10^5 once measured 8x slower than 10^6).
    """
    rng = random.Random(11)
    for i in range(lookups):
        for size, archive in archives.items():
            url = article_url(rng.randrange(1, size // 2))
            archive.versions(archive.article(url)["id"])
            archive.article(article_url(10**8 + 10**6 + i))
            archive.last_capture_at(url)
            archive.last_fetch(url)


def measure(archives: dict[int, Archive], ops: int, clock: int) -> dict:
    """Time each op ``ops`` times per archive, the archives taking turns; medians, p90s and ratios.

    ``clock`` (seconds after 2026-01-01) is when the first recorded capture happens.
    """
    rng = random.Random(7)
    timings: dict[str, dict[int, list[float]]] = {}

    def timed(name: str, size: int, call) -> None:
        start = time.perf_counter()
        call()
        timings.setdefault(name, {}).setdefault(size, []).append(time.perf_counter() - start)

    for i in range(ops):
        for size, archive in archives.items():
            articles = size // 2
            n = rng.randrange(1, articles)
            url = article_url(n)
            timed("lookup_latest", size, lambda a=archive, u=url: a.versions(a.article(u)["id"])[-1])
            timed("lookup_unknown", size, lambda a=archive, i=i: a.article(article_url(10**8 + i)))
            timed("last_capture_at", size, lambda a=archive, u=url: a.last_capture_at(u))
            timed("last_fetch", size, lambda a=archive, u=url: a.last_fetch(u))
            timed("last_capture_at_long_hist", size, lambda a=archive: a.last_capture_at(article_url(0)))
            timed("last_fetch_long_history", size, lambda a=archive: a.last_fetch(article_url(0)))
            timed("due_articles_100", size, lambda a=archive: a.due_articles(at(10**9), 100))
            clock += 60
            fresh = capture(article_url(10**8 + clock), clock, body_for(rng, i, 1), f"New story {i}")
            timed("record_new", size, lambda a=archive, c=fresh: a.record(c))
            latest = archive.versions(archive.article(url)["id"])[-1]
            same = capture(url, clock + 1, latest["body"], latest["headline"])
            timed("record_revisit", size, lambda a=archive, c=same: a.record(c))
            n2 = rng.randrange(1, articles)
            edited = capture(article_url(n2), clock + 2, body_for(rng, n2, 9 + i), f"Story {n2} edited {i}")
            timed("record_changed", size, lambda a=archive, c=edited: a.record(c))
    small, large = min(archives), max(archives)
    out = {}
    for name, by_size in timings.items():
        medians = {s: statistics.median(v) * 1e6 for s, v in by_size.items()}
        p90 = {s: statistics.quantiles(v, n=10)[-1] * 1e6 for s, v in by_size.items()}
        ratio = medians[large] / medians[small]
        out[name] = {"median_us": {s: round(m, 1) for s, m in medians.items()},
                     "p90_us": {s: round(m, 1) for s, m in p90.items()},
                     "ratio_largest_to_smallest": round(ratio, 2), "within_1_5x": ratio <= 1.5}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 100_000, 1_000_000],
                        help="archive sizes in versions")
    parser.add_argument("--ops", type=int, default=400, help="timed calls per op and size")
    parser.add_argument("--warmup", type=int, default=2000,
                        help="untimed lookups of each kind per size before timing (default 2000)")
    parser.add_argument("--json", type=Path, default=REPO / "benchmarks" / "scale.json")
    parser.add_argument("--keep", action="store_true", help="keep the archives (printed path)")
    parser.add_argument("--proposed", action="store_true", help="then add PROPOSED_INDEXES and measure again")
    opts = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="newscrawler-scale-"))
    results: dict = {"sizes": {}, "ops": {}, "started_at": datetime.now(UTC).isoformat(timespec="seconds")}
    try:
        archives = {}
        for size in opts.sizes:
            figures = build(tmp / f"{size}.db", size)
            results["sizes"][size] = figures
            print(f"built {size:>9} versions: {figures['build_s']} s, {figures['db_bytes'] / 1e6:.0f} MB", flush=True)
            archives[size] = Archive.open(tmp / f"{size}.db")
        warm_up(archives, opts.warmup)
        results["warmup_lookups"] = opts.warmup
        results["ops"] = measure(archives, opts.ops, 10**9)
        if opts.proposed:
            for size, archive in archives.items():
                start = time.perf_counter()
                with archive.db.atomic():
                    for statement in PROPOSED_INDEXES:
                        archive.db.execute(statement)
                archive.db.execute("ANALYZE")
                results["sizes"][size]["proposed_indexes_s"] = round(time.perf_counter() - start, 1)
            results["proposed_indexes"] = list(PROPOSED_INDEXES)
            results["ops_with_proposed_indexes"] = measure(archives, opts.ops, 2 * 10**9)
        for archive in archives.values():
            archive.close()
    finally:
        if opts.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    for key, title in (("ops", "schema as it is"), ("ops_with_proposed_indexes", "with PROPOSED_INDEXES")):
        if key in results:
            print(f"\n{title}: median us per call (p90), ratio of the largest size's median to the smallest's")
            print(f"{'op':26}" + "".join(f"{s:>17}" for s in opts.sizes) + f"{'ratio':>8}")
            for name, row in results[key].items():
                cells = "".join(f"{row['median_us'][s]:9.0f} ({row['p90_us'][s]:5.0f})" for s in opts.sizes)
                print(f"{name:26}{cells}{row['ratio_largest_to_smallest']:8.2f}")
    opts.json.parent.mkdir(parents=True, exist_ok=True)
    opts.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"figures written to {opts.json}")


if __name__ == "__main__":
    main()
