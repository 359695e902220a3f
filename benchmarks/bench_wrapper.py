"""Cost of `Probabilistic`: forward+backward time of the wrapped generator divided by the bare one.

Bare and wrapped nets are timed side by side in one run, alternating, and the ratio of medians is printed.
Targets (issue 2): <= 1.05 for sigma=channel, <= 1.10 for sigma=conditional.

    python benchmarks/bench_wrapper.py                       # batch 8, 128x128 HR, CPU
    python benchmarks/bench_wrapper.py --device cuda --repeats 20
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch

from probdeg import Probabilistic
from probdeg.archs import DeResnet, StridedHAN


def _step(net, x: torch.Tensor) -> None:
    net.zero_grad(set_to_none=True)
    net(x).mean().backward()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_pair(bare, wrapped, x: torch.Tensor, repeats: int, warmup: int) -> tuple[float, float]:
    """Median seconds of one forward+backward for (bare, wrapped), measured alternately."""
    times: dict[str, list[float]] = {"bare": [], "wrapped": []}
    for i in range(warmup + repeats):
        for key, net in (("bare", bare), ("wrapped", wrapped)) if i % 2 == 0 else (("wrapped", wrapped),
                                                                                    ("bare", bare)):
            _sync(x.device)
            start = time.perf_counter()
            _step(net, x)
            _sync(x.device)
            if i >= warmup:
                times[key].append(time.perf_counter() - start)
    return statistics.median(times["bare"]), statistics.median(times["wrapped"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=128, help="HR crop size")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--han-width", type=int, default=64)
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    x = torch.rand(args.batch, 3, args.size, args.size, device=device)
    archs = {"DeResnet": lambda: DeResnet(scale=4), f"StridedHAN-{args.han_width}": lambda: StridedHAN(
        num_feat=args.han_width, scale=4)}
    targets = {"channel": 1.05, "conditional": 1.10}
    print(f"device={device} torch={torch.__version__} threads={torch.get_num_threads()} batch={args.batch} "
          f"HR={args.size}x{args.size} repeats={args.repeats} (median of forward+backward)")
    print(f"{'arch':<16}{'sigma':<13}{'points':>7}{'bare s':>10}{'wrapped s':>11}{'ratio':>8}{'target':>8}")
    for arch_name, build in archs.items():
        bare = build().to(device)
        for sigma, target in targets.items():
            wrapped = Probabilistic(copy.deepcopy(bare), sigma=sigma).to(device)
            for layer in wrapped.injections:  # trained-like, non-zero noise so no work is skipped
                torch.nn.init.constant_(layer.weight, 0.5)
            t_bare, t_wrapped = time_pair(bare, wrapped, x, args.repeats, args.warmup)
            ratio = t_wrapped / t_bare
            flag = "ok" if ratio <= target else "MISS"
            print(f"{arch_name:<16}{sigma:<13}{len(wrapped.points):>7}{t_bare:>10.3f}{t_wrapped:>11.3f}"
                  f"{ratio:>8.3f}{target:>6.2f} {flag}")


if __name__ == "__main__":
    main()
