"""``probdeg train -opt FILE``: train from a BasicSR option file (``train.py`` runs the same command)."""

from __future__ import annotations

import argparse

HELP = "train from a BasicSR option file (degradation GAN or SR models); experiments go under ./experiments"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """BasicSR's training arguments; ``--set`` is also ``--force_yml``, BasicSR's name."""
    parser.add_argument("-opt", "--opt", required=True, help="path to the option YAML file")
    parser.add_argument("--launcher", choices=["none", "pytorch", "slurm"], default="none",
                        help="'pytorch' under torchrun, 'slurm' under srun (one task per GPU): DDP on nccl with CUDA, "
                        "gloo without")
    parser.add_argument("--auto_resume", "--auto-resume", action="store_true",
                        help="continue from the latest complete training state of this experiment, if any")
    parser.add_argument("--debug", action="store_true", help="BasicSR's debug mode: the name gets a debug_ prefix, "
                        "logs every iteration, checkpoints and validates every 8")
    parser.add_argument("--set", "--force_yml", dest="set", nargs="+", action="extend", default=[],
                        metavar="SECTION:KEY=VALUE", help="override options, e.g. train:total_iter=100 (values parsed "
                        "as YAML; another total_iter scales the scheduler's decay points with it); repeatable; "
                        "--force_yml is BasicSR's name for it")
    parser.add_argument("--root", default=None, metavar="DIR", help="folder that holds experiments/ (default: the "
                        "current directory); relative data and weight paths in the options are read from it too")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--local_rank", type=int, default=0, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    from ..integrations.basicsr.pipeline import train
    from ..runtime import keep_freed_memory
    from .common import one_line_warnings

    keep_freed_memory()  # PROBDEG_MALLOC_TUNING=0 leaves glibc's allocator alone
    with one_line_warnings("train"):
        train(args.opt, root=args.root, overrides=args.set, auto_resume=args.auto_resume, launcher=args.launcher,
              progress=not args.no_progress, debug=args.debug)
    return 0


def interrupted_hint(args: argparse.Namespace) -> str:
    if args.auto_resume:
        return "the same command resumes from the last saved training state"
    return "add --auto_resume to the same command to continue from the last saved training state"
