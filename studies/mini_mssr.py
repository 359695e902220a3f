"""Mini reproduction of MSSR's Tables 1-3 on CPU: ``probdeg demo`` once per training seed, mean ± std per method.

    python studies/mini_mssr.py --seeds 0 1 2 --budget full --out studies/out/mini_mssr \
        --markdown studies/out/mini_mssr/table.md

Every seed trains the demo's three generators and eight SR runs (the oracle included) from random weights on the same
task (scikit-image's photos, data seed 0); only the training seed changes. A seed whose folder already holds a
finished run is reused (the demo's stages are resumable), so an interrupted study continues where it stopped. Prints,
and writes as markdown: PSNR / SSIM and the gain over bicubic upscaling per method, the paper's claims and the
demo's targets as paired differences (the same seed on both sides), the noise sweep, the generators' scorecard, and
the seed spread of every method's gain on all 12 validation pairs against the first 4 (one degradation draw per
photo, the old validation set).
"""

from __future__ import annotations

import statistics
import sys

from study_cli import mean_std, parse_study_args, publish

from probdeg.demo.plan import ROWS, Budget
from probdeg.demo.runner import DemoConfig, run_demo

# (claim, better row, worse row, margin in dB): what the paper's tables say, and the demo's targets (issue 12).
CLAIMS = [
    ("Table 1: probabilistic > deterministic generator", "single_prob", "single_det", 0.0),
    ("Table 2: naive combination > single probabilistic", "naive", "single_prob", 0.0),
    ("Table 2: CL (synthetic only) > naive combination", "cl_synth", "naive", 0.0),
    ("Table 2: CL (synthetic only) > naive ensemble", "cl_synth", "naive_ensemble", 0.0),
    ("Table 2: CL > CL (synthetic only)", "mssr", "cl_synth", 0.0),
    ("Table 3: MSSR > SimUSR", "mssr", "simusr", 0.0),
    ("Target: MSSR >= SR on bicubic LR + 0.5 dB", "mssr", "bicubic_lr", 0.5),
    ("Target: MSSR >= bicubic upscaling + 0.5 dB", "mssr", "bicubic", 0.5),
    ("Target: oracle >= bicubic upscaling + 1.0 dB", "oracle", "bicubic", 1.0),
]
FIRST_DRAW = "_d0"  # the validation pairs of the first degradation draw: the 4 pairs of the old validation set


def _subset_psnr(method: dict, suffix: str) -> float:
    values = [v for name, v in method["per_image"].items() if name.endswith(suffix)]
    return statistics.fmean(values)


def summarise(results: dict[int, dict], seconds: dict[int, float], budget: Budget) -> str:
    """The markdown tables of a study: ``results`` maps seeds to ``scores.json`` contents."""
    seeds = sorted(results)
    methods = {s: results[s]["methods"] for s in seeds}
    keys = [row.key for row in ROWS if row.key in methods[seeds[0]]]
    work = ", ".join(f"{seconds[s] / 60:.1f} min" for s in seeds)
    pairs = len(methods[seeds[0]]["bicubic"]["per_image"])
    lines = [f"Budget {budget.name}: {budget.stage1_iters} iterations per generator, {budget.stage2_iters} per SR "
             f"run (random weights). Training seeds {', '.join(map(str, seeds))}, data seed 0, {pairs} validation "
             f"pairs. Training work per seed (all stages, summed over the lanes that ran side by side): {work}.", "",
             "| Method | PSNR | gain over bicubic | SSIM | gain per seed |", "|---|---|---|---|---|"]

    def gains(key: str, suffix: str = "") -> list[float]:
        if suffix:
            return [_subset_psnr(methods[s][key], suffix) - _subset_psnr(methods[s]["bicubic"], suffix) for s in seeds]
        return [methods[s][key]["psnr"] - methods[s]["bicubic"]["psnr"] for s in seeds]

    for key in keys:
        psnrs = [methods[s][key]["psnr"] for s in seeds]
        ssims = [methods[s][key]["ssim"] for s in seeds]
        lines.append(f"| {methods[seeds[0]][key]['label']} | {mean_std(psnrs, 2)} | {mean_std(gains(key), 2, '+')}"
                     f" | {mean_std(ssims, 3)} | " + ", ".join(f"{v:+.2f}" for v in gains(key)) + " |")
    lines += ["", "| Claim (paired by seed) | PSNR difference | seeds where it holds |", "|---|---|---|"]
    for claim, better, worse, margin in CLAIMS:
        if better not in keys or worse not in keys:
            continue
        diffs = [methods[s][better]["psnr"] - methods[s][worse]["psnr"] for s in seeds]
        lines.append(f"| {claim} | {mean_std(diffs, 2, '+')} dB | {sum(d > margin for d in diffs)} of {len(diffs)} |")
    lines += ["", f"Seed spread (std over seeds) of each method's gain over bicubic: on all {pairs} validation pairs "
              f"and on the {FIRST_DRAW} pairs alone (one degradation draw per photo, the old validation set).", "",
              f"| Method | std, {pairs} pairs | std, {FIRST_DRAW} pairs |", "|---|---|---|"]
    for key in keys[1:]:
        spread = [statistics.stdev(g) if len(g) > 1 else 0.0 for g in (gains(key), gains(key, FIRST_DRAW))]
        lines.append(f"| {methods[seeds[0]][key]['label']} | {spread[0]:.3f} | {spread[1]:.3f} |")
    sigmas = results[seeds[0]]["robustness"]["sigmas"]
    lines += ["", "| Method | " + " | ".join(f"PSNR at sigma {s:g}" for s in sigmas) + " |",
              "|---|" + "---|" * len(sigmas)]
    for label in results[seeds[0]]["robustness"]["psnr"]:
        curves = [results[s]["robustness"]["psnr"][label] for s in seeds]
        lines.append(f"| {label} | " + " | ".join(mean_std([c[i] for c in curves], 2)
                                                  for i in range(len(sigmas))) + " |")
    figures = (("rho", 2), ("noise_ratio", 2), ("patch_distance", 3), ("psnr_vs_bicubic", 2), ("color_l1", 4))
    lines += ["", "| Generator | " + " | ".join(name for name, _ in figures) + " |", "|---|" + "---|" * len(figures)]
    for key, first in results[seeds[0]]["generators"]["rows"].items():
        cells = [mean_std([results[s]["generators"]["rows"][key][name] for s in seeds], digits)
                 for name, digits in figures]
        lines.append(f"| {first['label']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args, budget, out = parse_study_args(__doc__, argv, out_help="where the demos of every seed go")
    results, seconds = {}, {}
    for seed in args.seeds:
        print(f"=== seed {seed}", flush=True)
        result = run_demo(DemoConfig(out=out / f"seed{seed}", budget=budget, seed=seed, data_seed=0,
                                     progress=sys.stderr.isatty()))
        results[seed] = result.scores
        seconds[seed] = sum(r.seconds for r in result.records.values())
    table = summarise(results, seconds, budget)
    publish(table, args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
