"""Cost of collaborative learning: one CL iteration of K models against K supervised steps of the same batch size.

Three ways of doing the same training step, timed side by side in one run:

- ``supervised``: one plain L1 step of one model on the concatenated batch ``[x~_1 .. x~_K, x]`` (the unit).
- ``probdeg CL``: :func:`probdeg.collab.collaborative_step`, one forward per model over the concatenated batch,
  teacher targets and pseudo-labels sliced from those outputs.
- ``released order``: the released code's order of work: the models are updated one after another, and before
  each update the peers' teacher outputs and the pseudo-label are recomputed with extra no-grad forwards.

Target (issue 4): probdeg CL / (K x supervised) <= 1.10.

    python benchmarks/bench_collab.py                                   # CPU, a small RRDB
    python benchmarks/bench_collab.py --device cuda --feat 64 --blocks 23 --batch 16 --repeats 10   # paper RRDB
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

import probdeg.integrations.basicsr  # noqa: F401  (torchvision fix before basicsr)
from probdeg.collab import CollabWeights, collaborative_step


def released_order_step(models, optimizers, synthetic, hr, real, progress, total, weights: CollabWeights) -> None:
    """Sequential updates; each model's targets are recomputed (no grad) just before its own update."""
    k, batch = len(models), hr.shape[0]
    stacked = torch.cat([*synthetic, real])
    for i, (model, optimizer) in enumerate(zip(models, optimizers)):
        with torch.no_grad():
            teachers = {j: models[j](synthetic[j]) for j in range(k) if j != i}
            pseudo = torch.stack([m(real) for m in models]).mean(0)
        out = model(stacked)
        loss = weights.sup * F.l1_loss(out[i * batch:(i + 1) * batch], hr)
        loss = loss + weights.col * sum(F.l1_loss(out[j * batch:(j + 1) * batch], t) for j, t in teachers.items())
        loss = loss + weights.ada * (progress / total) * F.l1_loss(out[k * batch:], pseudo)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def supervised_step(model, optimizer, stacked, target) -> None:
    optimizer.zero_grad(set_to_none=True)
    F.l1_loss(model(stacked), target).backward()
    optimizer.step()


def timed(fns, device, repeats: int, warmup: int) -> list[float]:
    """Median seconds of each function, run in turn round after round so that drift hits all of them alike."""
    times: list[list[float]] = [[] for _ in fns]
    for i in range(warmup + repeats):
        for j, fn in enumerate(fns):
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            fn()
            if device.type == "cuda":
                torch.cuda.synchronize()
            if i >= warmup:
                times[j].append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def measure(k: int, args: argparse.Namespace, device: torch.device) -> tuple[float, float, float]:
    """Median seconds of (one supervised step, one probdeg CL step, one released-order step) for K models."""
    from basicsr.archs.rrdbnet_arch import RRDBNet  # after the glue's torchvision fix (import order matters)

    weights = CollabWeights()
    models = [RRDBNet(3, 3, num_feat=args.feat, num_block=args.blocks, num_grow_ch=args.feat // 2).to(device)
              for _ in range(k)]
    optimizers = [torch.optim.Adam(m.parameters(), lr=1e-5, betas=(0.5, 0.999)) for m in models]
    b, s = args.batch, args.lr_size
    hr = torch.rand(b, 3, 4 * s, 4 * s, device=device)
    synthetic = [torch.rand(b, 3, s, s, device=device) for _ in range(k)]
    real = torch.rand(b, 3, s, s, device=device)
    stacked = torch.cat([*synthetic, real])
    target = torch.rand(stacked.shape[0], 3, 4 * s, 4 * s, device=device)
    steps = (lambda: supervised_step(models[0], optimizers[0], stacked, target),
             lambda: collaborative_step(models, optimizers, synthetic, hr, real, 500, 1000, weights),
             lambda: released_order_step(models, optimizers, synthetic, hr, real, 500, 1000, weights))
    return tuple(timed(steps, device, args.repeats, args.warmup))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--k", type=int, nargs="+", default=[2, 3])
    parser.add_argument("--feat", type=int, default=32)
    parser.add_argument("--blocks", type=int, default=4)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--lr-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    print(f"device={device} torch={torch.__version__} threads={torch.get_num_threads()} RRDBNet(feat={args.feat}, "
          f"blocks={args.blocks}) batch={args.batch} LR {args.lr_size}x{args.lr_size} x4, median of {args.repeats}")
    print(f"{'K':>3}{'supervised s':>14}{'probdeg CL s':>14}{'ratio':>8}{'released s':>12}{'ratio':>8}")
    for k in args.k:
        t_sup, t_cl, t_rel = measure(k, args, device)
        print(f"{k:>3}{t_sup:>14.3f}{t_cl:>14.3f}{t_cl / (k * t_sup):>8.3f}{t_rel:>12.3f}{t_rel / (k * t_sup):>8.3f}")

if __name__ == "__main__":
    main()
