"""JPEG in the real LR: how blocky it is, which quality range explains it, and that compression for generated LR.

A convolutional generator trained on randomly placed crops cannot learn JPEG's blocking: the 8x8 grid is fixed to the
image's corner, and a translation-equivariant net never sees where it lies (measured: the generators' LR has a
block-edge ratio of 1.00 where the real LR's is 1.10-1.27: docs/investigations.md, part 7). So the blocking is
measured on the real LR, unpaired and without weights, and the generated LR is compressed at the quality range that
gives it the same blocking.

- :func:`block_edge_ratio`: how much larger the luma steps across the 8x8 grid's edges are than all steps;
- :func:`estimate_quality_range`: the JPEG qualities at which generated LR shows the real LR's ratio, or ``None``;
- :func:`compress`: one JPEG round trip; :func:`compress_batch` for a batch of tensors (on-the-fly sources).
"""

from __future__ import annotations

import statistics
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Optional

import numpy as np

if TYPE_CHECKING:
    from torch import Tensor

BLOCK = 8
"""JPEG's block side, in pixels of the compressed image."""

QUALITIES = tuple(range(10, 100, 5))
"""The qualities :func:`estimate_quality_range` chooses from."""

NO_BLOCKING_BELOW = 1.05
"""Median block-edge ratio under which the real LR counts as uncompressed. Uncompressed LR measured 1.00-1.04 per
image (the unseen task of docs/investigations.md, median 1.03); JPEG at quality 90 gives about 1.03, at 85 about
1.08."""


def is_quality_range(value: object) -> bool:
    """Whether ``value`` is a JPEG quality range: two integers ``(low, high)`` with ``1 <= low <= high <= 100``."""
    return isinstance(value, (list, tuple)) and len(value) == 2 \
        and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value) \
        and 1 <= value[0] <= value[1] <= 100


def _luma(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 2:
        return image
    if image.ndim != 3 or image.shape[2] not in (1, 3):
        raise ValueError(f"expected an (H, W), (H, W, 1) or (H, W, 3) image, got shape {image.shape}")
    return image[..., 0] if image.shape[2] == 1 else image @ np.array([0.299, 0.587, 0.114])


def block_edge_ratio(image: np.ndarray) -> float:
    """The mean absolute luma step across the 8x8 grid's edges over the mean step at every position (columns and
    rows averaged): about 1 without blocking, 1.3 after JPEG at quality 30-60 on noisy LR. The grid starts at the
    image's top-left corner, as JPEG's does: pass whole images, not crops.

    Shape:
        image: (H, W), (H, W, 1) or (H, W, 3), any scale; at least 16 pixels each way.
    """
    luma = _luma(image)
    if min(luma.shape) < 2 * BLOCK:
        raise ValueError(f"block_edge_ratio needs at least {2 * BLOCK}x{2 * BLOCK} pixels, got {luma.shape}")
    ratios = []
    for steps in (np.abs(np.diff(luma, axis=1)).mean(0), np.abs(np.diff(luma, axis=0)).mean(1)):
        # steps[x] is the step between pixels x and x + 1: the grid's edges are at x = 7, 15, ...
        phases = steps[:len(steps) // BLOCK * BLOCK].reshape(-1, BLOCK).mean(0)
        ratios.append(phases[BLOCK - 1] / max(phases.mean(), 1e-12))
    return float(np.mean(ratios))


def compress(image: np.ndarray, quality: int) -> np.ndarray:
    """One JPEG round trip (OpenCV, 4:2:0 chroma) of an RGB image in [0, 1].

    Shape:
        image: (H, W, 3) float -> (H, W, 3) float32 in [0, 1], multiples of 1/255.
    """
    import cv2

    if not 1 <= int(quality) <= 100:
        raise ValueError(f"JPEG quality must lie in 1..100, got {quality}")
    bgr = cv2.cvtColor(np.rint(np.clip(image, 0, 1) * 255).astype(np.uint8), cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("OpenCV could not encode the image as JPEG")
    return cv2.cvtColor(cv2.imdecode(encoded, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB).astype(np.float32) / 255


def compress_batch(images: Tensor, qualities: tuple[int, int]) -> Tensor:
    """Each image of a batch through :func:`compress` at a quality drawn uniformly from ``qualities`` (both ends
    included) with torch's generator, back on the images' device and dtype.

    Shape:
        images: (B, 3, H, W) in [0, 1] -> the same.
    """
    import torch  # here, not at the top: the command line imports this module to check --jpeg without torch

    drawn = torch.randint(int(qualities[0]), int(qualities[1]) + 1, (images.shape[0],)).tolist()
    out = [torch.from_numpy(compress(image.detach().permute(1, 2, 0).float().cpu().numpy(), q)).permute(2, 0, 1)
           for image, q in zip(images, drawn)]
    return torch.stack(out).to(device=images.device, dtype=images.dtype)


def estimate_quality_range(real_lr: Sequence[np.ndarray], generated_lr: Sequence[np.ndarray],
                           qualities: Sequence[int] = QUALITIES) -> Optional[tuple[int, int]]:
    """The JPEG quality range at which ``generated_lr`` shows the blocking of ``real_lr``, or ``None`` when the real
    LR shows none (median block-edge ratio below :data:`NO_BLOCKING_BELOW`).

    Each real image's ratio is matched to the quality whose compression gives the generated images (their mean) the
    nearest ratio; the range spans the real images' matched qualities. Noise in the generated LR lowers its ratio at
    a given quality, so the match is made on the LR that will be compressed, not on clean bicubic LR.

    Args:
        real_lr: whole real LR images (the grid starts at their corner), RGB in [0, 1]; those under 16x16 pixels
            are left out.
        generated_lr: whole generated LR images, uncompressed; likewise.
        qualities: the candidates, ascending.

    Returns:
        ``(low, high)`` qualities, both included, or ``None``.
    """
    def large_enough(images: Sequence[np.ndarray]) -> list[np.ndarray]:
        return [image for image in images if min(np.shape(image)[:2]) >= 2 * BLOCK]

    real_lr, generated_lr = large_enough(real_lr), large_enough(generated_lr)
    if not real_lr or not generated_lr:
        raise ValueError(f"estimating a JPEG quality needs real and generated LR images of at least {2 * BLOCK}x"
                         f"{2 * BLOCK} pixels (smaller ones are left out)")
    real = [block_edge_ratio(image) for image in real_lr]
    if statistics.median(real) < NO_BLOCKING_BELOW:
        return None
    curve = [statistics.fmean(block_edge_ratio(compress(image, q)) for image in generated_lr) for q in qualities]
    matched = [qualities[int(np.argmin([abs(c - r) for c in curve]))] for r in real]
    low, high = min(matched), max(matched)
    if low == qualities[0]:
        warnings.warn(f"the JPEG range estimate {low}-{high} sits at its lowest candidate, quality {low}: some real "
                      "LR is at least that blocky (or blocky for another reason, such as an upscale on an 8-pixel "
                      "grid); look at it, or set the range yourself", stacklevel=2)
    elif high == qualities[-1] and low == high:
        warnings.warn(f"the JPEG range estimate sits at its highest candidate, quality {high}: the real LR is barely "
                      "blocky, or the generated LR's noise hides the blocking at every quality; look at both, or set "
                      "--jpeg LOW:HIGH yourself", stacklevel=2)
    return low, high
