"""fix_mmap_threshold: large blocks keep their own mappings after big ones were freed (glibc);
tune_gc: young garbage collected less often, start-up objects frozen (in workers and crawl process)."""

import gc
import os
import platform
import subprocess
import sys

import pytest
from scrapy.utils.test import get_crawler

from newscrawler.pipelines import ExtractPipeline
from newscrawler.workers import WorkerCrashed

glibc_only = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")

# Frees a 4 MiB block (glibc then raises its dynamic threshold to 4 MiB), allocates 200 KiB and
# prints whether that block is a mapping of its own: bit 2 of the chunk's size word (IS_MMAPPED).
PROBE = """
import ctypes, sys
from newscrawler.memory import fix_mmap_threshold
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
if sys.argv[1] == "fixed":
    assert fix_mmap_threshold(128 * 1024)
if sys.argv[1] == "beyond a C int":  # its low 32 bits are 128 KiB: refused, not cut to them
    assert not fix_mmap_threshold(2**32 + 128 * 1024)
libc.free(libc.malloc(4 << 20))
block = libc.malloc(200 * 1024)
print(bool(ctypes.c_size_t.from_address(block - ctypes.sizeof(ctypes.c_size_t)).value & 2))
"""


@glibc_only
@pytest.mark.parametrize(("mode", "mapped"), [("dynamic", "False"), ("fixed", "True"), ("beyond a C int", "False")])
def test_a_fixed_threshold_keeps_page_sized_blocks_out_of_the_heap(mode, mapped):
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == mapped


# Prints the collector's state before and after: youngest generation's threshold, the older ones
# unchanged, objects frozen.
GC_PROBE = """
import gc, sys
from newscrawler.memory import prepare_worker
before = gc.get_threshold()
prepare_worker(0, int(sys.argv[1]))
print(before[0], gc.get_threshold()[0], gc.get_threshold()[1:] == before[1:], gc.get_freeze_count() > 1000)
"""


@pytest.mark.parametrize("threshold", [10_000, 0])
def test_a_worker_collects_young_garbage_less_often_with_its_start_up_objects_frozen(threshold):
    out = subprocess.run([sys.executable, "-c", GC_PROBE, str(threshold)], capture_output=True, text=True,
                         check=True)
    before, after, older_kept, frozen = out.stdout.split()
    assert int(after) == (threshold or int(before))  # 0: Python's own threshold, whatever the version
    assert older_kept == "True"
    assert frozen == str(bool(threshold))


# The crawl process: the extension, registered in the project's settings, acts when the engine starts.
EXTENSION_PROBE = """
import gc, sys
from scrapy import signals
from scrapy.utils.test import get_crawler
from newscrawler import settings
from scrapy.extension import ExtensionManager
crawler = get_crawler(settings_dict={"EXTENSIONS": settings.EXTENSIONS, "ARCHIVE_GC_THRESHOLD": sys.argv[1]})
ExtensionManager.from_crawler(crawler)  # builds the extensions, as crawl() does first
before = gc.get_threshold()[0]
crawler.signals.send_catch_log(signals.engine_started)
print(before, gc.get_threshold()[0], gc.get_freeze_count() > 1000)
"""


@pytest.mark.parametrize("threshold", [10_000, 0])
def test_the_crawl_process_tunes_its_collector_when_the_engine_starts(threshold):
    out = subprocess.run([sys.executable, "-c", EXTENSION_PROBE, str(threshold)], capture_output=True, text=True,
                         check=True)
    before, after, frozen = out.stdout.split()
    assert int(before) != 10_000  # untouched until the engine starts
    assert int(after) == (threshold or int(before))
    assert frozen == str(bool(threshold))


def collector_state() -> tuple[int, int]:
    """In a worker: the youngest generation's threshold and how many objects are frozen."""
    return gc.get_threshold()[0], gc.get_freeze_count()


def exit_now() -> None:
    os._exit(3)


@pytest.mark.parametrize("threshold", [12_345, 0])
def test_the_extraction_pool_tunes_each_worker_replacements_included(threshold):
    pipeline = ExtractPipeline(get_crawler(settings_dict={"ARCHIVE_GC_THRESHOLD": threshold,
                                                          "ARCHIVE_EXTRACT_WORKERS": 1}))
    pool = pipeline._started_pool()
    try:
        first = pool.submit(collector_state).result(timeout=60)
        with pytest.raises(WorkerCrashed):
            pool.submit(exit_now).result(timeout=60)
        replacement = pool.submit(collector_state).result(timeout=60)
    finally:
        pool.shutdown()
    for young, frozen in (first, replacement):
        if threshold:
            assert (young, frozen > 1000) == (threshold, True)
        else:
            assert (young, frozen) == (gc.get_threshold()[0], 0)  # Python's own, as in this process
    assert pool.started == 2


def malloc_state() -> tuple[bool, bool, bool, bool]:
    """In a worker: whether a 900 KiB block came from the heap (no mapping of its own) and grew it,
    whether the heap kept that memory once the block was freed, and whether a 2 MiB block got a
    mapping of its own."""
    import ctypes

    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    libc.sbrk.restype, libc.sbrk.argtypes = ctypes.c_void_p, [ctypes.c_ssize_t]

    def mapped(block: int) -> bool:  # bit 2 of the chunk's size word: IS_MMAPPED
        return bool(ctypes.c_size_t.from_address(block - ctypes.sizeof(ctypes.c_size_t)).value & 2)

    top = libc.sbrk(0)
    block = libc.malloc(900 * 1024)
    from_heap, grew = not mapped(block), libc.sbrk(0) > top
    libc.free(block)
    kept = libc.sbrk(0) > top
    big = libc.malloc(2 << 20)
    big_mapped = mapped(big)
    libc.free(big)
    return from_heap, grew, kept, big_mapped


@glibc_only
def test_a_worker_reuses_page_sized_blocks_from_its_heap():
    # A worker holds one page at a time: its page buffers stay in its heap, and the heap keeps
    # its free top (up to 4 MiB) for the next page instead of giving it back and faulting it in again.
    pipeline = ExtractPipeline(get_crawler(settings_dict={"ARCHIVE_EXTRACT_WORKERS": 1}))
    pool = pipeline._started_pool()
    try:
        from_heap, grew, kept, big_mapped = pool.submit(malloc_state).result(timeout=60)
    finally:
        pool.shutdown()
    assert (from_heap, grew) == (True, True)
    assert kept  # glibc's fixed trim threshold (128 KiB) would have given the 900 KiB back
    assert big_mapped  # over the 1 MiB threshold: a mapping of its own, unmapped when freed
