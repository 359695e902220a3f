"""On-the-fly cost of the hand-made source (Real-ESRGAN's second-order pipeline) against a tiny DeResnet generator's
forward, per HR crop, side by side in one run.

Both are built as ``CollaborativeSRModel`` builds them (``degradations: [{generator: G.pth}, {handmade: realesrgan}]``,
:mod:`probdeg.integrations.basicsr.sources`) and called as its training step calls them: one batch of HR crops, a new
iteration each call (the hand-made draws change). The generator is the tiny preset's probabilistic DeResnet (32
features, 4 blocks, latents on). Calls alternate between the two; medians are printed with their ratio
(target: hand-made / generator <= 1.5).

    python benchmarks/bench_handmade.py                      # batch 4 of 128x128 crops (tiny/mssr.yml), CPU
    python benchmarks/bench_handmade.py --batch 12 --size 256 --usm   # Real-ESRGAN's batch and crop, GT sharpened
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

import probdeg.integrations.basicsr  # noqa: F401  (BasicSR's ops, the torchvision fix)
from probdeg.archs import probabilistic_deresnet
from probdeg.checkpoint import save_checkpoint
from probdeg.injection import NoiseInjection
from probdeg.integrations.basicsr.sources import SourceBuild, read_source

TINY_DERESNET = {"type": "DeResnet", "scale": 4, "num_feat": 32, "num_blocks": 4}  # presets/tiny/deg_deresnet_prob


def tiny_generator(path: Path) -> None:
    torch.manual_seed(0)
    G = probabilistic_deresnet(**{k: v for k, v in TINY_DERESNET.items() if k != "type"})
    with torch.no_grad():  # non-zero noise scales, as after training, so the noise is really drawn
        for module in G.modules():
            if isinstance(module, NoiseInjection):
                module.weight.normal_()
    save_checkpoint(path, G, {"type": "Probabilistic", "net": TINY_DERESNET})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--usm", action="store_true", help="sharpen the HR first (Real-ESRGAN's gt_usm)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    device = torch.device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        tiny_generator(Path(tmp) / "G.pth")
        sources = {"generator": read_source({"generator": str(Path(tmp) / "G.pth")}, "degradations[0]"),
                   "handmade": read_source({"handmade": "realesrgan", "usm_sharpen": args.usm}, "degradations[1]")}
        built = {name: source.build(SourceBuild(device, 4, 0, name)) for name, source in sources.items()}
    hr = torch.rand(args.batch, 3, args.size, args.size, generator=torch.Generator().manual_seed(0)).to(device)
    times: dict[str, list[float]] = {name: [] for name in built}
    for iteration in range(args.warmup + args.repeats):
        order = list(built) if iteration % 2 == 0 else list(built)[::-1]
        for name in order:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            lr = built[name](hr, {}, iteration)
            if device.type == "cuda":
                torch.cuda.synchronize()
            if iteration >= args.warmup:
                times[name].append(time.perf_counter() - start)
            assert lr.shape == (args.batch, 3, args.size // 4, args.size // 4)
    print(f"on-the-fly LR per HR crop: batch {args.batch} x {args.size}x{args.size}, x4, device {args.device}, "
          f"{torch.get_num_threads()} CPU threads, median of {args.repeats} calls (after {args.warmup})")
    per_crop = {name: statistics.median(values) / args.batch for name, values in times.items()}
    labels = {"generator": "tiny DeResnet forward (32 feat, 4 blocks)",
              "handmade": f"hand-made realesrgan{' + USM' if args.usm else ''}"}
    for name, seconds in per_crop.items():
        spread = statistics.quantiles(times[name], n=4)
        print(f"  {labels[name]:<42} {seconds * 1000:8.2f} ms / crop  (quartiles {spread[0] / args.batch * 1000:.2f}"
              f"-{spread[2] / args.batch * 1000:.2f})")
    print(f"  hand-made / generator: {per_crop['handmade'] / per_crop['generator']:.2f}x  (target <= 1.5)")


if __name__ == "__main__":
    main()
