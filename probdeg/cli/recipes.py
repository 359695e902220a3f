"""``probdeg recipes --out DIR``: the BasicSR recipes (train.py, test.py, the option files) for a pip install."""

from __future__ import annotations

import argparse

HELP = ("copy the BasicSR recipes out of the package: train.py, test.py, options/ (paper scale) and options/tiny/ "
        "(CPU scale), as the repository's integrations/basicsr/ holds them")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="probdeg_recipes", help="folder to write (default: probdeg_recipes)")
    parser.add_argument("--overwrite", action="store_true", help="replace recipe files that exist (default: refuse)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..presets import copy_recipes

    written = copy_recipes(Path(args.out), overwrite=args.overwrite)
    options = sum(1 for p in written if p.suffix == ".yml")
    print(f"recipes: train.py, test.py and {options} option files -> {args.out}")
    print(f"next: cd {args.out} && probdeg sample-data && python train.py -opt options/tiny/deg_deresnet_prob.yml")
    return 0
