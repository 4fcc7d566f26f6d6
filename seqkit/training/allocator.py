"""glibc's memory allocator, tuned for training loops that free and reallocate the same large blocks.

glibc serves a large allocation (above a threshold that starts at 128 KiB and adapts) with
a fresh mapping from the operating system, and returns it when freed. A training step
frees and allocates the same activations and gradients, megabytes each, every time, so
the process maps them again and takes a page fault on every new page, step after step:
up to about a quarter of a language model's step on a 2-core CPU. Two thresholds,
the same ones as the `MALLOC_MMAP_THRESHOLD_` and `MALLOC_TRIM_THRESHOLD_` environment
variables, keep those blocks in the process's heap instead:

- below 32 MiB an allocation comes from the heap, not a mapping of its own;
- the heap is not given back to the operating system while under 2 GiB is free at its top.

The memory a run holds at its peak stays with it until it ends, which is what a training
process wants. `seqkit fit|validate|test|predict` call `tune()` at start; it changes
nothing where the allocator is not glibc's, where either variable is set (the user's
choice wins), or with `SEQKIT_MALLOC=default`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

MMAP_THRESHOLD = 32 * 1024 * 1024
TRIM_THRESHOLD = 2**31 - 1  # the largest mallopt takes (an int): 2 GiB
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameters, from glibc's malloc.h


def tune() -> bool:
    """Set glibc's two thresholds (see the module docstring); True when they were set."""
    if not sys.platform.startswith("linux") or os.environ.get("SEQKIT_MALLOC") == "default":
        return False
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt  # glibc only: musl and others have none
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
