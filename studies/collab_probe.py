"""Probe the stage-2 runs (MSSR first): retrain one with other settings or other LR, and score each variant.

    python studies/collab_probe.py --out studies/out/mini_mssr/full/seed0 \
        --variant ada10 both collab:lambda_ada=10 \
        --variant true_lr true \
        --variant oracle_b8 oracle datasets:train:batch_size_per_gpu=8

Each ``--variant NAME RUN [KEY=VALUE ...]`` is one of the demo's stage-2 runs (the demo's data, iterations and seed)
with those ``--set`` overrides. ``RUN`` is ``both`` or ``true`` for the demo's MSSR run (``tiny/mssr``, r = p / P
rising to 1) with its two models learning from the probabilistic DeResnet's LR and the probabilistic HAN's (``both``,
as in the demo) or both from the true degradation's LR (``true``: what MSSR does when the synthetic LR is right), or
the key of any other demo run (``oracle``, ``naive``, ``single_prob``, ...), copied as the demo trains it. ``--out``
is the folder of a finished ``probdeg demo`` (pass its ``--seed`` / ``--degradation`` too; its stages are reused).
Prints each variant's PSNR (its ensemble's, for several models) on the validation pairs, its gain over bicubic
upscaling, and the mean |residual| of the output over nearest-neighbour upsampling of the LR (about 0 means the nets
collapsed to their upsampling skip).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from probdeg.demo.plan import SR_RUNS, TRUE, Budget, SRRun
from probdeg.demo.runner import DemoConfig, DemoRunner
from probdeg.demo.scoring import score_models

SOURCES = {"both": (("deresnet_prob",), ("han_prob",)), "true": ((TRUE,), (TRUE,))}


def residual_to_nearest(sr_dir: Path, lr_dir: Path) -> float:
    """Mean |SR - nearest-neighbour upsampling of its LR| over the images of ``sr_dir`` (same names in ``lr_dir``)."""
    import torch.nn.functional as F

    from probdeg.io import image_to_tensor, list_images, read_image

    values = []
    for path in list_images(lr_dir):
        lr = image_to_tensor(read_image(path))
        sr = image_to_tensor(read_image(sr_dir / path.relative_to(lr_dir).with_suffix(".png")))
        near = F.interpolate(lr.reshape(1, *lr.shape[-3:]), size=sr.shape[-2:], mode="nearest")
        values.append((sr.reshape(near.shape) - near).abs().mean().item())
    return sum(values) / len(values)


def probe(out: Path, variants: list[SRRun], budget: Budget, seed: int, *, data_seed: int = 0,
          degradation: str | None = None) -> dict[str, dict[str, float]]:
    """Train (or reuse) the demo's stages and every variant, then score each one's ensemble on the validation pairs.

    Returns:
        Per variant key: ``psnr``, ``gain`` over bicubic upscaling, ``residual`` (see the module doc), ``seconds``.
    """
    from probdeg.metrics.sr_scores import evaluate_folders
    from probdeg.sample_task import load_true_degradation

    if not (out / "sr" / "bicubic").is_dir():
        raise FileNotFoundError(f"{out}: not the folder of a finished probdeg demo (no sr/bicubic); run "
                                f"probdeg demo --out {out} first")
    runner = DemoRunner(DemoConfig(out=out, budget=budget, seed=seed, data_seed=data_seed, progress=False,
                                   degradation=load_true_degradation(degradation)))
    data = runner.data()
    runner.stage1(data)
    synthetic = runner.synthesise(data, oracle=True)
    runner.stage2(data, synthetic, variants)

    # The demo's bicubic upscaling of the validation LR.
    reference = evaluate_folders(runner.out / "sr" / "bicubic", data.val_hr, crop_border=4, lpips=False).mean["psnr"]
    results = {}
    for run in variants:
        sr_dir = runner.out / "probe" / run.key
        psnr = score_models(runner.records.sr(run.key).model_paths, data, sr_dir).mean["psnr"]
        results[run.key] = {"psnr": psnr, "gain": psnr - reference,
                            "residual": residual_to_nearest(sr_dir, data.val_lr),
                            "seconds": runner.records.sr(run.key).seconds}
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", nargs="+", action="append", required=True, metavar="NAME RUN [KEY=VALUE]",
                        help="a variant: its name, the run it copies (both, true or a demo run's key) and --set "
                             "overrides")
    parser.add_argument("--out", required=True, help="a demo's output folder (its finished stages are reused)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-seed", type=int, default=0, help="seed of the task's degradation")
    parser.add_argument("--degradation", default=None, metavar="SPEC", help="the task's degradation (probdeg demo's)")
    parser.add_argument("--budget", default="full", help="full, quick or STAGE1,STAGE2 iterations")
    args = parser.parse_args(argv)
    runs = {run.key: run for run in SR_RUNS}
    variants = []
    for name, *rest in args.variant:
        if not rest or (rest[0] not in SOURCES and rest[0] not in runs):
            parser.error(f"--variant {name}: give its run, one of {', '.join([*SOURCES, *runs])}")
        run = runs["mssr"] if rest[0] in SOURCES else runs[rest[0]]
        variants.append(replace(run, key=f"probe_{name}", sources=SOURCES.get(rest[0], run.sources),
                                overrides=run.overrides + tuple(rest[1:])))
    results = probe(Path(args.out), variants, Budget.parse(args.budget), args.seed, data_seed=args.data_seed,
                    degradation=args.degradation)
    Path(args.out, "probe").mkdir(parents=True, exist_ok=True)
    Path(args.out, "probe", "collab_probe.json").write_text(json.dumps(results, indent=1))
    print("| variant | PSNR (dB) | gain over bicubic | mean residual to nearest | seconds |\n|---|---|---|---|---|")
    for key, r in results.items():
        print(f"| {key} | {r['psnr']:.2f} | {r['gain']:+.2f} | {r['residual']:.4f} | {r['seconds']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
