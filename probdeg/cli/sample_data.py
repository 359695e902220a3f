"""``probdeg sample-data``: a small unpaired real-world SR task made from scikit-image's bundled photos."""

from __future__ import annotations

import argparse

HELP = "write small HR / real-LR / validation folders made from scikit-image's bundled photos"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="datasets/sample", help="output folder (default: datasets/sample)")
    parser.add_argument("--scale", type=int, default=4, choices=(2, 4), help="LR = HR / scale (default: 4)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the degradation's random amounts and noise "
                        "(default: 0)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..errors import UserError
    from ..sample_task import make_sample_data

    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise UserError(f"--out {args.out!r} is a file; give a folder (it is made if missing)")
    folders = make_sample_data(args.out, scale=args.scale, seed=args.seed)
    for role, folder in folders.items():
        print(f"{role:<9} {folder}  ({sum(1 for _ in folder.glob('*.png'))} images)")
    return 0
