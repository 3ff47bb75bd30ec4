"""Article-body score: 4-token shingle precision, recall and F1, as the Zyte benchmark computes it.

Rule borrowed from scrapinghub/article-extraction-benchmark (``evaluate.py``, MIT): texts are cut
into ``\\w+`` tokens, then overlapping 4-token shingles compared as multisets; per page tp/fp/fn;
precision is averaged over pages with a non-empty prediction, recall over pages with a non-empty
truth (so an empty prediction scores 0 recall), and F1 is the harmonic mean of the two averages.
"""

from __future__ import annotations

import re
from collections import Counter

_TOKEN = re.compile(r"\w+")
SHINGLE_SIZE = 4
"""Tokens per shingle."""


def tokens(text: str | None) -> list[str]:
    """Word tokens of ``text`` (regex ``\\w+``, Unicode, case kept); ``None`` counts as empty."""
    return _TOKEN.findall(text or "")


def shingles(text: str | None, size: int = SHINGLE_SIZE) -> Counter[tuple[str, ...]]:
    """Multiset of overlapping ``size``-token shingles of ``text``.

    A text with fewer than ``size`` tokens (but at least one) gives one shorter shingle of all its
    tokens, as the benchmark does; an empty text gives none.
    """
    words = tokens(text)
    if not words:
        return Counter()
    return Counter(tuple(words[i : i + size]) for i in range(max(1, len(words) - size + 1)))


def page_counts(truth: str | None, prediction: str | None) -> tuple[int, int, int]:
    """Shingle counts ``(tp, fp, fn)`` of one page: shared, only predicted, only in the truth."""
    expected, predicted = shingles(truth), shingles(prediction)
    tp = sum((expected & predicted).values())
    fp = sum((predicted - expected).values())
    fn = sum((expected - predicted).values())
    return tp, fp, fn


def shingle_f1(
    predictions: dict[str, str | None], truths: dict[str, str]
) -> tuple[float, float, float]:
    """Benchmark ``(precision, recall, f1)``, each in [0, 1], of ``predictions`` against ``truths``.

    :param predictions: page id -> extracted body text; a missing id or ``None`` is an empty
        prediction. Ids not in ``truths`` are ignored.
    :param truths: page id -> expected body text (the benchmark's ``articleBody``).
    :returns: page precision ``tp/(tp+fp)`` averaged over pages whose prediction has shingles;
        page recall ``tp/(tp+fn)`` averaged over pages whose truth has shingles (an empty
        prediction scores 0); F1 = harmonic mean of the two averages. An empty average is 0.0.
    """
    precisions: list[float] = []
    recalls: list[float] = []
    for page_id, truth in truths.items():
        tp, fp, fn = page_counts(truth, predictions.get(page_id))
        if tp + fp > 0:
            precisions.append(tp / (tp + fp))
        if tp + fn > 0:
            recalls.append(tp / (tp + fn))
    precision = sum(precisions) / len(precisions) if precisions else 0.0
    recall = sum(recalls) / len(recalls) if recalls else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return precision, recall, f1


def exact_share(predictions: dict[str, str | None], truths: dict[str, str]) -> float:
    """Share of pages (0..1) whose prediction has the truth's exact token sequence ("exact")."""
    if not truths:
        return 0.0
    same = sum(
        tokens(predictions.get(page_id)) == tokens(truth) for page_id, truth in truths.items()
    )
    return same / len(truths)
