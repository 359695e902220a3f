"""What differs between the LR the generators make and the true degradation's LR? Blur, noise, colour.

    python studies/lr_diagnosis.py studies/out/mini_mssr/full/seed0

For each synthetic LR folder of a finished ``probdeg demo`` (``synthetic/<key>``, the oracle's ``true`` included),
against the training HR images it was made from:
- the effective blur: the Gaussian sigma (HR pixels) which, applied before bicubic x4 downscaling, best explains the LR
  (highest PSNR over a grid of sigmas), and that PSNR;
- the noise level (median of ``probdeg.metrics.degradation.noise_level`` over the LR images), beside the real LR's;
- the colour offset: the mean per-channel difference from bicubic downscaling (R, G, B);
- the JPEG block-edge ratio (:func:`probdeg.jpeg.block_edge_ratio`, mean over the images), beside the real LR's.
A generator that blurs less or adds less noise than the true degradation trains SR nets that sharpen without
denoising; that is what this table is for.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from probdeg.filters import bicubic_downscale
from probdeg.io import image_to_tensor, list_images, read_image
from probdeg.jpeg import block_edge_ratio
from probdeg.metrics.degradation import noise_level
from probdeg.metrics.image import psnr_float

SIGMAS = [0.0, 0.4, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0, 2.4, 3.0]
BORDER = 4  # LR pixels left out of every comparison


def gaussian_blur(x: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur with reflected borders. Shape: (N, C, H, W) -> same."""
    if sigma == 0:
        return x
    radius = int(3 * sigma + 1)
    t = torch.arange(-radius, radius + 1, dtype=x.dtype)
    kernel = torch.exp(-t ** 2 / (2 * sigma ** 2))
    kernel = kernel / kernel.sum()
    channels = x.shape[1]
    x = F.pad(x, (radius,) * 4, mode="reflect")
    x = F.conv2d(x, kernel.view(1, 1, 1, -1).repeat(channels, 1, 1, 1), groups=channels)
    return F.conv2d(x, kernel.view(1, 1, -1, 1).repeat(channels, 1, 1, 1), groups=channels)


def _inner(x: Tensor) -> Tensor:
    return x[..., BORDER:-BORDER, BORDER:-BORDER]


def diagnose(lr_folder: Path, train_hr: Path, *, per_image: int = 3) -> dict[str, object]:
    """The figures of one synthetic folder (see the module doc).

    LR files are ``<hr stem>_s<k>.png``, or ``<hr stem>.png`` for a one-sample folder.
    """
    sigmas, fits, levels, offsets, blocks = [], [], [], [], []
    for hr_path in list_images(train_hr):
        hr = image_to_tensor(read_image(hr_path))[None]
        references = [bicubic_downscale(gaussian_blur(hr, s), 4) for s in SIGMAS]
        samples = sorted(lr_folder.glob(f"{hr_path.stem}_s*.png")) or sorted(lr_folder.glob(f"{hr_path.stem}.png"))
        for lr_path in samples[:per_image]:
            lr = image_to_tensor(read_image(lr_path))[None]
            if lr.shape != references[0].shape:
                continue
            scores = [float(psnr_float(_inner(lr), _inner(ref))) for ref in references]
            best = max(range(len(SIGMAS)), key=scores.__getitem__)
            sigmas.append(SIGMAS[best])
            fits.append(scores[best])
            levels.append(float(noise_level(lr)))
            blocks.append(block_edge_ratio(lr[0].permute(1, 2, 0).numpy()))
            offsets.append((_inner(lr) - _inner(references[0])).mean(dim=(0, 2, 3)))
    if not sigmas:
        raise ValueError(f"no LR image in {lr_folder} matches a training HR image (<stem>_s<k>.png or <stem>.png, x4)")
    offset = torch.stack(offsets).mean(0)
    return {"sigma": statistics.fmean(sigmas), "fit_psnr": statistics.fmean(fits),
            "noise": statistics.median(levels), "offset": [round(float(v), 4) for v in offset], "images": len(sigmas),
            "blocks": statistics.fmean(blocks)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("demo", type=Path, help="a finished probdeg demo folder")
    args = parser.parse_args(argv)
    train_hr, real_lr = args.demo / "data" / "train_hr", args.demo / "data" / "train_lr"
    real_images = [read_image(p) for p in list_images(real_lr)]
    real_noise = statistics.median(float(noise_level(image_to_tensor(image)[None])) for image in real_images)
    real_blocks = statistics.fmean(block_edge_ratio(image) for image in real_images)
    print(f"real LR (over {len(real_images)} images): noise level {real_noise:.4f} (median), "
          f"block-edge ratio {real_blocks:.2f} (mean)\n")
    print("| LR folder | blur sigma (HR px) | PSNR of that fit | noise level | over real | colour offset R, G, B | "
          "block-edge ratio |")
    print("|---|---|---|---|---|---|---|")
    for folder in sorted(p for p in (args.demo / "synthetic").iterdir() if p.is_dir()):
        row = diagnose(folder, train_hr)
        print(f"| {folder.name} | {row['sigma']:.2f} | {row['fit_psnr']:.2f} | {row['noise']:.4f} | "
              f"{row['noise'] / real_noise:.2f} | {row['offset']} | {row['blocks']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
