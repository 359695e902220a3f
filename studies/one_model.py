"""Member or ensemble: what `probdeg pipeline` hands the user as its one model, measured on finished demo folders.

    python studies/one_model.py --out /tmp/demo_full_s0 [--out OTHER_DEMO ...]

For each K-net run of each demo folder (MSSR, CL on the synthetic domain, the naive combination), every member alone
and the K-net ensemble (the mean of the members' outputs, what the demo scores) super-resolve the demo's validation
LR, and each is scored against the ground truth (PSNR on RGB, 4-pixel border, BasicSR's code) beside bicubic
upscaling. With ``--distill N``, MSSR's ensemble is also distilled into one net as ``probdeg pipeline`` does
(:func:`probdeg.distill.distill`: member 0 fine-tuned N iterations, Adam 1e-4, L1, batch 8 of 32-pixel crops, seed 0,
towards the ensemble's output on the LR the run trained on: both generators' offline LR and the real LR; no ground
truth), then scored the same way.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from probdeg.checkpoint import load_checkpoint, load_network, save_checkpoint
from probdeg.demo.scoring import score_models
from probdeg.demo.stages import StageStore
from probdeg.demo.task import DemoData
from probdeg.distill import distill
from probdeg.integrations.basicsr import resolve_arch
from probdeg.io import image_to_tensor, list_images, read_image

RUNS = ("mssr", "cl_synth", "naive")


def distilled(models: list[str], lr_folders: list[Path], out: Path, iterations: int) -> Path:
    """MSSR's ensemble distilled into member 0 (:func:`probdeg.distill.distill`, seed 0) on the LR images of
    ``lr_folders``; returns the student's checkpoint."""
    teachers = [load_network(m, resolve=resolve_arch) for m in models]
    images = [image_to_tensor(read_image(p)) for folder in lr_folders for p in list_images(folder)]
    student = distill(teachers, load_network(models[0], resolve=resolve_arch), images, iterations=iterations)
    path = out / "student.pth"
    save_checkpoint(path, student, load_checkpoint(models[0])["probdeg"]["network"])
    return path


def measure(out: Path, distill_iterations: int = 0) -> dict[str, dict[str, float]]:
    """PSNR of each member and of the ensemble of each K-net run in the demo folder ``out`` (and of MSSR's ensemble
    distilled into one net, with ``distill_iterations``)."""
    store = StageStore(out / "stages")
    data = DemoData.from_record(store.load("data")["folders"])
    bicubic = json.loads((out / "scores.json").read_text())["methods"]["bicubic"]["psnr"]
    figures = {}
    for run in RUNS:
        record = store.load(f"sr_{run}")
        if not record or not record.get("finished"):
            continue
        models = record["models"]
        row = {"ensemble": score_models(models, data, out / "one_model" / run / "ensemble").mean["psnr"]}
        for i, model in enumerate(models):
            row[f"member {i}"] = score_models([model], data, out / "one_model" / run / f"member{i}").mean["psnr"]
        if run == "mssr" and distill_iterations:
            folders = [out / "synthetic" / "deresnet_prob", out / "synthetic" / "han_prob", data.train_lr]
            student = distilled(models, folders, out / "one_model" / run, distill_iterations)
            row["distilled"] = score_models([str(student)], data, out / "one_model" / run / "distilled").mean["psnr"]
        figures[run] = {key: value - bicubic for key, value in row.items()}
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", action="append", required=True, help="a finished probdeg demo folder (repeatable)")
    parser.add_argument("--distill", type=int, default=0, metavar="N", help="also distil MSSR's ensemble into one "
                        "net in N iterations")
    args = parser.parse_args(argv)
    print("| demo | run | ensemble | member 0 | member 1 | ensemble - best member | distilled |")
    print("|---|---|---|---|---|---|---|")
    for out in args.out:
        for run, row in measure(Path(out), args.distill).items():
            members = [v for k, v in row.items() if k.startswith("member")]
            distilled = f"{row['distilled']:+.2f}" if "distilled" in row else "-"
            print(f"| {out} | {run} | {row['ensemble']:+.2f} | " + " | ".join(f"{v:+.2f}" for v in members)
                  + f" | {row['ensemble'] - max(members):+.2f} | {distilled} |")
    print("(gains in dB over bicubic upscaling, PSNR on RGB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
