"""Mini reproduction of MSSR's Tables 1-3 on CPU: ``probdeg demo`` once per training seed, mean ± std per method.

    python benchmarks/mini_mssr.py --seeds 0 1 2 --budget full --out benchmarks/out/mini_mssr \
        --markdown benchmarks/out/mini_mssr/table.md

Every seed trains the three generators and seven SR runs from scratch on the same task (scikit-image's photos, data
seed 0); only the training seed changes. A seed whose folder already holds a finished run is reused (the demo's
stages are resumable), so an interrupted study continues where it stopped. Prints, and writes as markdown:
PSNR / SSIM per method, and the paper's claims as paired differences (the same seed on both sides).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from probdeg.demo import BUDGETS, Budget, DemoConfig, run_demo
from probdeg.demo.plan import ROWS

# (claim, better row, worse row): what the paper's tables say.
CLAIMS = [
    ("Table 1: probabilistic > deterministic generator", "single_prob", "single_det"),
    ("Table 2: naive combination > single probabilistic", "naive", "single_prob"),
    ("Table 2: CL (synthetic only) > naive combination", "cl_synth", "naive"),
    ("Table 2: CL (synthetic only) > naive ensemble", "cl_synth", "naive_ensemble"),
    ("Table 2: CL > CL (synthetic only)", "mssr", "cl_synth"),
    ("Table 3: MSSR > SimUSR", "mssr", "simusr"),
    ("Table 3: MSSR > RRDB (bicubic LR)", "mssr", "rrdb_bicubic"),
    ("Table 3: MSSR > bicubic upscaling", "mssr", "bicubic"),
]


def _mean_std(values: list[float], digits: int) -> str:
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.{digits}f} ± {std:.{digits}f}"


def summarise(results: dict[int, dict], seconds: dict[int, float], budget: Budget) -> str:
    """The markdown tables of a study: ``results`` maps seeds to ``scores.json`` contents."""
    seeds = sorted(results)
    times = ", ".join(f"{seconds[s] / 60:.1f} min" for s in seeds)
    lines = [f"Budget {budget.name}: {budget.stage1_iters} iterations per generator, {budget.pretrain_iters} for RRDB "
             f"(bicubic LR), {budget.stage2_iters} per SR run started from it. Training seeds "
             f"{', '.join(map(str, seeds))}, data seed 0. Wall time per seed: {times}.", "",
             "| Method | PSNR (mean ± std) | SSIM (mean ± std) | PSNR per seed |", "|---|---|---|---|"]
    for row in ROWS:
        psnrs = [results[s]["methods"][row.key]["psnr"] for s in seeds]
        ssims = [results[s]["methods"][row.key]["ssim"] for s in seeds]
        lines.append(f"| {row.label} | {_mean_std(psnrs, 2)} | {_mean_std(ssims, 3)} | "
                     + ", ".join(f"{v:.2f}" for v in psnrs) + " |")
    lines += ["", "| Claim (paired by seed) | PSNR difference (mean ± std) | seeds where it holds |", "|---|---|---|"]
    for claim, better, worse in CLAIMS:
        diffs = [results[s]["methods"][better]["psnr"] - results[s]["methods"][worse]["psnr"] for s in seeds]
        lines.append(f"| {claim} | {_mean_std(diffs, 2)} dB | {sum(d > 0 for d in diffs)} of {len(diffs)} |")
    lines += ["", "| Generator | PSNR vs real LR | HF distance | diversity |", "|---|---|---|---|"]
    for name, first in results[seeds[0]]["generators"].items():
        values = [[results[s]["generators"][name][k] for s in seeds] for k in ("psnr_lr", "realism_hf", "diversity")]
        lines.append(f"| {first['label']} | {_mean_std(values[0], 2)} | {_mean_std(values[1], 3)} | "
                     f"{_mean_std(values[2], 4)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--budget", default="full", help=f"{', '.join(BUDGETS)} or STAGE1,STAGE2,PRETRAIN iterations")
    parser.add_argument("--out", default="benchmarks/out/mini_mssr")
    parser.add_argument("--markdown", default=None, help="also write the tables to this file")
    args = parser.parse_args(argv)
    budget = BUDGETS.get(args.budget) or Budget("custom", *(int(v) for v in args.budget.split(",")))
    out = Path(args.out) / budget.name if budget.name != "custom" else \
        Path(args.out) / f"iters_{budget.stage1_iters}_{budget.stage2_iters}_{budget.pretrain_iters}"
    results, seconds = {}, {}
    for seed in args.seeds:
        print(f"=== seed {seed}", flush=True)
        start = time.perf_counter()
        result = run_demo(DemoConfig(out=out / f"seed{seed}", budget=budget, seed=seed, data_seed=0,
                                     progress=sys.stderr.isatty()))
        seconds[seed] = time.perf_counter() - start
        results[seed] = json.loads((result.out / "scores.json").read_text())
        # A reused seed's wall time is its stages' training time plus this run's scoring.
        seconds[seed] = max(seconds[seed], sum(r["seconds"] for r in result.records.values()))
    table = summarise(results, seconds, budget)
    print(table)
    if args.markdown:
        Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(args.markdown).write_text(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
