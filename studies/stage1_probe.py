"""Probe stage-1 settings: train generator variants, score their LR, and train one SR net on each one's LR alone.

    python studies/stage1_probe.py --out studies/out/stage1_probe \
        --variant base tiny/deg_deresnet_prob \
        --variant gan_x0.05 tiny/deg_deresnet_prob train:gan_opt:loss_weight=0.05 \
        --variant div_x4 tiny/deg_deresnet_prob train:diversity_opt:loss_weight=4

Each ``--variant NAME PRESET [KEY=VALUE ...]`` is a stage-1 training of the demo (its data, iterations and seed) with
those ``--set`` overrides. For each: the scorecard's figures against the real LR and the PSNR, on the demo's validation
pairs, of the demo's single-generator SR run trained on that generator's LR. It answers "does a more realistic
generator give a better SR model?" for one seed and one task; rerun with other ``--seed`` values, and on other tasks
(``--degradation``, ``--data-seed``, as ``probdeg demo`` takes them), before trusting a difference.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from probdeg.demo.plan import BUDGETS, Budget, GeneratorRun, SRRun
from probdeg.demo.runner import DemoConfig, DemoRunner
from probdeg.demo.scoring import score_models

FIGURES = ("rho", "noise_ratio", "patch_distance", "psnr_vs_bicubic", "color_l1")


def probe(out: Path, variants: list[GeneratorRun], budget: Budget, seed: int, *, data_seed: int = 0,
          degradation: str | None = None) -> dict[str, dict[str, float]]:
    """Train, score and SR-train every variant (finished stages in ``out`` are reused).

    Returns:
        Per variant key: the scorecard figures, ``sr_psnr`` and the generator's training ``seconds``.
    """
    from probdeg.metrics.scorecard import score_generators
    from probdeg.sample_task import load_true_degradation

    runner = DemoRunner(DemoConfig(out=out, budget=budget, seed=seed, data_seed=data_seed, progress=False,
                                   degradation=load_true_degradation(degradation)))
    data = runner.data()
    generators = runner.stage1(data, variants)
    synthetic = runner.synthesise(data, oracle=False, runs=variants)
    card, _ = score_generators([generators[run.key] for run in variants], data.val_hr, data.train_lr,
                               paired_lr_dir=data.val_lr, samples=4, seed=seed, progress=False)
    runner.stage2(data, synthetic, [SRRun(f"probe_{run.key}", "tiny/sr_single_prob", ((run.key,),))
                                    for run in variants])
    results = {}
    for run, row in zip(variants, card.rows[2:]):  # rows 0 and 1: the bicubic references
        psnr = score_models(runner.records.sr(f"probe_{run.key}").model_paths, data,
                            runner.out / "sr" / f"probe_{run.key}").mean["psnr"]
        results[run.key] = {**{name: getattr(row, name) for name in FIGURES}, "sr_psnr": psnr,
                            "seconds": runner.records[f"g_{run.key}"].seconds}
    return results


def table(results: dict[str, dict[str, float]]) -> str:
    """A markdown table, one row per variant."""
    header = ["variant", *FIGURES, "sr_psnr", "seconds"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for key, figures in results.items():
        cells = ["-" if figures[name] is None else f"{figures[name]:.4g}" for name in header[1:]]
        lines.append("| " + " | ".join([key, *cells]) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", nargs="+", action="append", required=True, metavar="NAME PRESET [KEY=VALUE]",
                        help="a stage-1 variant: its name, a tiny preset and --set overrides")
    parser.add_argument("--out", default="studies/out/stage1_probe")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-seed", type=int, default=0, help="seed of the task's degradation")
    parser.add_argument("--degradation", default=None, metavar="SPEC", help="the task's degradation (probdeg demo's)")
    parser.add_argument("--budget", default="full", help=f"{', '.join(BUDGETS)} or STAGE1,STAGE2 iterations")
    args = parser.parse_args(argv)
    if any(len(v) < 2 for v in args.variant):
        parser.error("--variant needs a NAME and a PRESET")
    variants = [GeneratorRun(name, name, preset, overrides=tuple(sets)) for name, preset, *sets in args.variant]
    budget = Budget.parse(args.budget)
    results = probe(Path(args.out), variants, budget, args.seed, data_seed=args.data_seed,
                    degradation=args.degradation)
    Path(args.out, "probe.json").write_text(json.dumps(results, indent=1))
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
