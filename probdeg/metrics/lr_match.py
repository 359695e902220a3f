"""How closely generated LR matches real LR, on statistics that do not need pairs: the objective of
``probdeg fit-degradation``, measure by measure.

- ``noise``: noise level by brightness: the wavelet-MAD noise estimate (:func:`probdeg.metrics.noise_level`'s) on
  the flattest blocks of each luma band (dark to bright); the distance is the mean |log ratio| over the bands both
  sides have blocks in;
- ``blocking``: the JPEG block-edge ratio (:func:`probdeg.jpeg.block_edge_ratio`, median over images), |difference|;
- ``sharpness``: blur seen on the strongest edges: the top-percentile luma gradient at full resolution over the same
  at half resolution (2x2 box), about 1 for step edges, 0.5 for edges wider than a few pixels; |difference|;
- ``patch``: the sliced-Wasserstein distance of high-pass patches (:func:`probdeg.metrics.patch_distance`).

The figures depend on the images' content as well as on their degradation; where the real LR shows other scenes
than the HR, each can prefer a wrong degradation (flat-patch statistics alone preferred heavy blur on the sample
task: issue 28). :func:`objective` sums them, each over a scale that makes a just-visible difference about 1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..filters import haar_dwt
from ..jpeg import block_edge_ratio
from .degradation import MAD_TO_STD, patch_distance

BRIGHTNESS_EDGES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
"""Luma bands of the noise measure."""
MIN_BLOCKS = 8
"""Flat blocks a band needs on both sides to count."""
SCALES = {"noise": 0.2, "blocking": 0.05, "sharpness": 0.05, "patch": 0.1}
"""Differences that count as 1 in :func:`objective` (noise: 20 % in level; blocking: 0.05 of the ratio)."""
MEASURES = tuple(SCALES)


@dataclass(frozen=True)
class LRStatistics:
    """The unpaired statistics of a set of LR images (see the module doc)."""

    noise_by_brightness: tuple[Optional[float], ...]
    blocks_by_brightness: tuple[int, ...]
    blocking: Optional[float]
    sharpness: float


def _luma(image: Tensor) -> Tensor:
    weights = torch.tensor([0.299, 0.587, 0.114], dtype=image.dtype, device=image.device)
    return (image * weights[:, None, None]).sum(0) if image.shape[0] == 3 else image[0]


def _noise_blocks(luma: Tensor, block: int = 8) -> tuple[Tensor, Tensor, Tensor]:
    """Per ``2 * block`` pixel block: brightness, detail (LH + HL) and the HH coefficients."""
    h, w = luma.shape[-2] // (2 * block) * 2 * block, luma.shape[-1] // (2 * block) * 2 * block
    ll, lh, hl, hh = haar_dwt(luma[None, None, :h, :w].float())

    def blocks(band: Tensor) -> Tensor:
        return band[0, 0].unfold(0, block, block).unfold(1, block, block).reshape(-1, block * block)

    return blocks(ll).mean(-1) / 2, (blocks(lh).abs() + blocks(hl).abs()).mean(-1), blocks(hh)


def _sharp_gradients(luma: Tensor) -> tuple[Tensor, Tensor]:
    full = torch.cat([(luma[:, 1:] - luma[:, :-1]).abs().flatten(), (luma[1:] - luma[:-1]).abs().flatten()])
    half = F.avg_pool2d(luma[None, None], 2)[0, 0]
    coarse = torch.cat([(half[:, 1:] - half[:, :-1]).abs().flatten(), (half[1:] - half[:-1]).abs().flatten()])
    return full, coarse


def lr_statistics(images: Sequence[Tensor], *, top: float = 0.01) -> LRStatistics:
    """The statistics of LR images (C, H, W) in [0, 1], each at least 16 x 16 pixels.

    Args:
        images: the LR images.
        top: the share of the strongest gradients the sharpness reads.
    """
    if not images:
        raise ValueError("lr_statistics needs at least one image")
    brightness, detail, hh, full, coarse, blocking = [], [], [], [], [], []
    for image in images:
        luma = _luma(image.float().cpu())
        if min(luma.shape) < 16:
            raise ValueError(f"lr_statistics needs images of at least 16x16 pixels, got {tuple(luma.shape)}")
        b, d, c = _noise_blocks(luma)
        brightness.append(b), detail.append(d), hh.append(c)
        f, g = _sharp_gradients(luma)
        full.append(f), coarse.append(g)
        blocking.append(block_edge_ratio(image.float().cpu().permute(1, 2, 0).numpy()))
    brightness, detail, hh = torch.cat(brightness), torch.cat(detail), torch.cat(hh)
    levels, counts = [], []
    for low, high in zip(BRIGHTNESS_EDGES[:-1], BRIGHTNESS_EDGES[1:]):
        inside = (brightness >= low) & ((brightness < high) | (high == BRIGHTNESS_EDGES[-1]))
        count = int(inside.sum())
        if count < 2 * MIN_BLOCKS:
            levels.append(None), counts.append(count)
            continue
        flat = detail[inside].argsort()[: count // 2]  # the flatter half of the band's blocks
        levels.append(float(hh[inside][flat].abs().flatten().median() / MAD_TO_STD))
        counts.append(count // 2)
    full, coarse = torch.cat(full), torch.cat(coarse)
    sharpness = float(torch.quantile(full, 1 - top) / torch.quantile(coarse, 1 - top).clamp_min(1e-6))
    return LRStatistics(tuple(levels), tuple(counts), float(np.median(blocking)), sharpness)


def match_measures(generated: Sequence[Tensor], real: Sequence[Tensor], *, seed: int = 0,
                   real_statistics: Optional[LRStatistics] = None) -> dict[str, float]:
    """The distance of ``generated`` to ``real`` LR on each measure (see the module doc; 0: the same).

    Args:
        generated: generated LR images (C, H, W).
        real: real LR images (C, H, W), unpaired.
        seed: the patch distance's sampling seed.
        real_statistics: ``lr_statistics(real)``, when already known.
    """
    mine, theirs = lr_statistics(generated), real_statistics or lr_statistics(real)
    ratios = [abs(np.log(max(g, 1e-4) / max(r, 1e-4))) for g, r in zip(mine.noise_by_brightness,
                                                                         theirs.noise_by_brightness)
              if g is not None and r is not None]
    return {"noise": float(np.mean(ratios)) if ratios else float("nan"),
            "blocking": abs(mine.blocking - theirs.blocking),
            "sharpness": abs(mine.sharpness - theirs.sharpness),
            "patch": float(patch_distance([x[None] for x in generated], [x[None] for x in real], seed=seed))}


def objective(measures: Mapping[str, float], weights: Optional[Mapping[str, float]] = None) -> float:
    """The weighted sum of the measures, each over its :data:`SCALES` (lower is closer; a NaN measure counts 0)."""
    weights = weights or {name: 1.0 for name in MEASURES}
    return float(sum(weights.get(name, 0.0) * measures[name] / SCALES[name] for name in MEASURES
                     if not np.isnan(measures[name])))
