"""``probdeg pipeline``: the whole method on your folders, to one SR model with a report."""

from __future__ import annotations

import argparse
import shlex

HELP = ("the whole method on your own folders: train the degradation generators on your clean HR and real LR "
        "images (unpaired), score them against your real LR, train MSSR, and write one SR model with a report; "
        "resumable")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from .demo import budget_iters, parse_iters

    parser.add_argument("--hr", required=True, metavar="HR_DIR", help="your clean HR images")
    parser.add_argument("--lr", required=True, metavar="LR_DIR", help="your real LR images (unpaired with --hr)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder; a rerun reuses its finished "
                        "stages and resumes an interrupted one")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--quick", action="store_true", help="the short budget, {},{}: checks that everything runs"
                        .format(*budget_iters("quick")))
    budget.add_argument("--iters", type=parse_iters, default=None, metavar="STAGE1,STAGE2",
                        help="iterations per generator and for MSSR (default: the demo's full budget, {},{})"
                        .format(*budget_iters("full")))
    parser.add_argument("--seed", type=int, default=0, help="training seed (default: 0)")
    parser.add_argument("--val-hr", default=None, metavar="DIR", help="validation ground truth, paired with --val-lr "
                        "by file name, if you have any")
    parser.add_argument("--val-lr", default=None, metavar="DIR", help="validation LR images")
    parser.add_argument("--lanes", type=int, default=None, help="trainings run side by side (default: one per core, "
                        "up to 2)")
    parser.add_argument("--no-jpeg-match", action="store_true", help="give MSSR the generators' LR as generated "
                        "(default: compressed to the real LR's JPEG blocking where it shows any)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def command_line(args: argparse.Namespace) -> str:
    """The ``probdeg pipeline`` command that repeats this run (for the report)."""
    words = ["probdeg", "pipeline", "--hr", args.hr, "--lr", args.lr, "--out", args.out]
    if args.quick:
        words.append("--quick")
    elif args.iters is not None:
        words += ["--iters", ",".join(map(str, args.iters))]
    for flag in ("val_hr", "val_lr"):
        if getattr(args, flag) is not None:
            words += ["--" + flag.replace("_", "-"), getattr(args, flag)]
    if args.seed:
        words += ["--seed", str(args.seed)]
    if args.no_jpeg_match:
        words.append("--no-jpeg-match")
    return " ".join(shlex.quote(str(w)) for w in words)


def run(args: argparse.Namespace) -> int:
    from ..demo.pipeline import run_pipeline
    from ..demo.plan import Budget
    from ..errors import UserError
    from ..runtime import keep_freed_memory

    if args.lanes is not None and args.lanes < 1:
        raise UserError(f"--lanes must be at least 1, got {args.lanes}")
    budget = "quick" if args.quick else Budget("custom", *args.iters) if args.iters is not None else "full"
    keep_freed_memory()
    result = run_pipeline(args.out, args.hr, args.lr, budget=budget, seed=args.seed, val_hr=args.val_hr,
                          val_lr=args.val_lr, progress=not args.no_progress, lanes=args.lanes,
                          match_jpeg=not args.no_jpeg_match, command=command_line(args))
    print(f"pipeline: model {result.model}; report {result.report_html}")
    return 0
