"""Score SR images of real LR that have no ground truth: NIQE, and the LR consistency of each SR image.

* **NIQE** (computed by the BasicSR glue, :func:`probdeg.integrations.basicsr.niqe.niqe`, handed in here) measures
  how far an image's local statistics sit from those of pristine photos: lower looks more natural. It needs no
  reference, and it cannot tell a faithful image from an invented one.
* **LR consistency**: the SR image degraded back to the LR size (bicubic, or a learned degradation generator at its
  latent means) against the LR it came from, as PSNR in dB. An SR image that invents content the LR does not hold,
  or shifts colours, scores low; a blurry one that only interpolates scores high. It tells whether the SR output
  is *compatible* with its input under that degradation, not whether it is sharp or right.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Union

import numpy as np
import torch
from torch import Tensor, nn

from ..checkpoint import load_network
from ..degrade import crop_to_scale, degrade_batch, infer_scale
from ..errors import UserError
from ..filters import bicubic_downscale
from ..folders import Matching, match_images
from ..io import list_images
from ..progress import progress_bar
from ..registry import Resolve
from ..tables import format_table, json_safe, nan_mean
from ..tiling import quantise
from .image import psnr_uint8
from .sr_scores import read_uint8

PathLike = Union[str, os.PathLike]

NoReferenceScore = Callable[..., float]
"""``score(image, crop_border=...)``: a score of one 8-bit RGB image (H, W, 3) without a reference (NIQE)."""

_FORMATS = {"niqe": ".3f", "lr_psnr": ".2f"}


@dataclass
class NoReferenceEvaluation:
    """The no-reference scores of an SR folder.

    Attributes:
        rows: one dict per SR image: ``image`` (key), ``sr``, ``lr`` (paths; ``lr`` empty without an LR folder) and
            each metric.
        metrics: ``niqe`` and / or ``lr_psnr``, in column order.
        mean: the mean of each metric (NaN values, from images too small for NIQE, left out).
        matching: how SR files were paired with LR files, or ``None`` without an LR folder.
        failures: messages of images that could not be scored.
        notes: one-line notes.
        options: what was asked (folders, degradation, crop border).
    """

    rows: list[dict[str, Any]]
    metrics: list[str]
    mean: dict[str, float] = field(default_factory=dict)
    matching: Optional[Matching] = None
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    path_columns: tuple[str, ...] = ("sr", "lr")

    @property
    def complete(self) -> bool:
        return not self.failures and (self.matching is None or self.matching.complete)

    def table(self) -> str:
        header = ["image"] + [_HEADERS[m] for m in self.metrics]
        lines = [[row["image"]] + [format(row[m], _FORMATS[m]) for m in self.metrics] for row in self.rows]
        mean = [f"mean of {len(self.rows)}"] + [format(self.mean[m], _FORMATS[m]) for m in self.metrics]
        return format_table(header, lines, mean)

    def as_dict(self) -> dict[str, Any]:
        matching = self.matching or Matching(pairs=[])
        return {**self.options, "metrics": self.metrics, "mean": json_safe(self.mean),
                "images": json_safe(self.rows), "missing": [str(p) for p in matching.missing],
                "extra": [str(p) for p in matching.extra], "failures": self.failures, "notes": self.notes}


_HEADERS = {"niqe": "NIQE", "lr_psnr": "LR-PSNR"}


def lr_consistency(sr: Tensor, lr: np.ndarray, degrade: Callable[[Tensor, int], Tensor], *,
                   crop_border: int = 0) -> float:
    """PSNR (dB) between an SR image degraded back to the LR size and that LR.

    Args:
        sr: the SR image in [0, 1].
        lr: the LR it was made from, uint8 RGB.
        degrade: maps ``(sr batch, scale)`` to LR in [0, 1] (bicubic, or a generator).
        crop_border: LR pixels left out on every side.

    Returns:
        The PSNR (``inf`` when identical).

    Raises:
        UserError: the SR size is not an integer multiple of the LR size, the same on both axes.

    Shape:
        sr: (3, H * s, W * s); lr: (H, W, 3).
    """
    height, width = lr.shape[:2]
    if sr.shape[-2] % height or sr.shape[-1] % width or sr.shape[-2] // height != sr.shape[-1] // width:
        raise UserError(f"SR size {sr.shape[-1]}x{sr.shape[-2]} is not one integer enlargement of the LR size "
                        f"{width}x{height}")
    scale = sr.shape[-2] // height
    back = quantise(degrade(sr.unsqueeze(0), scale)[0]).permute(1, 2, 0).numpy()
    return psnr_uint8(back, lr, crop_border=crop_border)


def generator_degradation(path: PathLike, *, device: Union[str, torch.device] = "cpu", seed: int = 0,
                          resolve: Optional[Resolve] = None) -> Callable[[Tensor, int], Tensor]:
    """A learned degradation (a stage-1 generator checkpoint) at its latent means, as ``degrade(sr, scale)``."""
    generator: nn.Module = load_network(path, resolve=resolve, device=device)
    g_scale = infer_scale(generator)

    def degrade(sr: Tensor, scale: int) -> Tensor:
        if scale != g_scale:
            raise UserError(f"the generator {path} degrades by x{g_scale}, the SR images are x{scale} their LR")
        hr = crop_to_scale(sr.to(device), scale)
        return degrade_batch(generator, hr, [seed] * hr.shape[0], scale=scale, mode="mean").cpu()

    return degrade


def evaluate_without_gt(
    sr_dir: PathLike, *, lr_dir: Optional[PathLike] = None, niqe: Optional[NoReferenceScore] = None,
    degrade: Optional[Callable[[Tensor, int], Tensor]] = None, degradation: str = "bicubic", crop_border: int = 4,
    progress: bool = False,
) -> NoReferenceEvaluation:
    """Score SR images of real LR without ground truth: NIQE of each, and LR consistency when the LR is given.

    Args:
        sr_dir: the SR images (searched recursively).
        lr_dir: the LR they came from (paired by name, as ``eval`` pairs with GT); ``None``: NIQE only.
        niqe: the NIQE function (the BasicSR glue's); ``None``: no NIQE column.
        degrade: the degradation of the LR consistency (``degrade(sr, scale)``); ``None``: bicubic.
        degradation: how the tables name it.
        crop_border: SR pixels left out on every side for NIQE; LR pixels ``crop_border // scale`` for consistency.
        progress: show a progress bar.

    Raises:
        UserError: neither metric asked for, no images, or no image could be scored.
    """
    metrics = (["niqe"] if niqe is not None else []) + (["lr_psnr"] if lr_dir is not None else [])
    if not metrics:
        raise UserError("nothing to score: give --lr LR_DIR for the LR consistency, or leave NIQE on")
    degrade = degrade or (lambda sr, scale: bicubic_downscale(sr, scale))
    if lr_dir is not None:
        matching = match_images(sr_dir, lr_dir, what="SR")
        items = [(key, sr, lr) for key, sr, lr in matching.pairs]
    else:
        matching = None
        items = [(p.relative_to(sr_dir).with_suffix("").as_posix(), p, None) for p in list_images(sr_dir)]
    result = NoReferenceEvaluation(rows=[], metrics=metrics, matching=matching, options={
        "sr_dir": str(sr_dir), "lr_dir": None if lr_dir is None else str(lr_dir), "crop_border": crop_border,
        "degradation": degradation if lr_dir is not None else None})
    for key, sr_path, lr_path in progress_bar(items, unit="img", desc="eval", enabled=progress):
        try:
            sr = read_uint8(sr_path)
            row: dict[str, Any] = {"image": key, "sr": str(sr_path), "lr": "" if lr_path is None else str(lr_path)}
            if niqe is not None:
                row["niqe"] = niqe(sr, crop_border=crop_border)
            if lr_path is not None:
                lr = read_uint8(lr_path)
                scale = max(1, sr.shape[0] // max(1, lr.shape[0]))
                row["lr_psnr"] = lr_consistency(torch.from_numpy(sr).permute(2, 0, 1).float() / 255, lr, degrade,
                                                crop_border=crop_border // scale)
        except (UserError, OSError) as err:
            result.failures.append(f"{sr_path}: {err}")
            continue
        result.rows.append(row)
    if not result.rows:
        raise UserError(f"no SR image could be scored: {'; '.join(result.failures)}")
    result.mean = {m: nan_mean([row[m] for row in result.rows if not math.isinf(row[m])]) for m in metrics}
    identical = sum(1 for row in result.rows if math.isinf(row.get("lr_psnr", 0.0)))
    if identical:
        result.notes.append(f"{identical} SR image(s) degrade back exactly to their LR (LR-PSNR inf): left out of the "
                            "mean")
    small = sum(1 for row in result.rows if math.isnan(row.get("niqe", 0.0)))
    if small:
        result.notes.append(f"NIQE is undefined (NaN, left out of the mean) for {small} image(s) smaller than two "
                            "96 x 96 blocks after the crop")
    return result
