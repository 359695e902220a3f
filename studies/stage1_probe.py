"""Probe stage 1 on a finished demo folder: retrain one generator with other settings, score its LR, and train the
single-generator SR run on it, to see whether a more realistic generator gives a better SR model.

    python studies/stage1_probe.py --demo studies/out/mini_mssr/full/seed0 --name gan_x10 \
        --set train:gan_opt:loss_weight=0.05

The generator starts from the demo's own overrides for ``deresnet_prob`` (data, iterations, seed), then ``--set``
applies; ``--iters`` replaces its iteration count. The SR run is the demo's ``single_prob`` (started from the demo's
RRDB (bicubic LR), same iterations) on the new generator. Prints the demo's own figures next to the probe's.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from probdeg.demo.plan import GENERATORS, SR_RUNS
from probdeg.demo.runner import run_training, train_command
from probdeg.demo.scoring import CROP_BORDER, score_generators
from probdeg.demo.stages import StageStore
from probdeg.demo.task import DemoData


def _train(preset: str, overrides: list[str], root: Path) -> Path:
    from probdeg.presets import preset_path

    print(train_command(preset_path(preset), root, overrides), flush=True)
    return run_training(preset_path(preset), overrides, root, progress=False)


def _replace(overrides: list[str], changes: list[str]) -> list[str]:
    keys = {c.split("=", 1)[0] for c in changes}
    return [o for o in overrides if o.split("=", 1)[0] not in keys] + changes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demo", required=True, help="a finished `probdeg demo` output folder")
    parser.add_argument("--name", required=True, help="name of the probe (its experiments: probe_<name>_*)")
    parser.add_argument("--set", nargs="*", default=[], help="overrides of the generator's training")
    parser.add_argument("--iters", type=int, default=None, help="the generator's iterations")
    args = parser.parse_args(argv)
    demo = Path(args.demo).resolve()
    store = StageStore(demo / "stages")
    data = DemoData.from_record(store.load("data")["folders"])
    generator = store.load("g_deresnet_prob")
    changes = [f"name=probe_{args.name}_g"] + list(args.set)
    if args.iters:
        changes += [f"train:total_iter={args.iters}", f"train:scheduler:decay_start={args.iters * 2 // 3}",
                    f"val:val_freq={args.iters + 1}", f"logger:save_checkpoint_freq={max(1, args.iters // 4)}"]
    g_dir = _train(generator["config"]["preset"], _replace(generator["config"]["overrides"], changes), demo)
    g_path = g_dir / "models" / "net_g_latest.pth"

    sr = store.load("sr_single_prob")
    run = next(r for r in SR_RUNS if r.key == "single_prob")
    sr_changes = [f"name=probe_{args.name}_sr", f"degradations={json.dumps([{'generator': str(g_path)}])}"]
    sr_dir = _train(run.preset, _replace(sr["config"]["overrides"], sr_changes), demo)

    from probdeg.integrations.basicsr import resolve_arch
    from probdeg.scores import evaluate_folders
    from probdeg.sr import sr_folder

    out = demo / "sr" / f"probe_{args.name}"
    sr_folder([sr_dir / "models" / "net_sr0_latest.pth"], data.val_lr, out, progress=False, resolve=resolve_arch)
    probe_sr = evaluate_folders(out, data.val_hr, crop_border=CROP_BORDER, lpips=False).mean
    seed = int(next(o.split("=", 1)[1] for o in generator["config"]["overrides"] if o.startswith("manual_seed=")))
    demo_scores = json.loads((demo / "scores.json").read_text())
    label = next(g.label for g in GENERATORS if g.key == "deresnet_prob")
    probe_g = score_generators(data, {**{g.key: Path(store.load(f"g_{g.key}")["models"][0]) for g in GENERATORS},
                                      "deresnet_prob": g_path}, seed=seed)["deresnet_prob"]
    base_g, base_sr = demo_scores["generators"]["deresnet_prob"], demo_scores["methods"]["single_prob"]
    print(f"\n| {label} | PSNR vs real LR | HF distance | diversity | SR PSNR | SR SSIM |\n|---|---|---|---|---|---|")
    for what, g, s in (("demo", base_g, base_sr), (f"probe {args.name}", probe_g, probe_sr)):
        print(f"| {what} | {g['psnr_lr']:.2f} | {g['realism_hf']:.3f} | {g['diversity']:.4f} | {s['psnr']:.2f} | "
              f"{s['ssim']:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
