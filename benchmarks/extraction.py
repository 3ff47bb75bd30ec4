"""Extraction quality and cost: newscrawler's extract_article against bare trafilatura, side by side.

Measures, in one run, over the shared pages beside the clone (``../shared/corpus``):

* body precision / recall / F1 with the Zyte benchmark's 4-token shingle metric
  (``corpus/extraction``, 121 pages) and the share of pages extracted exactly;
* snippet checks on ``corpus/trafilatura-eval`` (648 pages): share of pages "fully right" (every
  "with" snippet kept, every "without" snippet dropped), snippet precision/recall/F1;
* headline, author and date accuracy on the hand-made labels in ``benchmarks/labels/`` (pages of
  the Zyte set, labelled from their HTML) and on the metadata that trafilatura-eval gives;
* the site-profile mode (``--sites``): pages of one template, each extracted with a profile learnt
  from the site's other pages (newscrawler.profiles), against the same pages without a profile;
* CPU seconds per page (``time.process_time``), ours as a ratio to ``trafilatura.extract`` on the
  same pages in the same run, medians over ``--rounds`` interleaved rounds.

Run ``python benchmarks/extraction.py`` (about 3 minutes on 2 CPUs); ``--quick`` takes every
fourth page. Figures go to stdout and to ``benchmarks/results/extraction.json``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import time
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import trafilatura  # noqa: E402  (after the path set-up, so the clone's package is the one imported)

from newscrawler.charsets import decode_html  # noqa: E402
from newscrawler.extraction import extract_article  # noqa: E402
from tests.metrics import exact_share, shingle_f1  # noqa: E402

SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"
LABELS = ROOT / "benchmarks" / "labels" / "metadata.json"
RESULTS = ROOT / "benchmarks" / "results" / "extraction.json"
# What "bare trafilatura" means here: its defaults plus the options every caller of an archive
# needs (tables kept, no process-wide deduplication cache).
BARE_OPTIONS = {"include_tables": True, "deduplicate": False}


def load_zyte(step: int = 1) -> list[dict]:
    """The Zyte benchmark pages: [{"id", "url", "html", "truth"}], sorted by id."""
    folder = CORPUS / "extraction"
    truth = json.loads((folder / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for page_id in sorted(truth)[::step]:
        raw = gzip.decompress((folder / "html" / f"{page_id}.html.gz").read_bytes())
        pages.append({"id": page_id, "url": truth[page_id]["url"], "raw": raw,
                      "html": raw.decode("utf-8", "replace"), "truth": truth[page_id]["articleBody"]})
    return pages


def load_eval(step: int = 1) -> list[dict]:
    """The trafilatura-eval pages: [{"id", "url", "raw", "html", "with", "without", "metadata"}]."""
    folder = CORPUS / "trafilatura-eval"
    expectations = json.loads((folder / "expectations.json").read_text(encoding="utf-8"))
    pages = []
    for page_id in sorted(expectations)[::step]:
        entry = expectations[page_id]
        raw = gzip.decompress((folder / "html" / f"{page_id}.html.gz").read_bytes())
        pages.append({"id": page_id, "url": entry["url"].strip(), "raw": raw, "html": decode_html(raw, None),
                      "with": entry.get("with", []), "without": entry.get("without", []),
                      "metadata": entry.get("metadata") or {}})
    return pages


def ours(page: dict, profile=None) -> dict | None:
    result = extract_article(page["raw"], page["url"], hints={"profile": profile} if profile else None)
    return result.to_dict() if result else None


def bare(page: dict) -> dict | None:
    doc = trafilatura.bare_extraction(page["html"], url=page["url"], with_metadata=True, **BARE_OPTIONS)
    if doc is None:
        return None
    authors = [a.strip() for a in (doc.author or "").split(";") if a.strip()]
    return {"body": doc.text or "", "headline": doc.title or "", "authors": authors, "date_published": doc.date}


def cpu_ratio(pages: list[dict], rounds: int) -> dict:
    """CPU seconds per page of ours and of ``trafilatura.extract``, interleaved in rounds."""
    ours_s, bare_s = [], []
    for _ in range(rounds):
        start = time.process_time()
        for page in pages:
            trafilatura.extract(page["html"], url=page["url"], **BARE_OPTIONS)
        bare_s.append((time.process_time() - start) / len(pages))
        start = time.process_time()
        for page in pages:
            extract_article(page["raw"], page["url"])
        ours_s.append((time.process_time() - start) / len(pages))
    ratios = [o / b for o, b in zip(ours_s, bare_s, strict=True)]
    return {"ours_ms_per_page": round(statistics.median(ours_s) * 1000, 2),
            "bare_extract_ms_per_page": round(statistics.median(bare_s) * 1000, 2),
            "ratio_median": round(statistics.median(ratios), 3), "ratios": [round(r, 3) for r in ratios]}


def _fold(text: str) -> str:
    """Text for snippet and label comparisons: NFC, case folded, whitespace and quotes unified."""
    text = unicodedata.normalize("NFKC", text or "").casefold()
    text = re.sub(r"[\u2018\u2019\u201a\u201b`´]", "'", text)
    text = re.sub(r"[\u201c\u201d\u201e\u00ab\u00bb]", '"', text)
    text = re.sub(r"[\u2010-\u2015]", "-", text)
    return re.sub(r"\s+", " ", text).strip()


def snippet_scores(pages: list[dict], results: dict[str, dict | None]) -> dict:
    tp = fn = fp = tn = 0
    fully = 0
    for page in pages:
        text = _fold((results.get(page["id"]) or {}).get("body") or "")
        found_with = [_fold(s) in text for s in page["with"]]
        found_without = [_fold(s) in text for s in page["without"]]
        tp += sum(found_with)
        fn += len(found_with) - sum(found_with)
        fp += sum(found_without)
        tn += len(found_without) - sum(found_without)
        fully += all(found_with) and not any(found_without)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {"pages": len(pages), "fully_right": round(fully / len(pages), 4),
            "precision": round(precision, 4), "recall": round(recall, 4),
            "f1": round(2 * precision * recall / (precision + recall), 4) if precision + recall else 0.0,
            "accuracy": round((tp + tn) / (tp + tn + fp + fn), 4)}


def _author_set(values) -> set[str]:
    if isinstance(values, str):
        values = re.split(r";|,| and | und ", values)
    return {_fold(v) for v in values or [] if _fold(v)}


def metadata_scores(labelled: list[tuple[dict, dict]], key: str) -> dict:
    """Share of pages whose headline / authors / date equal the label (pairs of (label, result))."""
    right = {"headline": 0, "authors": 0, "date": 0}
    counted = {"headline": 0, "authors": 0, "date": 0}
    wrong: dict[str, list] = {"headline": [], "authors": [], "date": []}
    for label, result in labelled:
        result = result or {}
        if label.get("headline") is not None:
            counted["headline"] += 1
            ok = _fold(result.get("headline") or "") == _fold(label["headline"])
            right["headline"] += ok
            if not ok:
                wrong["headline"].append([label["id"], label["headline"], result.get("headline")])
        if label.get("authors") is not None:
            counted["authors"] += 1
            ok = _author_set(result.get("authors") or []) == _author_set(label["authors"])
            right["authors"] += ok
            if not ok:
                wrong["authors"].append([label["id"], label["authors"], result.get("authors")])
        if label.get("date") is not None:
            counted["date"] += 1
            ok = (result.get("date_published") or "")[:10] == label["date"][:10]
            right["date"] += ok
            if not ok:
                wrong["date"].append([label["id"], label["date"], result.get("date_published")])
    return {f"{k}_right": round(right[k] / counted[k], 4) if counted[k] else None for k in right} | {
        "counted": counted, f"wrong_{key}": wrong}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="every fourth page only")
    parser.add_argument("--rounds", type=int, default=3, help="CPU rounds (default 3)")
    parser.add_argument("--no-eval", action="store_true", help="skip the trafilatura-eval pages")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    step = 4 if args.quick else 1
    report: dict = {"trafilatura": trafilatura.__version__}

    zyte = load_zyte(step)
    ours_results = {p["id"]: ours(p) for p in zyte}
    bare_results = {p["id"]: bare(p) for p in zyte}
    truths = {p["id"]: p["truth"] for p in zyte}
    for name, results in (("ours", ours_results), ("bare", bare_results)):
        bodies = {k: (v or {}).get("body") for k, v in results.items()}
        precision, recall, f1 = shingle_f1(bodies, truths)
        report[f"zyte_{name}"] = {"pages": len(zyte), "precision": round(precision, 4), "recall": round(recall, 4),
                                  "f1": round(f1, 4), "exact": round(exact_share(bodies, truths), 4)}
        print(f"Zyte body ({name:4}): P {precision:.4f} R {recall:.4f} F1 {f1:.4f} "
              f"exact {report[f'zyte_{name}']['exact']:.3f} over {len(zyte)} pages")

    if LABELS.exists():
        labels = json.loads(LABELS.read_text(encoding="utf-8"))
        for name, results in (("ours", ours_results), ("bare", bare_results)):
            pairs = [(label | {"id": pid}, results[pid]) for pid, label in labels.items() if pid in results]
            scores = metadata_scores(pairs, name)
            report[f"labelled_{name}"] = scores
            print(f"Labelled metadata ({name:4}): headline {scores['headline_right']} authors "
                  f"{scores['authors_right']} date {scores['date_right']} ({scores['counted']})")

    if not args.no_eval:
        pages = load_eval(step)
        ours_eval = {p["id"]: ours(p) for p in pages}
        bare_eval = {p["id"]: bare(p) for p in pages}
        for name, results in (("ours", ours_eval), ("bare", bare_eval)):
            scores = snippet_scores(pages, results)
            report[f"eval_{name}"] = scores
            print(f"trafilatura-eval ({name:4}): fully right {scores['fully_right']:.3f}, snippet "
                  f"P {scores['precision']:.3f} R {scores['recall']:.3f} F1 {scores['f1']:.3f} over {len(pages)}")
            pairs = []
            for page in pages:
                meta = page["metadata"]
                label = {"id": page["id"], "headline": meta.get("title") or None,
                         "authors": meta.get("author") or None, "date": meta.get("date") or None}
                pairs.append((label, results[page["id"]]))
            scores = metadata_scores(pairs, name)
            for kind in ("headline", "authors", "date"):
                scores[f"wrong_{name}"][kind] = scores[f"wrong_{name}"][kind][:40]
            report[f"eval_metadata_{name}"] = scores
            print(f"trafilatura-eval metadata ({name:4}): headline {scores['headline_right']} authors "
                  f"{scores['authors_right']} date {scores['date_right']} ({scores['counted']})")

    report["cpu"] = cpu_ratio(zyte, args.rounds)
    cpu = report["cpu"]
    print(f"CPU per page: ours {cpu['ours_ms_per_page']} ms, trafilatura.extract {cpu['bare_extract_ms_per_page']} ms, "
          f"ratio {cpu['ratio_median']} (rounds {cpu['ratios']})")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
