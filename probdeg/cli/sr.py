"""``probdeg sr``: super-resolve a folder of LR images with one SR model or the ensemble mean of several."""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import Optional

HELP = ("super-resolve every LR image of a folder with a model or an ensemble (resumable; exit code 1 when some "
        "images could not be read)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..inference import DEFAULT_TILE_PAD

    parser.add_argument("--model", required=True, metavar="A.pth[,B.pth...]", help="SR checkpoint(s) written by "
                        "probdeg; several, comma-separated, are averaged (the ensemble mean) and must share one scale")
    parser.add_argument("--input", required=True, metavar="LR_DIR", help="folder of LR images (searched recursively)")
    parser.add_argument("--output", required=True, metavar="SR_DIR", help="folder for the SR images, "
                        "<dir>/<stem>.png (sub-folders are kept; existing outputs are skipped)")
    add_tile_arguments(parser, DEFAULT_TILE_PAD)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_tile_arguments(parser: argparse.ArgumentParser, default_pad: int) -> None:
    parser.add_argument("--tile", type=int, default=None, help="tile side in LR pixels, to bound the memory of "
                        "large images (default: whole images)")
    parser.add_argument("--tile-pad", type=int, default=default_pad, help="LR pixels of context around each tile "
                        f"(default: {default_pad})")


def resolve_device(device: Optional[str]) -> str:
    """``--device``: cpu or cuda, default cuda when PyTorch sees one."""
    import torch

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if not device.startswith(("cpu", "cuda")):
        raise ValueError(f"--device must be cpu or cuda, got {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but PyTorch sees no CUDA device")
    return device


def run(args: argparse.Namespace) -> int:
    from ..inference import sr_folder

    device = resolve_device(args.device)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        summary = sr_folder(args.model, args.input, args.output, tile=args.tile, tile_pad=args.tile_pad,
                            device=device, progress=not args.no_progress)
    for warning in caught:
        print(f"probdeg sr: warning: {warning.message}", file=sys.stderr)
    members = f"ensemble of {summary['models']}" if summary["models"] > 1 else "1 model"
    print(f"sr: {summary['written']} written, {summary['skipped']} skipped, {summary['failed']} failed "
          f"({summary['images']} images, x{summary['scale']}, {members}, {summary['seconds']:.1f} s) "
          f"-> {summary['output']}")
    return 1 if summary["failed"] else 0
