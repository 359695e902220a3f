"""``probdeg sr``: super-resolve an LR image or a folder of them with one SR model or the ensemble mean of several."""

from __future__ import annotations

import argparse

from .common import add_device_argument, add_folder_job_arguments, add_tile_arguments

HELP = ("super-resolve an LR image or every LR image of a folder with a model or an ensemble: probdeg's checkpoints "
        "or any spandrel loads (Real-ESRGAN, BasicSR); resumable; exit code 1 when some images could not be read")

EXTENSIONS = ("auto", "png", "jpg", "jpeg", "webp", "tif", "tiff", "bmp")  # probdeg.sr.OUTPUT_EXTENSIONS, unloaded


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, metavar="A.pth[,B.pth...]", help="SR checkpoint(s): probdeg's, or "
                        "any spandrel loads (Real-ESRGAN's RRDBNet / SRVGGNetCompact .pth, BasicSR's archs, "
                        ".safetensors); several, comma-separated, are averaged (the ensemble mean) and must share one "
                        "scale")
    parser.add_argument("--input", "-i", required=True, metavar="LR", help="an LR image, or a folder of them "
                        "(searched recursively)")
    parser.add_argument("--output", "-o", required=True, metavar="SR_DIR", help="folder for the SR images, "
                        "<dir>/<stem><suffix>.<ext> (sub-folders are kept; existing outputs are skipped)")
    parser.add_argument("--outscale", "-s", type=float, default=None, help="final enlargement; the nets' output is "
                        "resized to it (Lanczos) when it differs from their scale (default: the nets' scale)")
    parser.add_argument("--suffix", default="", help="added to each output's stem, e.g. _out (default: none)")
    parser.add_argument("--ext", default="png", choices=EXTENSIONS, help="output format; auto keeps each input's "
                        "(default: png, which keeps alpha, 16 bits and gray)")
    parser.add_argument("--half", action="store_true", help="run the nets in float16 (CUDA only)")
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
        progress=not args.no_progress, resolve=basicsr_archs, overwrite=args.overwrite, outscale=args.outscale,
        suffix=args.suffix, ext=args.ext, half=args.half), details)
