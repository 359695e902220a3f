"""The ``probdeg`` command line: ``probdeg COMMAND ...``; one module per command."""

from __future__ import annotations

import argparse
import sys
from typing import Optional

from .. import __version__
from ..errors import NonFiniteLossError
from . import degrade, demo, evaluate, sample_data, sr, summary, train

COMMANDS = {
    "train": train,
    "sample-data": sample_data,
    "summary": summary,
    "degrade": degrade,
    "sr": sr,
    "eval": evaluate,
    "demo": demo,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="probdeg", description="Probabilistic degradation generators for "
                                     "unsupervised real-world super-resolution.")
    parser.add_argument("--version", action="version", version=f"probdeg {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in COMMANDS.items():
        module.add_arguments(commands.add_parser(name, help=module.HELP, description=module.HELP))
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return COMMANDS[args.command].run(args)
    except (ValueError, TypeError, KeyError, OSError, NonFiniteLossError) as err:
        # User errors (bad options or images: ValueError subclasses; missing files; a diverging training) get one
        # line, not a traceback; multi-line messages (YAML's) are folded onto it.
        print(f"probdeg {args.command}: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # Everything probdeg writes is atomic, and train / degrade / sr / demo resume: say so instead of a traceback.
        print(f"\nprobdeg {args.command}: interrupted; the same command resumes where it stopped", file=sys.stderr)
        return 130
