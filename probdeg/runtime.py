"""Settings that make CPU training faster: glibc's allocator told to keep the memory it frees, and the choice of
bfloat16 autocast (:func:`autocast_dtype`, the SR presets' ``train:autocast``).

Measured (benchmarks/bench_training.py, docs/benchmarks.md): a CPU training step allocates and frees feature maps
of many megabytes. glibc serves blocks above 32 MiB with mmap and gives them back on free, and gives freed memory at
the top of its heap back too, so every step pays hundreds of thousands of page faults to map the same memory again.
Raising the mmap threshold (large blocks from the heap) and the trim threshold (freed heap memory kept) removes
them: 524,304 minor page faults per step of an 8 x 64 x 256 x 256 convolution pair became 0. Either setting alone
is not enough (163,744 faults with the mmap threshold only). The cost: the process keeps its peak memory instead
of returning it between steps. GPUs (PyTorch's caching allocator) and other C libraries are unaffected.

bfloat16: on a CPU with AVX512-BF16 or AMX, oneDNN runs the compact SR net's training step about 1.4x faster under
``torch.autocast`` than in float32, and the tiny presets' SR nets reach the same PSNR (docs/investigations.md,
investigation 1); without those instructions bfloat16 is emulated, so ``auto`` keeps float32 there.
"""

from __future__ import annotations

import ctypes
import os
import sys
from typing import Any, Callable, Optional, Union

import torch

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


AUTOCAST_CHOICES = ("auto", "bf16", "off")
"""Values of ``train:autocast`` (see :func:`autocast_dtype`)."""


def bf16_is_native(device: torch.device) -> bool:
    """Whether ``device`` computes bfloat16 convolutions in hardware: a CUDA GPU that supports bfloat16, or a CPU
    with AVX512-BF16 or AMX (oneDNN then runs them about 1.4x faster than float32, docs/benchmarks.md)."""
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    cpu = getattr(torch, "cpu", None)
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(cpu, name, lambda: False)() for name in checks)


def autocast_dtype(choice: Union[str, bool, None], device: torch.device) -> Optional[torch.dtype]:
    """The dtype to autocast training forwards to, or None for float32.

    Args:
        choice: ``off`` (float32; also false or None, as YAML reads a bare ``off``), ``bf16`` (bfloat16 everywhere;
            slow where the hardware lacks it) or ``auto`` (bfloat16 where :func:`bf16_is_native`, else float32).
        device: the training device.
    """
    choice = "off" if choice is False or choice is None else choice
    if choice not in AUTOCAST_CHOICES:
        raise ValueError(f"train:autocast: expected one of {', '.join(AUTOCAST_CHOICES)}, got {choice!r}")
    if choice == "off" or choice == "auto" and not bf16_is_native(device):
        return None
    return torch.bfloat16


def in_precision(net: Callable[..., torch.Tensor], dtype: Optional[torch.dtype]) -> Callable[..., torch.Tensor]:
    """``net`` with its forward under ``torch.autocast`` to ``dtype`` and its output cast back to float32, so that the
    losses computed on it (filters, L1, BCE) stay float32; ``net`` itself when ``dtype`` is None.

    Stage 1 calls its generator and discriminator through this (``train:autocast``): the colour loss compares
    low-passed images whose differences are about 0.01, which bfloat16's 8-bit mantissa would round coarsely.
    """
    if dtype is None:
        return net

    def forward(*args: Any, **kwargs: Any) -> torch.Tensor:
        device = next((a.device for a in args if isinstance(a, torch.Tensor)), torch.device("cpu"))
        with torch.autocast(device.type, dtype=dtype):
            return net(*args, **kwargs).float()

    return forward
