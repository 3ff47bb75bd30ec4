"""fix_mmap_threshold: large blocks keep their own mappings after big ones were freed (glibc)."""

import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")

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
libc.free(libc.malloc(4 << 20))
block = libc.malloc(200 * 1024)
print(bool(ctypes.c_size_t.from_address(block - ctypes.sizeof(ctypes.c_size_t)).value & 2))
"""


@pytest.mark.parametrize(("mode", "mapped"), [("dynamic", "False"), ("fixed", "True")])
def test_a_fixed_threshold_keeps_page_sized_blocks_out_of_the_heap(mode, mapped):
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == mapped
