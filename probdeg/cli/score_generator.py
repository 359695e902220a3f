"""``probdeg score-generator``: the realism and diversity scorecard of degradation generators (no weights needed)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import add_device_argument

HELP = ("score degradation generators against unpaired real LR: noise level, diversity (rho), patch distance, "
        "fidelity; writes scorecard.md / .csv / .json, noise-level histograms and sample grids")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="", metavar="G.pth[,G2.pth...]", help="generator checkpoint(s) written by "
                        "probdeg, comma-separated (none: the two reference rows only)")
    parser.add_argument("--handmade", default="", metavar="PRESET|FILE.yml[,...]", help="hand-made pipelines scored "
                        "beside them, comma-separated: realesrgan (Real-ESRGAN's second-order degradation) or option "
                        "files with one block {handmade: realesrgan, key: value, ...}")
    parser.add_argument("--hr", required=True, metavar="HR_DIR", help="clean HR images to degrade")
    parser.add_argument("--real-lr", required=True, metavar="LR_DIR", help="real LR images (unpaired with --hr)")
    parser.add_argument("--paired-lr", default=None, metavar="DIR", help="LR images paired with --hr by name, for a "
                        "PSNR column (mind the trap: a good stochastic generator scores lower there)")
    parser.add_argument("--samples", type=int, default=4, help="LR samples per HR image (default: 4)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the samples and the reference noise (default: 0)")
    parser.add_argument("--max-images", type=int, default=32, help="HR and real LR images read at most (default: 32)")
    parser.add_argument("--crop", type=int, default=256, help="centre crop of each HR image, 0 for whole images "
                        "(default: 256)")
    parser.add_argument("--scale", type=int, default=None, choices=(2, 4), help="scale of the reference rows and of "
                        "--handmade when no --model is given (default: 4; with --model, the generators' own)")
    parser.add_argument("--out", default="scorecard", metavar="DIR", help="output folder (default: scorecard)")
    add_device_argument(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from ..metrics.scorecard import score_generators, write_scorecard
    from ..sr import parse_model_list
    from .common import basicsr_archs, resolve_device, warnings_as_lines

    models = parse_model_list(args.model) if args.model.strip() else []
    handmade = []
    if args.handmade.strip():
        from .degrade import handmade_pipeline

        scale = args.scale or 4
        if models:  # the pipelines take the generators' scale
            from ..metrics.scorecard import load_generators

            scale = load_generators(models[:1], resolve=basicsr_archs)[0][2]
        specs = [s.strip() for s in args.handmade.split(",") if s.strip()]
        handmade = [(f"handmade:{Path(spec).stem}", handmade_pipeline(spec, scale)) for spec in specs]
    with warnings_as_lines("score-generator"):
        card, generators = score_generators(models, args.hr, args.real_lr, paired_lr_dir=args.paired_lr,
                                            samples=args.samples, seed=args.seed, max_images=args.max_images,
                                            crop=args.crop or None, device=resolve_device(args.device),
                                            progress=not args.no_progress, resolve=basicsr_archs,
                                            scale=args.scale or 4, require_scale=args.scale is not None,
                                            handmade=handmade)
    print(card.table())  # before writing: a folder that cannot be written loses no result
    paths = write_scorecard(card, args.out, generators=generators)
    print(f"score-generator: real LR noise level {card.real_noise_level:.4f}; {len(card.rows)} rows -> "
          f"{', '.join(str(p) for p in paths.values())}")
    return 0
