"""``probdeg degrade``: synthesise an LR dataset from HR images with a trained degradation generator."""

from __future__ import annotations

import argparse
from typing import Union

from .common import add_device_argument, add_folder_job_arguments

HELP = ("write LR samples of every HR image of a folder with a trained generator or a hand-made pipeline (resumable; "
        "exit code 1 when some images could not be read)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..defaults import TILE_OVERLAP

    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="generator checkpoint (.pth written by probdeg)")
    source.add_argument("--handmade", metavar="PRESET|FILE.yml", help="a hand-made pipeline instead: realesrgan "
                        "(Real-ESRGAN's second-order degradation, x4plus settings) or an option file with one block "
                        "{handmade: realesrgan, key: value, ...}, as degradations: takes")
    parser.add_argument("--scale", type=int, default=4, help="down-sampling factor of --handmade (default: 4)")
    parser.add_argument("--input", required=True, help="folder of HR images (searched recursively)")
    parser.add_argument("--output", required=True, help="folder for the LR images (sub-folders are kept)")
    parser.add_argument("--samples", type=int, default=1, help="LR samples per HR image (default: 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed; an output depends on it, its path and its sample "
                        "index only (default: 0)")
    parser.add_argument("--batch", type=int, default=1, help="same-size images per forward pass; helps on a GPU, "
                        "seldom on a CPU (default: 1)")
    parser.add_argument("--tile", type=int, default=None, help="tile side in HR pixels, a multiple of the scale "
                        "(default: whole images)")
    parser.add_argument("--tile-overlap", type=int, default=TILE_OVERLAP, help="HR pixels of context around each "
                        f"tile (default: {TILE_OVERLAP})")
    parser.add_argument("--jpeg", default=None, metavar="LOW:HIGH|auto", type=_quality_range, help="compress every "
                        "LR sample by JPEG at a quality drawn from LOW..HIGH: the blocking of real LR that a generator "
                        "cannot learn; auto: the range that matches the blocking of --real-lr (default: none)")
    parser.add_argument("--real-lr", default=None, metavar="DIR", help="real LR images, whole, for --jpeg auto")
    add_device_argument(parser)
    parser.add_argument("--grid", default=None, help="also write a PNG of bicubic LR, 3 samples and their "
                        "differences for the first images")
    parser.add_argument("--grid-images", type=int, default=4, help="rows of the --grid figure (default: 4)")
    add_folder_job_arguments(parser)


def _quality_range(text: str) -> Union[tuple[int, int], str]:
    if text == "auto":
        return text
    low, sep, high = text.partition(":")
    try:
        quality = (int(low), int(high if sep else low))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOW:HIGH JPEG qualities, e.g. 40:70, got {text!r}") from None
    from ..jpeg import is_quality_range

    if not is_quality_range(quality):
        raise argparse.ArgumentTypeError(f"expected 1 <= LOW <= HIGH <= 100, got {text!r}")
    return quality


def handmade_pipeline(spec: str, scale: int):
    """The pipeline of a ``--handmade`` argument (BasicSR's ops: loaded only here)."""
    from ..checks import is_count
    from ..errors import UserError
    from ..integrations.basicsr.options import read_handmade

    if not is_count(scale):
        raise UserError(f"--scale must be a positive integer, got {scale!r}")
    return read_handmade(spec).degradation(scale)


def run(args: argparse.Namespace) -> int:
    from ..degrade import degrade_folder
    from ..errors import UserError
    from .common import basicsr_archs, resolve_device, run_folder_job, warnings_as_lines

    if args.real_lr is not None and args.jpeg != "auto":
        raise UserError("--real-lr is read by --jpeg auto only: add --jpeg auto (JPEG-compress the LR to match the "
                        "real LR's blocking), or leave --real-lr out")
    device = resolve_device(args.device)
    source = args.model if args.handmade is None else handmade_pipeline(args.handmade, args.scale)
    jpeg = args.jpeg
    if jpeg == "auto":
        from ..degrade import matching_jpeg

        if args.handmade is not None:
            raise UserError("--jpeg auto matches a generator's LR; the hand-made pipeline has its own jpeg_range and "
                            "jpeg_range2 (set them in its option file)")
        if args.real_lr is None:
            raise UserError("--jpeg auto needs --real-lr DIR: the real LR images whose JPEG blocking to match")
        with warnings_as_lines("degrade"):
            jpeg = matching_jpeg(args.model, args.input, args.real_lr, seed=args.seed, resolve=basicsr_archs)
        print("degrade: the real LR shows " + (f"JPEG blocking: quality {jpeg[0]}-{jpeg[1]}" if jpeg else
                                               "no JPEG blocking: no compression"))
    return run_folder_job("degrade", lambda: degrade_folder(
        source, args.input, args.output, samples=args.samples, seed=args.seed, batch=args.batch, tile=args.tile,
        overlap=args.tile_overlap, device=device, progress=not args.no_progress, grid=args.grid,
        grid_images=args.grid_images, resolve=basicsr_archs, overwrite=args.overwrite, jpeg=jpeg),
        lambda summary: f"grid {summary['grid']}, " if summary["grid"] else "")
