"""What the multi-seed studies share: their command line and where the table goes. (Run the studies as scripts,
``python studies/NAME.py``; their own folder is then on the import path.)"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path
from typing import Optional

from probdeg.demo.plan import BUDGETS, Budget


def parse_study_args(doc: str, argv: list[str] | None, *, out_help: str) -> tuple[argparse.Namespace, Budget, Path]:
    """``--seeds``, ``--budget``, ``--out`` and ``--markdown``.

    Returns:
        The arguments, the budget, and the budget's folder under ``--out``.
    """
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--budget", default="full", help=f"{', '.join(BUDGETS)} or STAGE1,STAGE2 iterations")
    parser.add_argument("--out", default="studies/out/mini_mssr", help=out_help)
    parser.add_argument("--markdown", default=None, help="also write the tables to this file")
    args = parser.parse_args(argv)
    budget = Budget.parse(args.budget)
    return args, budget, Path(args.out) / budget.folder


def publish(table: str, markdown: str | None) -> None:
    """Print the table, and write it to ``markdown`` when given."""
    print(table)
    if markdown:
        Path(markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(markdown).write_text(table)


def mean_std(values: list[Optional[float]], digits: int, sign: str = "") -> str:
    """``mean ± std`` over seeds (std 0 for one seed); ``-`` when a seed has no value (a figure that does not apply)."""
    if any(v is None for v in values):
        return "-"
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):{sign}.{digits}f} ± {std:.{digits}f}"

