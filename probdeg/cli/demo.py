"""``probdeg demo``: stage 1, stage 2 and the baselines on a small task (or your folders), with a report."""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Sequence

HELP = ("train the generators, MSSR and the baselines on a small task made from scikit-image's photos (or your "
        "folders) and write demo_out/report.html; resumable, --quick in about 2-3 minutes on 2 cores")


def parse_iters(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 2 or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected STAGE1,STAGE2 iterations (each at least 1) such as 100,200, got "
                                         f"{text!r}")
    return values


def budget_iters(name: str) -> tuple[int, int]:
    from ..demo.plan import BUDGETS

    budget = BUDGETS[name]
    return budget.stage1_iters, budget.stage2_iters


def add_budget_arguments(parser: argparse.ArgumentParser, *, quick: str, full: str) -> None:
    """``--quick`` and ``--iters STAGE1,STAGE2`` (shared with ``probdeg pipeline``); ``quick`` and ``full`` end their
    help texts."""
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--quick", action="store_true", help="the short budget, {},{}: {}"
                        .format(*budget_iters("quick"), quick))
    budget.add_argument("--iters", type=parse_iters, default=None, metavar="STAGE1,STAGE2",
                        help="iterations per generator and per SR training (default: the full budget, {},{}{})"
                        .format(*budget_iters("full"), full))


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """``--lanes``, ``--no-jpeg-match`` and ``--no-progress`` (shared with ``probdeg pipeline``)."""
    parser.add_argument("--lanes", type=int, default=None, help="trainings run side by side, each on its share of the "
                        "cores (default: one per core, up to 2)")
    parser.add_argument("--no-jpeg-match", action="store_true", help="give stage 2 the generators' LR as generated "
                        "(default: compressed to the real LR's JPEG blocking where it shows any)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def budget_words(args: argparse.Namespace) -> list[str]:
    """The budget flags of a command line that repeats the run."""
    if args.quick:
        return ["--quick"]
    return ["--iters", ",".join(map(str, args.iters))] if args.iters is not None else []


def budget_of(args: argparse.Namespace):
    """The run's budget: ``quick``, ``full`` or a custom :class:`~probdeg.demo.plan.Budget`; checks ``--lanes``."""
    from ..demo.plan import Budget
    from ..errors import UserError

    if args.lanes is not None and args.lanes < 1:
        raise UserError(f"--lanes must be at least 1, got {args.lanes}")
    return "quick" if args.quick else Budget("custom", *args.iters) if args.iters is not None else "full"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="demo_out", help="output folder (default: demo_out); a rerun reuses its "
                        "finished stages")
    add_budget_arguments(parser, quick="about 2-3 min on 2 cores", full=", about 18 min on 2 cores with bfloat16, "
                         "about 25 without")
    parser.add_argument("--seed", type=int, default=0, help="training seed (default: 0)")
    parser.add_argument("--data-seed", type=int, default=0, help="seed of the demo degradation (default: 0)")
    parser.add_argument("--hr", default=None, metavar="HR_DIR", help="your clean HR images (with --lr)")
    parser.add_argument("--lr", default=None, metavar="LR_DIR", help="your real LR images, unpaired (with --hr)")
    parser.add_argument("--val-hr", default=None, metavar="DIR", help="validation ground truth, paired with --val-lr "
                        "by file name (default: every fifth --hr image, degraded by --degradation)")
    parser.add_argument("--val-lr", default=None, metavar="DIR", help="validation LR images")
    parser.add_argument("--degradation", default=None, metavar="SPEC", help="the 'real' degradation of the sample "
                        "task and of held-out validation: key=low:high settings (blur, noise_a, noise_b, jpeg; e.g. "
                        "'blur=1:2,jpeg=none'), or module:function / file.py:function taking (hr, scale, rng)")
    add_run_arguments(parser)


def repeat_command(command: str, args: argparse.Namespace, flags: Sequence[str]) -> str:
    """The command line that repeats a run (for its report): each of ``flags`` that is set (not ``None`` or 0), the
    budget, ``--no-jpeg-match``."""
    words = ["probdeg", command]
    for flag in flags:
        value = getattr(args, flag)
        if value is not None and not (isinstance(value, int) and value == 0):
            words += ["--" + flag.replace("_", "-"), str(value)]
    words += budget_words(args) + (["--no-jpeg-match"] if args.no_jpeg_match else [])
    return " ".join(shlex.quote(w) for w in words)


def command_line(args: argparse.Namespace) -> str:
    """The ``probdeg demo`` command that repeats this run (for the report)."""
    return repeat_command("demo", args, ("out", "seed", "data_seed", "hr", "lr", "val_hr", "val_lr", "degradation"))


def run(args: argparse.Namespace) -> int:
    from ..demo.runner import DemoConfig, run_demo
    from ..runtime import keep_freed_memory
    from ..sample_task import load_true_degradation

    budget = budget_of(args)
    keep_freed_memory()
    config = DemoConfig(out=args.out, budget=budget, seed=args.seed, data_seed=args.data_seed, hr=args.hr,
                        lr=args.lr, val_hr=args.val_hr, val_lr=args.val_lr,
                        degradation=load_true_degradation(args.degradation), progress=not args.no_progress,
                        lanes=args.lanes, match_jpeg=not args.no_jpeg_match, command=command_line(args))
    result = run_demo(config)
    print(f"demo: report {result.report_html}")
    return 0
