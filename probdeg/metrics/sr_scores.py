"""Score SR images against their ground truth: PSNR and SSIM as BasicSR computes them, LPIPS when its weights exist.

PSNR and SSIM are :mod:`probdeg.metrics.image` (8-bit images, ``crop_border`` pixels left out on every side,
optionally on the Y channel of YCbCr): they equal those of BasicSR's test script. LPIPS (AlexNet,
:class:`probdeg.losses.LPIPSLoss`) is added when its weights are on disk, on the same crop in RGB; without them its
column is left out with a note. Identical images have a PSNR of ``inf`` (BasicSR's value); in ``metrics.json`` it
is written as the string ``"inf"``, since JSON has no infinity. Files pair by name
(:func:`probdeg.folders.match_images`).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import torch
from torch import Tensor, nn

from ..checks import is_count
from ..errors import UserError
from ..folders import Matching, match_images
from ..io import read_image
from ..losses import ALEXNET_FILE, LPIPSLoss, alexnet_weights_path
from ..progress import progress_bar
from ..tables import csv_text, format_table, json_safe, nan_mean, write_text
from .image import SSIM_WINDOW, psnr_uint8, ssim_uint8

PathLike = Union[str, os.PathLike]

METRICS_CSV = "metrics.csv"
METRICS_JSON = "metrics.json"
NO_REFERENCE_STEM = "no_reference"
"""``no_reference.csv`` / ``.json``: the tables of ``probdeg eval`` without ground truth."""
LPIPS_MIN_SIDE = 31
"""Smallest side AlexNet's LPIPS layers accept; smaller images get a NaN LPIPS."""

_FORMATS = {"psnr": ".2f", "ssim": ".4f", "lpips": ".4f"}


def read_uint8(path: PathLike) -> np.ndarray:
    """An image as 8-bit RGB (16-bit and float images are rounded to 8 bits), for the metrics.

    Shape:
        Output: (H, W, 3).
    """
    return np.rint(read_image(path) * 255.0).astype(np.uint8)


def to_uint8(image: Tensor) -> np.ndarray:
    """A (C, H, W) float tensor in [0, 1] as the 8-bit RGB HWC array its PNG would hold."""
    return image.detach().clamp(0, 1).mul(255).round().to("cpu", torch.uint8).permute(1, 2, 0).numpy()


def check_pair(sr: np.ndarray, gt: np.ndarray, crop_border: int, names: str, min_side: int = 1) -> None:
    """Raise UserError unless ``sr`` and ``gt`` have one size that leaves ``min_side`` pixels after the crop."""
    if not is_count(crop_border, 0):
        raise UserError(f"crop_border must be an integer >= 0, got {crop_border!r}")
    if sr.shape != gt.shape:
        raise UserError(f"size mismatch: {names}: {sr.shape[1]}x{sr.shape[0]} vs {gt.shape[1]}x{gt.shape[0]}")
    h, w = sr.shape[0] - 2 * crop_border, sr.shape[1] - 2 * crop_border
    if min(h, w) < min_side:
        need = f"; SSIM needs at least {min_side}x{min_side}" if min_side > 1 else ""
        raise UserError(f"{names}: {sr.shape[1]}x{sr.shape[0]} leaves {max(w, 0)}x{max(h, 0)} pixels after "
                        f"crop_border={crop_border}{need}")


def pair_scores(sr: np.ndarray, gt: np.ndarray, *, crop_border: int = 4, y_channel: bool = False,
                  lpips: Optional[nn.Module] = None, names: str = "the images") -> dict[str, float]:
    """PSNR, SSIM (BasicSR's) and, with an ``lpips`` module, LPIPS of one SR image against its GT.

    Args:
        sr, gt: 8-bit RGB images (see :func:`read_uint8`).
        crop_border: pixels left out on every side.
        y_channel: PSNR and SSIM on the Y channel of YCbCr (LPIPS stays on RGB).
        lpips: an :class:`probdeg.losses.LPIPSLoss`, or ``None`` for no LPIPS.
        names: how the error messages name the pair.

    Returns:
        ``{"psnr": dB, "ssim": ..., "lpips": ...}`` (``lpips`` only with the module; NaN for images under
        :data:`LPIPS_MIN_SIDE` pixels after the crop).

    Raises:
        UserError: different sizes, or too small for SSIM after the crop.

    Shape:
        sr, gt: (H, W, 3) uint8.
    """
    check_pair(sr, gt, crop_border, names, min_side=SSIM_WINDOW)
    out = {"psnr": psnr_uint8(sr, gt, crop_border=crop_border, y_channel=y_channel),
           "ssim": ssim_uint8(sr, gt, crop_border=crop_border, y_channel=y_channel)}
    c = crop_border
    h, w = sr.shape[:2]
    if lpips is not None and min(h, w) - 2 * c < LPIPS_MIN_SIDE:
        out["lpips"] = float("nan")
    elif lpips is not None:
        param = next(lpips.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
        x, y = (torch.from_numpy(np.ascontiguousarray(im[c:h - c, c:w - c])).permute(2, 0, 1)[None].float()
                .div(255).to(device) for im in (sr, gt))
        with torch.inference_mode():
            out["lpips"] = float(lpips(x, y))
    return out


def load_lpips(enabled: Optional[bool] = None, *, weights: Optional[PathLike] = None,
               device: Union[str, torch.device] = "cpu") -> tuple[Optional[nn.Module], Optional[str]]:
    """LPIPS for :func:`pair_scores`, or why it is left out.

    Args:
        enabled: ``True``: LPIPS is required (a missing file raises); ``None``: used when its weights exist;
            ``False``: not used.
        weights: AlexNet weights file (default: the torch hub cache, see :func:`probdeg.losses.alexnet_weights_path`).
        device: where LPIPS runs.

    Returns:
        The module (or ``None``) and a one-line note when it was left out for lack of weights (else ``None``).
    """
    if enabled is False:
        return None, None

    try:
        return LPIPSLoss(weights).to(device).eval(), None
    except (FileNotFoundError, ImportError) as err:
        if enabled:
            raise
        if isinstance(err, ImportError):
            return None, f"LPIPS column omitted: the lpips package cannot be imported ({err})"
        return None, (f"LPIPS column omitted: its AlexNet weights {ALEXNET_FILE} are not at "
                      f"{alexnet_weights_path(weights)} (put them there or pass their path)")


@dataclass
class Evaluation:
    """The scores of an SR folder against its GT folder.

    Attributes:
        rows: one dict per scored pair: ``image`` (key), ``sr``, ``gt`` (paths as strings) and each metric.
        metrics: the metric names, in column order (``psnr``, ``ssim`` and maybe ``lpips``).
        mean: the mean of each metric over the scored pairs (``inf`` PSNR and NaN LPIPS left out).
        matching: how the files were paired (missing, extra, ambiguous).
        failures: messages of pairs that could not be read.
        notes: one-line notes (e.g. why LPIPS is missing).
        options: ``sr_dir``, ``gt_dir``, ``crop_border``, ``y_channel``.
    """

    rows: list[dict[str, Any]]
    metrics: list[str]
    mean: dict[str, float]
    matching: Matching
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    path_columns: tuple[str, ...] = ("sr", "gt")

    @property
    def complete(self) -> bool:
        """Every GT image was scored."""
        return self.matching.complete and not self.failures

    def table(self) -> str:
        """A plain-text table: one line per image, then the mean."""
        header = ["image"] + [m.upper() for m in self.metrics]
        lines = [[row["image"]] + [format(row[m], _FORMATS[m]) for m in self.metrics] for row in self.rows]
        mean = [f"mean of {len(self.rows)}"] + [format(self.mean[m], _FORMATS[m]) for m in self.metrics]
        return format_table(header, lines, mean)

    def as_dict(self) -> dict[str, Any]:
        """Plain values for JSON (``inf`` / ``nan`` as strings)."""
        return {**{k: str(v) if isinstance(v, Path) else v for k, v in self.options.items()},
                "metrics": self.metrics, "mean": json_safe(self.mean), "images": json_safe(self.rows),
                "missing": [str(p) for p in self.matching.missing], "extra": [str(p) for p in self.matching.extra],
                "ambiguous": {str(gt): [str(c) for c in cands] for gt, cands in self.matching.ambiguous},
                "failures": self.failures, "notes": self.notes}


def evaluate_folders(
    sr_dir: PathLike, gt_dir: PathLike, *, crop_border: int = 4, y_channel: bool = False,
    lpips: Optional[bool] = None, lpips_weights: Optional[PathLike] = None,
    device: Union[str, torch.device] = "cpu", progress: bool = False,
) -> Evaluation:
    """Score every SR image of a folder against its GT image (see the module doc for the pairing).

    Args:
        sr_dir: the SR images (searched recursively).
        gt_dir: the ground truth.
        crop_border: pixels left out on every side (BasicSR uses the scale).
        y_channel: PSNR and SSIM on the Y channel.
        lpips: see :func:`load_lpips`.
        lpips_weights: AlexNet weights file for LPIPS.
        device: where LPIPS runs.
        progress: show a tqdm progress bar.

    Returns:
        The scores; pairs that could not be scored (unreadable, of different sizes, too small for SSIM) are in
        ``failures``, unpaired files in ``matching``. Identical pairs (PSNR ``inf``) are left out of the mean PSNR,
        with a note.

    Raises:
        FileNotFoundError: a folder does not exist.
        UserError: no pair at all, or no pair could be scored.
    """
    if not is_count(crop_border, 0):
        raise UserError(f"crop_border must be an integer >= 0, got {crop_border!r}")
    matching = match_images(sr_dir, gt_dir)
    if not matching.pairs:
        raise UserError(f"no SR image in {str(sr_dir)!r} pairs with a GT image in {str(gt_dir)!r}; "
                         + " ".join(matching.problems()))
    lpips_net, note = load_lpips(lpips, weights=lpips_weights, device=device)
    result = Evaluation(rows=[], metrics=["psnr", "ssim"] + (["lpips"] if lpips_net is not None else []), mean={},
                        matching=matching, notes=[note] if note else [],
                        options={"sr_dir": str(sr_dir), "gt_dir": str(gt_dir), "crop_border": crop_border,
                                 "y_channel": y_channel})
    for key, sr_path, gt_path in progress_bar(matching.pairs, unit="img", desc="eval", enabled=progress):
        try:
            sr, gt = read_uint8(sr_path), read_uint8(gt_path)
            scores = pair_scores(sr, gt, crop_border=crop_border, y_channel=y_channel, lpips=lpips_net,
                                   names=f"SR {str(sr_path)!r} and GT {str(gt_path)!r}")
        except (UserError, OSError) as err:  # unreadable, or of another size: the other pairs still count
            result.failures.append(str(err))
            continue
        result.rows.append({"image": key, "sr": str(sr_path), "gt": str(gt_path), **scores})
    if not result.rows:
        raise UserError(f"no pair could be scored: {'; '.join(result.failures)}")
    result.mean = {m: nan_mean([row[m] for row in result.rows if not math.isinf(row[m])]) for m in result.metrics}
    identical = sum(1 for row in result.rows if math.isinf(row["psnr"]))
    if identical:
        result.notes.append(f"{identical} pair(s) are identical (PSNR inf): left out of the mean PSNR")
    small = sum(1 for row in result.rows if math.isnan(row.get("lpips", 0.0)))
    if small:
        result.notes.append(f"LPIPS is undefined (NaN, left out of the mean) for {small} image(s) under "
                            f"{LPIPS_MIN_SIDE}x{LPIPS_MIN_SIDE} pixels after the crop")
    return result


def write_metrics(evaluation: Any, out_dir: PathLike, *, stem: str = "metrics") -> tuple[Path, Path]:
    """Write ``<stem>.csv`` (one row per image, then ``mean``) and ``<stem>.json`` into ``out_dir``, atomically.

    Args:
        evaluation: an :class:`Evaluation` or a
            :class:`probdeg.metrics.no_reference.NoReferenceEvaluation` (rows, metrics, mean, path_columns, as_dict).
        out_dir: the folder.
        stem: the files' name (``metrics``: :data:`METRICS_CSV`, :data:`METRICS_JSON`).

    Returns:
        The two paths.
    """
    out_dir = Path(out_dir)
    columns = list(evaluation.path_columns)
    header = ["image"] + columns + evaluation.metrics
    rows = [[row["image"]] + [row[c] for c in columns] + [format(row[m], ".6f") for m in evaluation.metrics]
            for row in evaluation.rows]
    rows.append(["mean"] + [""] * len(columns) + [format(evaluation.mean[m], ".6f") for m in evaluation.metrics])
    csv_path, json_path = out_dir / f"{stem}.csv", out_dir / f"{stem}.json"
    write_text(csv_path, csv_text(header, rows))
    write_text(json_path, json.dumps(evaluation.as_dict(), indent=2, allow_nan=False) + "\n")
    return csv_path, json_path


