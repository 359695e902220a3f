"""``probdeg degrade``: synthesise an LR dataset from HR images with a trained degradation generator."""

from __future__ import annotations

import argparse
import sys
import warnings

HELP = ("write LR samples of every HR image of a folder with a trained generator (resumable; exit code 1 when some "
        "images could not be read)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="generator checkpoint (.pth written by probdeg)")
    parser.add_argument("--input", required=True, help="folder of HR images (searched recursively)")
    parser.add_argument("--output", required=True, help="folder for the LR images (sub-folders are kept)")
    parser.add_argument("--samples", type=int, default=1, help="LR samples per HR image (default: 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed; an output depends on it, its path and its sample "
                        "index only (default: 0)")
    parser.add_argument("--batch", type=int, default=1, help="same-size images per forward pass; helps on a GPU, "
                        "seldom on a CPU (default: 1)")
    parser.add_argument("--tile", type=int, default=None, help="tile side in HR pixels, a multiple of the scale "
                        "(default: whole images)")
    parser.add_argument("--tile-overlap", type=int, default=32, help="HR pixels of context around each tile "
                        "(default: 32)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--grid", default=None, help="also write a PNG of bicubic LR, 3 samples and their "
                        "differences for the first images")
    parser.add_argument("--grid-images", type=int, default=4, help="rows of the --grid figure (default: 4)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    import torch

    from ..synthesis import degrade_folder

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if not device.startswith(("cpu", "cuda")):
        raise ValueError(f"--device must be cpu or cuda, got {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but PyTorch sees no CUDA device")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        summary = degrade_folder(args.model, args.input, args.output, samples=args.samples, seed=args.seed,
                                 batch=args.batch, tile=args.tile, overlap=args.tile_overlap, device=device,
                                 progress=not args.no_progress, grid=args.grid, grid_images=args.grid_images)
    for warning in caught:
        print(f"probdeg degrade: warning: {warning.message}", file=sys.stderr)
    grid = f"; grid {summary['grid']}" if summary["grid"] else ""
    print(f"degrade: {summary['written']} written, {summary['skipped']} skipped, {summary['failed']} failed "
          f"({summary['images']} images, {summary['seconds']:.1f} s) -> {summary['output']}{grid}")
    return 1 if summary["failed"] else 0
