"""The demo's SR crops: every method's output beside the LR input and the ground truth (the generators' Figure-3
grids come from the scorecard)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..figures import mosaic
from ..folders import distinct_images, match_images
from ..io import read_image, write_image
from .task import SCALE, DemoData

CROP_SIDE = 192  # HR pixels of each SR crop: enough to judge texture, shown at 1:1 in the report
CROP_IMAGES = 4  # photos, each once (not several LR draws of one photo)
CROP_COLUMNS = 6  # cells per mosaic row: a photo's crops wrap onto as many rows as they need
SHORT_LABELS = {"bicubic": "Bicubic", "bicubic_lr": "SR (bic. LR)", "single_det": "DeResnet", "single_prob":
                "Prob. DeResnet", "naive": "Naive", "naive_ensemble": "Naive (ens.)", "cl_synth": "CL (synth.)",
                "mssr": "MSSR", "simusr": "SimUSR", "oracle": "Oracle"}


def busiest_window(gt: np.ndarray, side: int) -> tuple[int, int]:
    """Top-left corner of the ``side`` x ``side`` window (on a 16-pixel lattice) with the most gradient energy: where
    SR methods differ most."""
    grey = gt.mean(axis=2)
    energy = np.abs(np.diff(grey, axis=0))[:, :-1] + np.abs(np.diff(grey, axis=1))[:-1, :]
    h, w = grey.shape
    best, corner = -1.0, (0, 0)
    for top in range(0, max(1, h - side + 1), 16):
        for left in range(0, max(1, w - side + 1), 16):
            value = float(energy[top:top + side, left:left + side].sum())
            if value > best:
                best, corner = value, (top, left)
    return corner


def sr_crops(out: Path, data: DemoData, scores: dict[str, dict[str, Any]]) -> str:
    """``out/figures/crops.png``: per validation photo (up to ``CROP_IMAGES``, each once), the busiest crop of the LR
    input (nearest-neighbour enlarged), every method's SR output, and the ground truth, each labelled with its PSNR on
    the whole image; a photo's cells run over rows of :data:`CROP_COLUMNS`."""
    pairs = match_images(data.val_lr, data.val_hr).pairs
    pairs = [pairs[i] for i in distinct_images([gt for _, _, gt in pairs], CROP_IMAGES)]
    columns = ["lr"] + [key for key in scores] + ["gt"]
    rows = []
    for key, lr_path, gt_path in pairs:
        gt = read_image(gt_path)
        lr = read_image(lr_path)
        side = min(CROP_SIDE, lr.shape[0] * SCALE, lr.shape[1] * SCALE)
        side -= side % SCALE
        top, left = busiest_window(gt[:lr.shape[0] * SCALE, :lr.shape[1] * SCALE], side)
        top, left = top - top % SCALE, left - left % SCALE
        cells = []
        for column in columns:
            if column == "lr":
                picture = lr[top // SCALE:(top + side) // SCALE, left // SCALE:(left + side) // SCALE]
                picture = picture.repeat(SCALE, axis=0).repeat(SCALE, axis=1)
                label = "LR input"
            elif column == "gt":
                picture, label = gt[top:top + side, left:left + side], "ground truth"
            else:
                sr = read_image(Path(scores[column]["sr_dir"]) / lr_path.relative_to(data.val_lr).with_suffix(".png"))
                picture = sr[top:top + side, left:left + side]
                label = f"{SHORT_LABELS[column]} {scores[column]['per_image'][key]:.2f}"
            cells.append((picture, label))
        rows += [cells[i:i + CROP_COLUMNS] for i in range(0, len(cells), CROP_COLUMNS)]
    path = out / "figures" / "crops.png"
    write_image(path, mosaic(rows, cell_h=CROP_SIDE, cell_w=CROP_SIDE))
    return str(path)
