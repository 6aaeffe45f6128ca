"""Keep glibc from returning large tensor buffers to the OS on every training step.

By default glibc serves allocations above a dynamic threshold with mmap and unmaps them on free, so
every step of a conv net pays hundreds of thousands of page faults (measured: ~20% of CPU time in
the kernel, +22-28% throughput once disabled). ``mallopt`` is glibc's own switch for this; no library
wraps it, hence this small ctypes call. It must run before large tensors exist, so the package
applies it at import time. Set ``DCGAN_NO_MALLOPT=1`` to leave the allocator untouched.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

# Parameter numbers from glibc's <malloc.h>.
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
TRIM_THRESHOLD_BYTES = 1 << 30

_applied = False


def apply_allocator_settings() -> bool:
    """Disable mmap-backed allocations and raise the trim threshold; return whether it took effect."""
    global _applied
    if _applied:
        return True
    if os.environ.get("DCGAN_NO_MALLOPT") or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other libcs have no mallopt
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    _applied = bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))
    return _applied


def allocator_settings_applied() -> bool:
    """Return True when this process runs with the allocator settings above."""
    return _applied
