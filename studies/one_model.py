"""Member or ensemble: what `probdeg pipeline` hands the user as its one model, measured on finished demo folders.

    python studies/one_model.py --out /tmp/demo_full_s0 [--out OTHER_DEMO ...]

For each K-net run of each demo folder (MSSR, CL on the synthetic domain, the naive combination), every member alone
and the K-net ensemble (the mean of the members' outputs, what the demo scores) super-resolve the demo's validation
LR, and each is scored against the ground truth (PSNR on RGB, 4-pixel border, BasicSR's code) beside bicubic
upscaling. Distillation of the ensemble into one net is not measured here.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from probdeg.demo.scoring import score_models
from probdeg.demo.stages import StageStore
from probdeg.demo.task import DemoData

RUNS = ("mssr", "cl_synth", "naive")


def measure(out: Path) -> dict[str, dict[str, float]]:
    """PSNR of each member and of the ensemble of each K-net run in the demo folder ``out``."""
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
        figures[run] = {key: value - bicubic for key, value in row.items()}
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", action="append", required=True, help="a finished probdeg demo folder (repeatable)")
    args = parser.parse_args(argv)
    print("| demo | run | ensemble | member 0 | member 1 | ensemble - best member |")
    print("|---|---|---|---|---|---|")
    for out in args.out:
        for run, row in measure(Path(out)).items():
            members = [v for k, v in row.items() if k.startswith("member")]
            print(f"| {out} | {run} | {row['ensemble']:+.2f} | " + " | ".join(f"{v:+.2f}" for v in members)
                  + f" | {row['ensemble'] - max(members):+.2f} |")
    print("(gains in dB over bicubic upscaling, PSNR on RGB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
