"""Does the fit's objective prefer the truth? On each synthetic task, where the true degradation is known.

    python studies/fit_check.py --out studies/out/fit_check --candidates 16

For each task (the sample task, the noisy JPEG-heavy task of docs/RESULTS.md part 7, the unseen task of part 4):
the sample data with that degradation, a fresh draw of the true degradation on its training HR images (the known
LR), and ``fit_handmade`` with the known LR: the known degradation's rank among the candidates on the objective and
on each measure (``probdeg.metrics.lr_match``), beside the preset's and the best candidate's figures.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from probdeg.integrations.basicsr.fit import fit_handmade, write_fit
from probdeg.io import list_images, read_image, write_image
from probdeg.metrics.lr_match import MEASURES
from probdeg.sample_task import apply_true_degradation, load_true_degradation, make_sample_data

TASKS = {"sample": "", "noisy_jpeg": "blur=0.3:0.8,noise_a=0.004:0.02,noise_b=0.0001:0.0005,jpeg=30:60",
         "unseen": "blur=1.2:2.2,noise_a=0.0005:0.003,noise_b=0.00005:0.0003,jpeg=none"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--candidates", type=int, default=16)
    parser.add_argument("--max-crops", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tasks", default=",".join(TASKS))
    args = parser.parse_args()
    for task in args.tasks.split(","):
        start = time.perf_counter()
        degradation = load_true_degradation(TASKS[task])
        root = args.out / task
        folders = make_sample_data(root / "data", seed=args.seed, degradation=degradation)
        rng = np.random.default_rng(1000 + args.seed)
        for path in list_images(folders["train_hr"]):
            hr = read_image(path)
            hr = hr[: hr.shape[0] // 4 * 4, : hr.shape[1] // 4 * 4]
            write_image(root / "known_lr" / path.name, apply_true_degradation(degradation, hr, 4, rng, path.name))
        result = fit_handmade(folders["train_hr"], folders["train_lr"], candidates=args.candidates,
                              max_crops=args.max_crops, seed=args.seed, known_lr_dir=root / "known_lr",
                              progress=False)
        write_fit(result, root / "fit")
        known, base, best = result.references[-1], result.candidates[0], result.best
        ranks = ", ".join(f"{m} {result.rank_of(known, m)}" for m in MEASURES)
        print(f"{task}: known degradation ranks {result.rank_of(known)} of {len(result.candidates) + 1} on the "
              f"objective ({known.objective:.2f}; preset {base.objective:.2f}, best candidate {best.objective:.2f}); "
              f"per measure: {ranks} ({time.perf_counter() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
