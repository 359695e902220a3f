"""Mini reproduction of MSSR's Tables 1-3 on CPU: ``probdeg demo`` once per training seed, mean ± std per method.

    python studies/mini_mssr.py --seeds 0 1 2 --budget full --out studies/out/mini_mssr \
        --markdown studies/out/mini_mssr/table.md

Every seed trains the three generators and seven SR runs from scratch on the same task (scikit-image's photos, data
seed 0); only the training seed changes. A seed whose folder already holds a finished run is reused (the demo's
stages are resumable), so an interrupted study continues where it stopped. Prints, and writes as markdown:
PSNR / SSIM per method, and the paper's claims as paired differences (the same seed on both sides).

``--oracle`` adds a diagnostic the demo cannot run on real data: per seed, one more SR run, started from the same
RRDB (bicubic LR) for the same iterations, on LR made by the true degradation (the demo's, 8 samples per HR image,
offline). It bounds what any degradation generator could give the SR model at this scale.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from probdeg.demo.plan import BUDGETS, ROWS, Budget
from probdeg.demo.runner import DemoConfig, run_demo

ORACLE_SAMPLES = 8

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
    keys = [row.key for row in ROWS] + (["oracle"] if "oracle" in results[seeds[0]]["methods"] else [])
    for key in keys:
        psnrs = [results[s]["methods"][key]["psnr"] for s in seeds]
        ssims = [results[s]["methods"][key]["ssim"] for s in seeds]
        lines.append(f"| {results[seeds[0]]['methods'][key]['label']} | {_mean_std(psnrs, 2)} | "
                     f"{_mean_std(ssims, 3)} | " + ", ".join(f"{v:.2f}" for v in psnrs) + " |")
    lines += ["", "| Claim (paired by seed) | PSNR difference (mean ± std) | seeds where it holds |", "|---|---|---|"]
    for claim, better, worse in CLAIMS:
        diffs = [results[s]["methods"][better]["psnr"] - results[s]["methods"][worse]["psnr"] for s in seeds]
        lines.append(f"| {claim} | {_mean_std(diffs, 2)} dB | {sum(d > 0 for d in diffs)} of {len(diffs)} |")
    sigmas = results[seeds[0]]["robustness"]["sigmas"]
    lines += ["", "| Method | " + " | ".join(f"PSNR at sigma {s:g}" for s in sigmas) + " |",
              "|---|" + "---|" * len(sigmas)]
    for row in ROWS:
        curves = [results[s]["robustness"]["psnr"][row.label] for s in seeds]
        lines.append(f"| {row.label} | " + " | ".join(_mean_std([c[i] for c in curves], 2)
                                                      for i in range(len(sigmas))) + " |")
    lines += ["", "| Generator | PSNR vs real LR | HF distance | diversity |", "|---|---|---|---|"]
    for name, first in results[seeds[0]]["generators"].items():
        values = [[results[s]["generators"][name][k] for s in seeds] for k in ("psnr_lr", "realism_hf", "diversity")]
        lines.append(f"| {first['label']} | {_mean_std(values[0], 2)} | {_mean_std(values[1], 3)} | "
                     f"{_mean_std(values[2], 4)} |")
    return "\n".join(lines) + "\n"


def train_oracle(out: Path, budget: Budget, seed: int) -> dict:
    """The ``--oracle`` run of one seed (see the module doc); returns its PSNR / SSIM on the validation pairs."""
    import numpy as np

    from probdeg.demo.plan import SRRun
    from probdeg.demo.runner import run_training, sr_overrides, train_command
    from probdeg.demo.stages import StageStore
    from probdeg.demo.task import DemoData
    from probdeg.integrations.basicsr import resolve_arch
    from probdeg.io import list_images, read_image, write_image
    from probdeg.presets import preset_path
    from probdeg.sample_task import camera_degradation
    from probdeg.scores import evaluate_folders
    from probdeg.sr import sr_folder

    store = StageStore(out / "stages")
    data = DemoData.from_record(store.load("data")["folders"])
    oracle_lr = out / "data" / "oracle_lr"
    rng = np.random.default_rng(12345)  # not the data seed: fresh draws of the same degradation
    for path in list_images(data.train_hr):
        hr = read_image(path)
        for k in range(ORACLE_SAMPLES):
            write_image(oracle_lr / f"{path.stem}_s{k}.png", camera_degradation(hr, 4, rng))
    init = Path(store.load("sr_rrdb_bicubic")["models"][0])
    run = SRRun("oracle", "tiny/sr_single_det", None)
    overrides = sr_overrides(run, data, {}, budget.stage2_iters, seed, init) + [
        'degradations=[{"offline": "oracle"}]', f"datasets:train:synthetic_lr={json.dumps({'oracle': str(oracle_lr)})}"]
    print(train_command(preset_path(run.preset), out, overrides), flush=True)
    model = run_training(preset_path(run.preset), overrides, out, progress=False) / "models" / "net_sr0_latest.pth"
    sr_dir = out / "sr" / "oracle"
    sr_folder([model], data.val_lr, sr_dir, progress=False, resolve=resolve_arch)
    evaluation = evaluate_folders(sr_dir, data.val_hr, crop_border=4, lpips=False)
    return {"label": "Oracle (true degradation)", "psnr": evaluation.mean["psnr"], "ssim": evaluation.mean["ssim"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--budget", default="full", help=f"{', '.join(BUDGETS)} or STAGE1,STAGE2,PRETRAIN iterations")
    parser.add_argument("--out", default="studies/out/mini_mssr")
    parser.add_argument("--markdown", default=None, help="also write the tables to this file")
    parser.add_argument("--oracle", action="store_true", help="also train an SR model on the true degradation")
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
        results[seed] = result.scores
        if args.oracle:
            results[seed]["methods"]["oracle"] = train_oracle(result.out, budget, seed)
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
