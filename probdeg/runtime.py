"""Process settings that make CPU training faster: glibc's allocator told to keep the memory it frees.

Measured (benchmarks/bench_training.py, docs/benchmarks.md): a CPU training step allocates and frees feature maps
of many megabytes. glibc serves blocks above 32 MiB with mmap and gives them back on free, and gives freed memory at
the top of its heap back too, so every step pays hundreds of thousands of page faults to map the same memory again.
Raising the mmap threshold (large blocks from the heap) and the trim threshold (freed heap memory kept) removes
them: 524,304 minor page faults per step of an 8 x 64 x 256 x 256 convolution pair became 0. Either setting alone
is not enough (163,744 faults with the mmap threshold only). The cost: the process keeps its peak memory instead
of returning it between steps. GPUs (PyTorch's caching allocator) and other C libraries are unaffected.
"""

from __future__ import annotations

import ctypes
import os
import sys

SWITCH = "PROBDEG_MALLOC_TUNING"
"""Environment variable: ``0`` leaves glibc's allocator as it is."""

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers (malloc.h)
_LARGEST = 2**31 - 1  # mallopt takes an int


def keep_freed_memory() -> bool:
    """Tell glibc's allocator to serve large blocks from its heap and to keep the memory it frees.

    Called by ``probdeg train`` and ``probdeg demo`` at start (``PROBDEG_MALLOC_TUNING=0`` turns it off). Settings
    made before (``MALLOC_MMAP_THRESHOLD_`` ...) are replaced. Call it before the first large allocation.

    Returns:
        Whether the allocator was tuned (False off Linux / glibc, or when switched off).
    """
    if os.environ.get(SWITCH, "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018 - glibc only (musl has no such tuning)
    except (OSError, AttributeError):
        return False
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, _LARGEST)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, _LARGEST))
