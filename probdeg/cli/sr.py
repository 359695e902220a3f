"""``probdeg sr``: super-resolve a folder of LR images with one SR model or the ensemble mean of several."""

from __future__ import annotations

import argparse

from .common import add_device_argument, add_folder_job_arguments, add_tile_arguments

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
    add_folder_job_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from ..sr import sr_folder
    from .common import basicsr_archs, resolve_device, run_folder_job

    device = resolve_device(args.device)

    def details(summary: dict) -> str:
        members = f"ensemble of {summary['models']}" if summary["models"] > 1 else "1 model"
        return f"x{summary['scale']}, {members}, "

    return run_folder_job("sr", lambda: sr_folder(
        args.model, args.input, args.output, tile=args.tile, tile_pad=args.tile_pad, device=device,
        progress=not args.no_progress, resolve=basicsr_archs, overwrite=args.overwrite), details)
