"""Throughput of `degrade_folder`: images per second with batched forward passes vs one image at a time.

The same HR folder is degraded by the same probabilistic DeResnet (released size: 64 features, 8 blocks) with
``batch=1`` and with ``batch=B``, side by side in one run (alternating order over repeats, fresh output folders, so
nothing is skipped); the medians and their ratio are printed, and the two outputs are checked to agree.

    python benchmarks/bench_degrade.py                         # 16 HR images of 256x256, batch 8, CPU
    python benchmarks/bench_degrade.py --device cuda --images 64 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from probdeg.archs import probabilistic_deresnet
from probdeg.checkpoint import save_checkpoint
from probdeg.degrade import degrade_folder
from probdeg.injection import NoiseInjection
from probdeg.io import read_image, write_image


def make_inputs(folder: Path, count: int, size: int) -> None:
    gen = np.random.default_rng(0)
    for i in range(count):
        write_image(folder / f"{i:03d}.png", gen.random((size, size, 3), dtype=np.float32))


def make_model(path: Path) -> None:
    torch.manual_seed(0)
    G = probabilistic_deresnet(scale=4)
    with torch.no_grad():  # non-zero noise scales, as after training, so the noise is really drawn
        for module in G.modules():
            if isinstance(module, NoiseInjection):
                module.weight.normal_()
    save_checkpoint(path, G, {"type": "Probabilistic", "net": {"type": "DeResnet", "scale": 4}})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--samples", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_inputs(root / "hr", args.images, args.size)
        make_model(root / "G.pth")
        times: dict[int, list[float]] = {1: [], args.batch: []}
        for repeat in range(args.repeats):
            order = (1, args.batch) if repeat % 2 == 0 else (args.batch, 1)
            for batch in order:
                out = root / f"lr_b{batch}_r{repeat}"
                start = time.perf_counter()
                summary = degrade_folder(root / "G.pth", root / "hr", out, samples=args.samples, seed=0,
                                         batch=batch, device=args.device, progress=False)
                times[batch].append(time.perf_counter() - start)
                assert summary["written"] == args.images * args.samples
        worst = max(np.abs(read_image(p) - read_image(root / "lr_b1_r0" / p.name)).max()
                    for p in (root / f"lr_b{args.batch}_r0").glob("*.png"))
        threads = torch.get_num_threads()
        print(f"degrade_folder: {args.images} HR images {args.size}x{args.size}, {args.samples} sample(s) each, "
              f"DeResnet x4 (64 feat, 8 blocks), device {args.device}, {threads} CPU threads, "
              f"{args.repeats} repeat(s)")
        rates = {}
        for batch, seconds in times.items():
            median = statistics.median(seconds)
            rates[batch] = args.images / median
            print(f"  batch {batch:>3}: {median:7.2f} s  {rates[batch]:7.2f} images/s")
        print(f"  batched / one by one: {rates[args.batch] / rates[1]:.2f}x  (outputs agree within "
              f"{worst * 255:.0f}/255)")


if __name__ == "__main__":
    main()
