"""Raw HTML compression for the ``payloads`` table: zlib against zstd, with and without dictionaries.

Measured on the real pages of ../shared/corpus/extraction (121 pages, about one per site), side by
side in one run: stored size as a share of the raw size (sum over pages), and compression and
decompression time per page on this machine. Dictionaries are never trained on the page they
compress:

  zlib-6 / zlib-9            what store.py wrote before schema 4 (level 6), and its best level
  zstd-N                     zstandard at level N, no dictionary
  zstd-3+global              a 112 KB dictionary trained on the *other* corpus's pages
                             (trafilatura-eval, 648 pages of other sites): a dictionary for all sites
  zstd-3+sibling             for the 48 pages of the 24 sites that have two pages here: the other
                             page of the same site as a raw-content dictionary: what store.py writes
                             since schema 4 (newscrawler/compression.py; the corpus has too few pages
                             per site to train a per-site dictionary)
  zstd-3+previous            a new version of a page against its previous version as raw-content
                             dictionary (a delta): simulated re-render, one sentence of the article
                             edited and a per-request token changed. Optimistic: real re-renders also
                             rotate ads and related-story lists; no licensed real version pairs exist

    python benchmarks/storage.py [--json benchmarks/storage.json]
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import re
import sys
import time
import urllib.parse
import zlib
from pathlib import Path

import zstandard

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"


def load(folder: str, index: str, url_key: str = "url") -> list[tuple[str, str, bytes]]:
    """``(id, host, raw bytes)`` for each page of a shared corpus folder."""
    meta = json.loads((CORPUS / folder / index).read_text(encoding="utf-8"))
    pages = []
    for page_id, entry in sorted(meta.items()):
        path = CORPUS / folder / "html" / f"{page_id}.html.gz"
        if path.is_file():
            host = urllib.parse.urlsplit(entry[url_key].strip()).hostname or ""
            pages.append((page_id, host, gzip.decompress(path.read_bytes())))
    return pages


def measure(name: str, pages: list[bytes], compress, decompress) -> dict:
    """Stored/raw ratio and ms per page for one method; checks the round trip."""
    start = time.perf_counter()
    stored = [compress(i, page) for i, page in enumerate(pages)]
    mid = time.perf_counter()
    for i, (page, blob) in enumerate(zip(pages, stored, strict=True)):
        if decompress(i, blob) != page:
            raise AssertionError(f"{name}: round trip failed on page {i}")
    end = time.perf_counter()
    raw, packed = sum(map(len, pages)), sum(map(len, stored))
    return {"method": name, "pages": len(pages), "raw_bytes": raw, "stored_bytes": packed,
            "ratio": round(packed / raw, 5), "compress_ms": round((mid - start) * 1000 / len(pages), 2),
            "decompress_ms": round((end - mid) * 1000 / len(pages), 2)}


_SENTENCE = re.compile(rb"<p[^>]*>([^<]{80,400})</p>")


def new_version(page: bytes, n: int) -> bytes:
    """A simulated re-render: one article sentence edited, and a per-request token changed."""
    match = _SENTENCE.search(page)
    if match:
        text = match.group(1)
        page = page[:match.start(1)] + text[: len(text) // 2] + b" (updated) " + text[len(text) // 2:] \
            + page[match.end(1):]
    return page.replace(b"<head>", b'<head><meta name="request-id" content="%08x">' % (n * 2654435761 % 2**32),
                        1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, default=REPO / "benchmarks" / "storage.json")
    opts = parser.parse_args()
    if not (CORPUS / "extraction" / "ground-truth.json").is_file():
        sys.exit(f"no corpus at {CORPUS}: the shared folder must sit beside the clone")
    corpus = load("extraction", "ground-truth.json")
    pages = [raw for _, _, raw in corpus]
    results = []

    for level in (6, 9):
        results.append(measure(f"zlib-{level}", pages, lambda i, p, lv=level: zlib.compress(p, lv),
                               lambda i, b: zlib.decompress(b)))
    for level in (3, 9, 19):
        cctx, dctx = zstandard.ZstdCompressor(level=level), zstandard.ZstdDecompressor()
        results.append(measure(f"zstd-{level}", pages, lambda i, p, c=cctx: c.compress(p),
                               lambda i, b, d=dctx: d.decompress(b)))

    other = [raw for _, _, raw in load("trafilatura-eval", "expectations.json")]
    start = time.perf_counter()
    global_dict = zstandard.train_dictionary(112 * 1024, other, level=3)
    train_s = time.perf_counter() - start
    cctx = zstandard.ZstdCompressor(level=3, dict_data=global_dict)
    dctx = zstandard.ZstdDecompressor(dict_data=global_dict)
    row = measure("zstd-3+global", pages, lambda i, p: cctx.compress(p), lambda i, b: dctx.decompress(b))
    row["dictionary_bytes"], row["train_s"] = len(global_dict.as_bytes()), round(train_s, 1)
    results.append(row)

    by_host = collections.defaultdict(list)
    for _, host, raw in corpus:
        by_host[host].append(raw)
    pairs = [group for group in by_host.values() if len(group) == 2]
    sib_pages = [p for a, b in pairs for p in (a, b)]
    sib_dicts = [zstandard.ZstdCompressionDict(d, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
                 for a, b in pairs for d in (b, a)]
    results.append(measure(f"zlib-6 on the {len(sib_pages)} sibling pages", sib_pages,
                           lambda i, p: zlib.compress(p, 6), lambda i, b: zlib.decompress(b)))
    results.append(measure(f"zstd-3 on the {len(sib_pages)} sibling pages", sib_pages,
                           lambda i, p: zstandard.ZstdCompressor(level=3).compress(p),
                           lambda i, b: zstandard.ZstdDecompressor().decompress(b)))
    results.append(measure("zstd-3+sibling", sib_pages,
                           lambda i, p: zstandard.ZstdCompressor(level=3, dict_data=sib_dicts[i]).compress(p),
                           lambda i, b: zstandard.ZstdDecompressor(dict_data=sib_dicts[i]).decompress(b)))

    versions = [new_version(p, i) for i, p in enumerate(pages)]
    prev = [zstandard.ZstdCompressionDict(p, dict_type=zstandard.DICT_TYPE_RAWCONTENT) for p in pages]
    results.append(measure("zlib-6 on new versions", versions, lambda i, p: zlib.compress(p, 6),
                           lambda i, b: zlib.decompress(b)))
    results.append(measure("zstd-3+previous", versions,
                           lambda i, p: zstandard.ZstdCompressor(level=3, dict_data=prev[i]).compress(p),
                           lambda i, b: zstandard.ZstdDecompressor(dict_data=prev[i]).decompress(b)))
    results.append(measure("zstd-19+previous", versions,
                           lambda i, p: zstandard.ZstdCompressor(level=19, dict_data=prev[i]).compress(p),
                           lambda i, b: zstandard.ZstdDecompressor(dict_data=prev[i]).decompress(b)))

    print(f"{'method':38} {'pages':>5} {'stored/raw':>10} {'compress':>10} {'decompress':>10}")
    for r in results:
        print(f"{r['method']:38} {r['pages']:5} {r['ratio']:10.2%} {r['compress_ms']:8.2f}ms "
              f"{r['decompress_ms']:8.2f}ms")
    opts.json.parent.mkdir(parents=True, exist_ok=True)
    opts.json.write_text(json.dumps({"zstandard": zstandard.__version__, "zstd": zstandard.ZSTD_VERSION,
                                     "results": results}, indent=2) + "\n")
    print(f"figures written to {opts.json}")


if __name__ == "__main__":
    main()
