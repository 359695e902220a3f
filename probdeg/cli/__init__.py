"""The ``probdeg`` command line: ``probdeg COMMAND ...``; one module per command.

A command module defines ``HELP``, ``add_arguments(parser)`` and ``run(args) -> exit code``, and imports only
argparse at module level: its backend (torch, BasicSR, ...) is imported inside ``run``, so ``probdeg --help`` and
every command's ``--help`` answer without loading them.

Exit codes (:mod:`probdeg.defaults`): 0 success; 1 some inputs could not be read (the others were done); 2 a user
error, printed as one line; 3 a crash, with its traceback (a bug: please report it); 130 interrupted by Ctrl-C.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from typing import Optional

from .. import __version__
from ..defaults import EXIT_CRASH, EXIT_INTERRUPTED, EXIT_USER_ERROR

COMMANDS = {
    "train": "train",
    "test": "test",
    "sample-data": "sample_data",
    "recipes": "recipes",
    "summary": "summary",
    "degrade": "degrade",
    "sr": "sr",
    "export": "export",
    "eval": "evaluate",
    "score-generator": "score_generator",
    "fit-degradation": "fit_degradation",
    "demo": "demo",
    "pipeline": "pipeline",
}
"""Command name -> module of :mod:`probdeg.cli`."""

EPILOG = """exit codes: 0 success; 1 some inputs could not be read (the others were done); 2 a user error (one line);
3 a crash, with its traceback (a bug: please report it); 130 interrupted (Ctrl-C)"""


def command_module(name: str):
    return importlib.import_module(f"{__name__}.{COMMANDS[name]}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="probdeg", description="Probabilistic degradation generators for "
                                     "unsupervised real-world super-resolution.", epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"probdeg {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = command_module(name)
        sub = commands.add_parser(name, help=module.HELP, description=module.HELP, epilog=EPILOG)
        module.add_arguments(sub)
    return parser


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def main(argv: Optional[list[str]] = None) -> int:
    """Run ``probdeg argv...``; returns the exit code."""
    from ..errors import ProbdegError

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USER_ERROR
    module = command_module(args.command)
    try:
        return module.run(args)
    except (ProbdegError, OSError) as err:
        # A bad input, setting or file (probdeg's errors, missing or unwritable files): one line, no traceback.
        # Multi-line messages (YAML's) are folded onto it.
        print(f"probdeg {args.command}: error: {_one_line(err)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        hint = getattr(module, "interrupted_hint", lambda _: "the same command resumes where it stopped")(args)
        print(f"\nprobdeg {args.command}: interrupted; {hint}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception:  # a bug: keep its traceback, and an exit code that no user error shares
        traceback.print_exc()
        print(f"probdeg {args.command}: crashed (a bug in probdeg or a library it uses): please report the traceback "
              "above", file=sys.stderr)
        return EXIT_CRASH
