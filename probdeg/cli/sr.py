"""``probdeg sr``: super-resolve a folder of LR images with one SR model or the ensemble mean of several."""

from __future__ import annotations

import argparse

from .common import add_device_argument, add_tile_arguments

HELP = ("super-resolve every LR image of a folder with a model or an ensemble (resumable; exit code 1 when some "
        "images could not be read)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, metavar="A.pth[,B.pth...]", help="SR checkpoint(s) written by "
                        "probdeg; several, comma-separated, are averaged (the ensemble mean) and must share one scale")
    parser.add_argument("--input", required=True, metavar="LR_DIR", help="folder of LR images (searched recursively)")
    parser.add_argument("--output", required=True, metavar="SR_DIR", help="folder for the SR images, "
                        "<dir>/<stem>.png (sub-folders are kept; existing outputs are skipped)")
    add_tile_arguments(parser)
    add_device_argument(parser)
    parser.add_argument("--overwrite", action="store_true", help="replace the images of an output folder made with "
                        "other settings (default: refuse, naming what differs; same settings resume)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from ..sr import sr_folder
    from .common import basicsr_archs, folder_summary, resolve_device, warnings_as_lines

    device = resolve_device(args.device)
    with warnings_as_lines("sr"):
        summary = sr_folder(args.model, args.input, args.output, tile=args.tile, tile_pad=args.tile_pad,
                            device=device, progress=not args.no_progress, resolve=basicsr_archs,
                            overwrite=args.overwrite)
    members = f"ensemble of {summary['models']}" if summary["models"] > 1 else "1 model"
    print(folder_summary("sr", summary, f"x{summary['scale']}, {members}, "))
    return 1 if summary["failed"] else 0
