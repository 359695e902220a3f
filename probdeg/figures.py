"""Every picture probdeg draws: sample grids (MSSR's Figure 3), labelled mosaics, line plots and histograms.

Drawing only: the callers compute what is drawn. OpenCV draws the image grids, matplotlib (its Agg canvas, no
display needed) the plots; both are imported inside the functions.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Optional, Union

import numpy as np
from torch import Tensor

from .io import atomic_path

PathLike = Union[str, os.PathLike]

LABEL_HEIGHT = 16
"""Height in pixels of the label band above each cell."""

DIFF_GAIN = 4.0
"""The least amplification of the |sample 1 - sample j| maps of :func:`sample_grid_figure`."""

MAX_DIFF_GAIN = 256.0

BACKGROUND = 0.25
"""Grey of the canvas around cells smaller than their slot."""


def label_band(width: int, text: str) -> np.ndarray:
    """A black band with ``text`` in white, HWC float RGB.

    Shape:
        Output: (LABEL_HEIGHT, width, 3).
    """
    import cv2

    band = np.zeros((LABEL_HEIGHT, width, 3), dtype=np.uint8)  # putText draws on 8-bit images only
    cv2.putText(band, text, (3, LABEL_HEIGHT - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (255, 255, 255), 1, cv2.LINE_AA)
    return band.astype(np.float32) / 255.0


def heat_map(diff: Tensor, gain: float = DIFF_GAIN) -> np.ndarray:
    """|difference| (C, h, w) -> an inferno heat map of its channel mean times ``gain``, HWC float RGB in [0, 1]."""
    import cv2
    import torch

    grey = (diff.mean(0) * gain).clamp(0, 1).mul(255).round().to(torch.uint8).cpu().numpy()
    return cv2.applyColorMap(grey, cv2.COLORMAP_INFERNO)[:, :, ::-1].astype(np.float32) / 255.0


def mosaic(rows: Sequence[Sequence[tuple[np.ndarray, str]]], *, cell_h: Optional[int] = None,
           cell_w: Optional[int] = None) -> np.ndarray:
    """Pictures in a grid, each under a label band; smaller pictures sit top-left in a grey cell.

    Args:
        rows: per row, ``(picture HWC float RGB in [0, 1], label)`` per column.
        cell_h, cell_w: the cell size; default the largest picture's.

    Returns:
        An RGB float image in [0, 1].

    Shape:
        Output: (rows * (LABEL_HEIGHT + cell_h), columns * cell_w, 3), columns being the longest row's length.
    """
    pictures = [p for row in rows for p, _ in row]
    if not pictures:
        raise ValueError("mosaic needs at least one picture")
    cell_h = cell_h or max(p.shape[0] for p in pictures)
    cell_w = cell_w or max(p.shape[1] for p in pictures)
    columns = max(len(row) for row in rows)
    row_h = LABEL_HEIGHT + cell_h
    canvas = np.full((len(rows) * row_h, columns * cell_w, 3), BACKGROUND, dtype=np.float32)
    for r, row in enumerate(rows):
        for c, (picture, label) in enumerate(row):
            top, left = r * row_h, c * cell_w
            canvas[top:top + LABEL_HEIGHT, left:left + cell_w] = label_band(cell_w, label)
            h, w = min(picture.shape[0], cell_h), min(picture.shape[1], cell_w)
            canvas[top + LABEL_HEIGHT:top + LABEL_HEIGHT + h, left:left + w] = picture[:h, :w]
    return canvas


def _enlarge(lr: Tensor, scale: int) -> np.ndarray:
    big = lr.repeat_interleave(scale, dim=-2).repeat_interleave(scale, dim=-1)
    return big.clamp(0, 1).permute(1, 2, 0).float().cpu().numpy()


def difference_gain(diffs: Sequence[Tensor]) -> float:
    """The heat maps' amplification: a power of 2 from :data:`DIFF_GAIN` to :data:`MAX_DIFF_GAIN` that brings the
    99th percentile of the channel-mean differences near full scale, so small spreads show; one gain for a whole
    figure, so its rows compare."""
    import torch

    values = torch.cat([d.float().mean(0).flatten() for d in diffs]) if diffs else torch.zeros(1)
    level = float(torch.quantile(values[:1_000_000], 0.99)) if values.numel() else 0.0
    gain = DIFF_GAIN
    while gain < MAX_DIFF_GAIN and level * gain * 2 <= 1.0:
        gain *= 2
    return gain


def scale_bar(height: int, gain: float, width: int = 24) -> np.ndarray:
    """A vertical inferno bar (top: full scale) for heat maps of amplification ``gain``, HWC float RGB."""
    import torch

    ramp = torch.linspace(1, 0, height)[:, None].expand(height, width)
    return heat_map(ramp[None], gain=1.0)


def sample_grid_figure(rows: Sequence[tuple[Tensor, Tensor]], *, scale: int,
                       reference_label: Optional[str] = None) -> np.ndarray:
    """MSSR's Figure 3: per row a reference LR, the LR samples, and ``|sample 1 - sample j|`` heat maps.

    LR images are enlarged ``scale`` times (nearest neighbour), so each cell is as large as its HR crop. The heat
    maps show the channel mean of the difference times a gain chosen for the figure (:func:`difference_gain`, in
    each map's label; inferno colours), and the first row ends with the colour scale (top: 1 / gain, in [0, 1]
    image units).

    Args:
        rows: ``(reference LR (C, h, w), samples (n, C, h, w))`` per HR image; ``n`` the same in every row.
        scale: the generator's down-sampling factor.
        reference_label: the first column's label; default ``bicubic x{scale}``.

    Returns:
        An RGB float image in [0, 1].

    Shape:
        Output: (rows * (LABEL_HEIGHT + cell_h), 2n * cell_w, 3), cells as large as the largest HR crop.
    """
    if not rows:
        raise ValueError("sample_grid_figure needs at least one row")
    label = reference_label or f"bicubic x{scale}"
    gain = difference_gain([(samples[0] - samples[j]).abs() for _, samples in rows for j in range(1, len(samples))])
    cells = []
    for reference, samples in rows:
        n = samples.shape[0]
        row = [(_enlarge(reference, scale), label)]
        row += [(_enlarge(samples[k], scale), f"sample {k + 1}") for k in range(n)]
        for j in range(1, n):
            diff = (samples[0] - samples[j]).abs().repeat_interleave(scale, dim=-2).repeat_interleave(scale, dim=-1)
            row.append((heat_map(diff, gain), f"|1-{j + 1}| x{gain:g}"))
        cells.append(row)
    if any(len(samples) > 1 for _, samples in rows):
        height = rows[0][0].shape[-2] * scale
        cells[0].append((scale_bar(height, gain), f"0-{1 / gain:.3g}"))
    return mosaic(cells)


def _save_figure(figure, path: PathLike) -> Path:
    path = Path(path)
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png")
    return path


def _new_figure(size: tuple[float, float]):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, dpi=120)
    FigureCanvasAgg(figure)
    return figure


def plot_curves(path: PathLike, x: Sequence[float], curves: Mapping[str, Sequence[float]], *, xlabel: str,
                ylabel: str, title: str) -> Path:
    """A line per curve (markers on the points) into a PNG, atomically; non-finite values are left out."""
    figure = _new_figure((5.5, 4.0))
    axes = figure.add_subplot()
    for label, values in curves.items():
        axes.plot(list(x), [v if math.isfinite(v) else float("nan") for v in values], marker="o", label=label)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.set_xticks(list(x))
    axes.grid(True, alpha=0.3)
    _legend_beside(figure, axes)
    return _save_figure(figure, path)


def _legend_beside(figure, axes, fontsize: str = "small") -> None:
    """The legend right of the axes, never on the curves (the figure widens to hold it)."""
    width, height = figure.get_size_inches()
    figure.set_size_inches(width + 2.6, height)
    axes.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize=fontsize)


def plot_histograms(path: PathLike, values: Mapping[str, Sequence[float]], *, xlabel: str, title: str,
                    bins: int = 30, floor: float = 1e-3) -> Path:
    """Overlaid histograms (share of each set per bin, step outlines, a dashed line at each median) into a PNG,
    atomically, on a log x axis (noise levels span decades).

    Args:
        path: the PNG.
        values: label -> values; non-finite ones are left out, those under ``floor`` counted in the first bin.
        xlabel, title: axis label and title.
        bins: number of bins, shared by every set.
        floor: the axis' lowest value (1e-3 is about the noise of rounding to 8 bits).
    """
    figure = _new_figure((6.5, 4.0))
    axes = figure.add_subplot()
    cleaned = {label: np.clip(np.asarray([v for v in vals if math.isfinite(v)], dtype=np.float64), floor, None)
               for label, vals in values.items()}
    everything = np.concatenate([v for v in cleaned.values() if v.size] or [np.ones(1)])
    high = max(float(everything.max()), floor * 10)
    edges = np.geomspace(floor, high * 1.01, bins + 1)
    for index, (label, vals) in enumerate(cleaned.items()):
        if not vals.size:
            continue
        colour = f"C{index % 10}"
        axes.hist(vals, bins=edges, weights=np.full(vals.size, 1.0 / vals.size), histtype="step", linewidth=1.5,
                  color=colour, label=f"{label} (median {np.median(vals):.4f}, {vals.size} patches)")
        axes.axvline(float(np.median(vals)), color=colour, linestyle="--", linewidth=1)
    axes.set_xscale("log")
    axes.set_xlabel(xlabel)
    axes.set_ylabel("share of patches")
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    _legend_beside(figure, axes, fontsize="x-small")
    return _save_figure(figure, path)
