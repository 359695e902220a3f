"""Stage-1 training speed: iterations per second and HR pixels per second of the degradation-GAN presets.

The tiny and the paper-scale DeResnet presets are timed side by side in one run, on synthetic batches of the
presets' own crop and batch sizes (data loading is left out: it runs in workers in real training). The perceptual
term is off here, since LPIPS weights are not available offline; everything else is the preset's.

    python benchmarks/bench_stage1.py                    # CPU, 3 timed iterations each
    python benchmarks/bench_stage1.py --device cuda --iters 20
    python benchmarks/bench_stage1.py --malloc default   # glibc's allocator as it comes (probdeg train tunes it)
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

import probdeg.integrations.basicsr  # noqa: F401  (registers probdeg in BasicSR)
from probdeg.integrations.basicsr.options import load_options

OPTIONS = Path(__file__).resolve().parents[1] / "integrations" / "basicsr" / "options"
PRESETS = {"tiny DeResnet (prob)": OPTIONS / "tiny" / "deg_deresnet_prob.yml",
           "paper DeResnet (prob)": OPTIONS / "deg_deresnet_prob.yml",
           "paper DeResnet (det)": OPTIONS / "deg_deresnet_det.yml"}


def time_preset(path: Path, device: str, iters: int, warmup: int) -> tuple[float, int]:
    from basicsr.models import build_model

    gpus = 0 if device == "cpu" else 1
    with tempfile.TemporaryDirectory() as root:
        opt = load_options(path, root=root, overrides=[f"num_gpu={gpus}", "train:perceptual_opt:loss_weight=0",
                                                        "train:diversity_opt:tau=0.01"], check_files=False)
        opt["is_train"] = True
        model = build_model(opt)
    train = opt["datasets"]["train"]
    batch, crop, scale = int(train["batch_size_per_gpu"]), int(train["crop_size"]), int(opt["scale"])
    gen = torch.Generator().manual_seed(0)
    data = {"hr": torch.rand(batch, 3, crop, crop, generator=gen),
            "hr_bicubic": torch.rand(batch, 3, crop // scale, crop // scale, generator=gen),
            "real_lr": torch.rand(batch, 3, crop // scale, crop // scale, generator=gen)}
    times = []
    for i in range(warmup + iters):
        model.feed_data(data)
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        model.optimize_parameters(i + 1)
        if device == "cuda":
            torch.cuda.synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times), batch * crop * crop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--malloc", choices=("tuned", "default"), default="tuned",
                        help="tuned: probdeg.runtime.keep_freed_memory(), as probdeg train does (default)")
    args = parser.parse_args()
    if args.malloc == "tuned":
        from probdeg.runtime import keep_freed_memory

        keep_freed_memory()
    print(f"device={args.device} torch={torch.__version__} threads={torch.get_num_threads()} malloc={args.malloc} "
          f"(median of {args.iters} iterations, G and D steps)")
    print(f"{'preset':<24}{'s/iter':>10}{'iter/s':>9}{'HR Mpx/s':>10}")
    results = {}
    for name, path in PRESETS.items():
        seconds, pixels = time_preset(path, args.device, args.iters, args.warmup)
        results[name] = pixels / seconds
        print(f"{name:<24}{seconds:>10.3f}{1 / seconds:>9.2f}{pixels / seconds / 1e6:>10.3f}")
    base = results["paper DeResnet (det)"]
    print(f"per-pixel cost of the latents (paper prob / det): {base / results['paper DeResnet (prob)']:.3f}")


if __name__ == "__main__":
    main()
