"""Keep glibc from returning large tensor buffers to the OS on every training step.

By default glibc serves allocations above a dynamic threshold (at most 32 MiB on 64-bit) with mmap and
unmaps them on free, so every step of a conv net whose activations exceed it pays hundreds of thousands
of page faults (measured: ~20% of CPU time in the kernel, +22-28% throughput once disabled). ``mallopt``
is glibc's own switch for this; no library wraps it, hence this small ctypes call.

It changes the whole process, so importing ``dcgan`` never applies it: a program that uses the library
keeps its own allocator. It is applied only where the toolkit runs its own process: at the start of
``dcgan.cli.main`` (every ``dcgan`` command, and ``torchrun -m dcgan.cli``, before large tensors exist)
and on entering the trainer (``dcgan.train.train`` / ``resume``), whose step loop is what it speeds up.
Set ``DCGAN_NO_MALLOPT=1`` to leave the allocator untouched even there.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import sys
from collections.abc import Callable

# Parameter numbers and defaults from glibc's <malloc.h> / malloc.c (64-bit).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_MMAP_MAX = -4
GLIBC_MMAP_MAX = 65536
GLIBC_MMAP_THRESHOLD_MAX = 32 * 1024 * 1024
TRIM_THRESHOLD_BYTES = 1 << 30

_applied = False


@functools.cache
def _mallopt() -> Callable[[int, int], int] | None:
    """Return glibc's mallopt, or None on other platforms and C libraries."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):  # musl and other libcs have no mallopt
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int]
    fn.restype = ctypes.c_int
    return fn


def apply_allocator_settings() -> bool:
    """Disable mmap-backed allocations and raise the trim threshold; return whether it took effect."""
    global _applied
    mallopt = _mallopt()
    if _applied or os.environ.get("DCGAN_NO_MALLOPT") or mallopt is None:
        return _applied
    _applied = bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))
    return _applied


def emulate_glibc_default() -> bool:
    """Set glibc's default steady state (mmap above 32 MiB, trim above 64 MiB): the benchmarks' baseline."""
    global _applied
    mallopt = _mallopt()
    if mallopt is None:
        return False
    _applied = False
    return all(mallopt(p, v) for p, v in ((M_MMAP_MAX, GLIBC_MMAP_MAX), (M_MMAP_THRESHOLD, GLIBC_MMAP_THRESHOLD_MAX),
                                          (M_TRIM_THRESHOLD, 2 * GLIBC_MMAP_THRESHOLD_MAX)))


def allocator_settings_applied() -> bool:
    """Return True when this process runs with the allocator settings above."""
    return _applied
