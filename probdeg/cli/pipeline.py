"""``probdeg pipeline``: the whole method on your folders, to one SR model with a report."""

from __future__ import annotations

import argparse

HELP = ("the whole method on your own folders: train the degradation generators on your clean HR and real LR "
        "images (unpaired), score them against your real LR, train MSSR, and write one SR model with a report; "
        "resumable")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from .demo import add_budget_arguments, add_run_arguments

    parser.add_argument("--hr", required=True, metavar="HR_DIR", help="your clean HR images")
    parser.add_argument("--lr", required=True, metavar="LR_DIR", help="your real LR images (unpaired with --hr)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder; a rerun reuses its finished "
                        "stages and resumes an interrupted one")
    add_budget_arguments(parser, quick="checks that everything runs", full=", the demo's")
    parser.add_argument("--seed", type=int, default=0, help="training seed (default: 0)")
    parser.add_argument("--val-hr", default=None, metavar="DIR", help="validation ground truth, paired with --val-lr "
                        "by file name, if you have any")
    parser.add_argument("--val-lr", default=None, metavar="DIR", help="validation LR images")
    add_run_arguments(parser)


def command_line(args: argparse.Namespace) -> str:
    """The ``probdeg pipeline`` command that repeats this run (for the report)."""
    from .demo import repeat_command

    return repeat_command("pipeline", args, ("hr", "lr", "out", "seed", "val_hr", "val_lr"))


def run(args: argparse.Namespace) -> int:
    from ..demo.pipeline import run_pipeline
    from ..runtime import keep_freed_memory
    from .demo import budget_of

    budget = budget_of(args)
    keep_freed_memory()
    result = run_pipeline(args.out, args.hr, args.lr, budget=budget, seed=args.seed, val_hr=args.val_hr,
                          val_lr=args.val_lr, progress=not args.no_progress, lanes=args.lanes,
                          match_jpeg=not args.no_jpeg_match, command=command_line(args))
    print(f"pipeline: model {result.model}; report {result.report_html}")
    return 0
