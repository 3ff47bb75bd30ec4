"""Process memory for long crawls: glibc's mmap threshold and Python's cyclic garbage collector.

Large buffers go back to the operating system when freed: glibc's malloc serves a request of
M_MMAP_THRESHOLD bytes or more (128 KiB to start with) with a mapping of its own, unmapped when
freed. But each time such a block is freed it raises the threshold to that block's size (up to
32 MiB on 64-bit; mallopt(3), "M_MMAP_THRESHOLD"): after the first few pages, the crawl's
100 KB - 1 MB page buffers (raw body, decoded text, pickled tasks) come from the heap, which
fragments and is not given back. Setting the threshold explicitly turns that adjustment off.
Measured on 800 corpus pages (benchmarks/README.md): peak RSS of crawl process + fork server +
2 workers 431 -> 377 MB, the crawl process alone 199 -> 156 MB.

An extraction worker holds one page at a time, so its heap does not fragment that way: the same
blocks serve page after page. There a mapping per page buffer only costs page faults (each new
mapping is zero-filled memory touched anew; about 150 faults a page at 128 KiB, against 2 with
glibc's dynamic threshold), and on the project's VM those grow dear in its slow phases: a worker's
CPU a page went 38.2 -> 35.6 ms with its threshold at 1 MiB in one (2,000 corpus pages), and did
not change in a fast one (benchmarks/README.md, 2026-12-01 23:55). So the workers keep
blocks under :data:`WORKER_MMAP_THRESHOLD` in the heap, and the heap's free top up to four times
that (M_TRIM_THRESHOLD) between pages; a bigger page's blocks still get mappings of their own.

Python's cyclic collector runs less often (:func:`tune_gc`): each page makes and drops many
short-lived containers (headers, requests, trafilatura's lists), which refcounting frees anyway.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
from typing import Any

logger = logging.getLogger(__name__)

#: mallopt's parameter numbers (glibc's <malloc.h>).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
#: Bytes from which an allocation gets its own mapping: glibc's own starting value.
MMAP_THRESHOLD = 128 * 1024
#: The same in an extraction worker: the page buffers of all but the largest pages come from its heap.
WORKER_MMAP_THRESHOLD = 1 << 20
#: Thresholds a setting may give (bytes), 0 aside: up to mallopt(3)'s documented maximum on 64-bit
#: (32 MiB), and not so low that small blocks get mappings of their own: at 1 byte, every block
#: would, and a page's extraction took 50 times longer (1.8 s against 30-41 ms).
MMAP_THRESHOLD_MIN = 64 << 10
MMAP_THRESHOLD_MAX = 32 << 20
#: Net allocations of container objects between collections of the youngest generation
#: (CPython's default is 700).
GC_THRESHOLD = 10_000


_C_INT_MIN, _C_INT_MAX = -(2**31), 2**31 - 1  # mallopt(3)'s value is a C int


def fix_mmap_threshold(threshold: int = MMAP_THRESHOLD, trim: int | None = None) -> bool:
    """Set glibc's mmap threshold to ``threshold`` bytes for this process (and children it forks;
    processes from a fork server or spawned must call it themselves), and with ``trim`` its trim
    threshold: bytes free at the top of the heap before they go back to the system (else glibc's
    128 KiB, fixed from then on too).

    Returns True when set; False on a C library without ``mallopt`` (musl, macOS), for a value
    that is not a C ``int`` (ctypes would pass its low 32 bits), or when glibc refuses a value
    (the mmap threshold is then unchanged). Never raises.
    """
    values = [threshold] if trim is None else [threshold, trim]
    if not all(_C_INT_MIN <= value <= _C_INT_MAX for value in values):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    if mallopt(M_MMAP_THRESHOLD, int(threshold)) != 1:
        return False
    return trim is None or mallopt(M_TRIM_THRESHOLD, int(trim)) == 1


class MmapThreshold:
    """Scrapy extension: :func:`fix_mmap_threshold` in the crawl process when the crawler is made.

    Setting ``ARCHIVE_MMAP_THRESHOLD`` (bytes; 0 leaves glibc's dynamic threshold alone). The
    extraction workers set their own, ``ARCHIVE_WORKER_MMAP_THRESHOLD`` (:func:`prepare_worker`).
    """

    def __init__(self, threshold: int):
        self.threshold = threshold
        if threshold and not fix_mmap_threshold(threshold):
            logger.debug("mallopt(M_MMAP_THRESHOLD) is not available here; memory may grow with the crawl")

    @classmethod
    def from_crawler(cls, crawler: Any) -> MmapThreshold:
        return cls(mmap_threshold(crawler.settings))


#: Largest threshold ``gc.set_threshold`` takes (a C int).
GC_THRESHOLD_MAX = _C_INT_MAX

_frozen = False  # whether tune_gc has frozen this process's objects already


def gc_threshold(settings: Any) -> int:
    """``ARCHIVE_GC_THRESHOLD`` as a number (unset: :data:`GC_THRESHOLD`).

    :raises ValueError: when the setting is not a whole number from 0 to GC_THRESHOLD_MAX.
    """
    return _whole_setting(settings, "ARCHIVE_GC_THRESHOLD", GC_THRESHOLD, GC_THRESHOLD_MAX)


def mmap_threshold(settings: Any) -> int:
    """``ARCHIVE_MMAP_THRESHOLD`` in bytes (unset: :data:`MMAP_THRESHOLD`).

    :raises ValueError: when the setting is neither 0 nor a whole number from MMAP_THRESHOLD_MIN to
        MMAP_THRESHOLD_MAX.
    """
    return _whole_setting(settings, "ARCHIVE_MMAP_THRESHOLD", MMAP_THRESHOLD, MMAP_THRESHOLD_MAX,
                          MMAP_THRESHOLD_MIN)


def worker_mmap_threshold(settings: Any) -> int:
    """``ARCHIVE_WORKER_MMAP_THRESHOLD`` in bytes (unset: :data:`WORKER_MMAP_THRESHOLD`), checked in the
    crawl process when the crawl starts (a worker's initializer must not fail).

    :raises ValueError: as :func:`mmap_threshold`.
    """
    return _whole_setting(settings, "ARCHIVE_WORKER_MMAP_THRESHOLD", WORKER_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX,
                          MMAP_THRESHOLD_MIN)


def _whole_setting(settings: Any, name: str, default: int, maximum: int, minimum: int = 0) -> int:
    """A setting that is 0 or a whole number from ``minimum`` to ``maximum``.

    :raises ValueError: otherwise, naming the setting and the value given.
    """
    raw = settings.get(name, default)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        value = -1
    if value != 0 and not minimum <= value <= maximum:
        allowed = f"0 or from {minimum} to {maximum}" if minimum > 1 else f"from 0 to {maximum}"
        raise ValueError(f"{name} must be {allowed}, got {raw!r}")
    return value


def tune_gc(threshold: int = GC_THRESHOLD, *, collect: bool = True) -> None:
    """Freeze the objects alive now and collect the youngest generation every ``threshold``
    container allocations (Python's default is 700 in CPython 3.11 and 3.12).

    Call it once start-up is over: modules, settings and components then live for the whole
    process, and collections stop scanning them (``gc.freeze``). With ``collect``, garbage
    present at the call is collected first, not frozen; a process forked from a warm parent (the
    extraction workers, from the fork server) passes False, since a full collection would write
    to every inherited object and copy its memory page. Only the first call in a process
    freezes. The older generations keep their thresholds, which count young collections, so they
    too are collected ``threshold`` / 700 times less often: cyclic garbage that survives a young
    collection lives longer (refcounting frees all other garbage at once, as before).
    Measured on 2,000 corpus pages: the crawl process spent 0.58 s of its 16 s of CPU in
    collections with CPython's 700, 0.16 s with 10,000 from the engine's start; trafilatura alone
    ran 1.3% fewer instructions (callgrind, 30 pages). ``threshold`` 0 changes nothing.

    :raises OverflowError: when ``threshold`` is above GC_THRESHOLD_MAX (nothing changed then;
        :func:`gc_threshold` checks the setting).
    """
    global _frozen
    if threshold <= 0:
        return
    gc.set_threshold(threshold, *gc.get_threshold()[1:])
    if not _frozen:
        if collect:
            gc.collect()
        gc.freeze()
        _frozen = True


def prepare_worker(mmap_threshold: int = WORKER_MMAP_THRESHOLD, gc_threshold: int = GC_THRESHOLD) -> None:
    """Initializer of an extraction worker: :func:`fix_mmap_threshold` (trim threshold four times
    ``mmap_threshold``), then :func:`tune_gc` without a collection first (either skipped when its
    threshold is 0)."""
    if mmap_threshold:
        fix_mmap_threshold(mmap_threshold, trim=4 * mmap_threshold)
    tune_gc(gc_threshold, collect=False)


class GcThreshold:
    """Scrapy extension: :func:`tune_gc` in the crawl process once the engine has started.

    Setting ``ARCHIVE_GC_THRESHOLD`` (net container allocations between young collections;
    0 leaves Python's collector alone). The extraction workers apply it too
    (:class:`newscrawler.pipelines.ExtractPipeline`).

    :raises ValueError: (when the crawler is made) for a setting out of range (:func:`gc_threshold`).
    """

    def __init__(self, threshold: int):
        self.threshold = threshold

    @classmethod
    def from_crawler(cls, crawler: Any) -> GcThreshold:
        from scrapy import signals

        extension = cls(gc_threshold(crawler.settings))
        crawler.signals.connect(extension.engine_started, signal=signals.engine_started)
        return extension

    def engine_started(self) -> None:
        tune_gc(self.threshold)
