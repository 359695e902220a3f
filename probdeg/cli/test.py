"""``probdeg test -opt FILE``: run the test phases of a BasicSR option file (``test.py`` runs the same command)."""

from __future__ import annotations

import argparse

HELP = "run the test phases (datasets: test_*) of a BasicSR option file; results go under ./results/<name>"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-opt", "--opt", required=True, help="path to the option YAML file")
    parser.add_argument("--set", "--force_yml", dest="set", nargs="+", action="extend", default=[],
                        metavar="SECTION:KEY=VALUE", help="override options (values parsed as YAML); repeatable; "
                        "--force_yml is BasicSR's name for it")
    parser.add_argument("--root", default=None, metavar="DIR", help="folder that holds results/ (default: the "
                        "current directory); relative data and weight paths in the options are read from it too")


def run(args: argparse.Namespace) -> int:
    from ..integrations.basicsr.pipeline import run_test_phases

    folder = run_test_phases(args.opt, root=args.root, overrides=args.set)
    print(f"test: results in {folder}")
    return 0
