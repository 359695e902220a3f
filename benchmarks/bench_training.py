"""Training throughput on the CPU: today's settings against each speed-up, side by side in one run, with ratios.

Each variant runs in a fresh worker process (allocator settings and thread counts are per process); the variants take
turns, round after round, so a slow minute of the machine hits all of them; medians are printed.

Steps (synthetic batches, no file reading unless noted):

- ``stage1``: one G and one D step of the tiny probabilistic DeResnet (32 features, 4 blocks), HR crop 64, batch 4,
  the diversity term on (one more no-grad G forward); ``stage1_nodiv`` the same step with the term off (the ratio of
  the two is the term's cost);
- ``sr_rrdb``: one L1 step of the old tiny SR preset's RRDBNet (16 features, 2 blocks), HR crop 64, batch 4;
- ``sr_compact``: one L1 step of the new one, SRVGGNetCompact (32 features, 8 convs), HR crop 128, batch 4;
- ``cl2`` / ``cl3``: one collaborative step (probdeg.collab, real LR on) of K = 2 / 3 compact nets, and ``sup2`` /
  ``sup3`` one supervised step of one net on the same concatenated batch (the unit of the CL ratio);
- ``data``: building one batch of 4 items of the demo's SR dataset from files, with and without the image cache;
  ``data_bicubic`` the same (cached) with the MATLAB-bicubic reference of each HR crop that stage 1 and SR on bicubic
  LR read, as probdeg computes it (two cached matrix products), ``data_bicubic_imresize`` with BasicSR's ``imresize``.

Variants: ``threads`` (1 or 2 torch threads), ``malloc`` (glibc's defaults, or probdeg.runtime.keep_freed_memory),
``channels_last``, ``compile`` (torch.compile, its one-off compile time left out), ``bf16`` (the nets' forwards
under ``torch.autocast`` to bfloat16 and the losses in float32, one thread, as the demo's lanes run with
``train:autocast: auto`` on a CPU with AVX512-BF16 or AMX; elsewhere ``auto`` keeps float32, bfloat16 being
emulated there). ``--lanes`` also runs two
1-thread workers at once (float32 and bf16), against one 2-thread worker, to measure the demo's side-by-side
trainings.

    python benchmarks/bench_training.py                 # everything, about 10 minutes on 2 cores
    python benchmarks/bench_training.py --steps sr_compact --repeats 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STEPS = ("stage1", "stage1_nodiv", "sr_rrdb", "sr_compact", "sup2", "cl2", "sup3", "cl3", "data_plain", "data_cached",
         "data_bicubic_imresize", "data_bicubic")
PIXELS = {"stage1": 4 * 64 * 64, "sr_rrdb": 4 * 64 * 64, "sr_compact": 4 * 128 * 128}  # HR crop pixels per step


# ------------------------------------------------------------------------------------------------------------ worker
def _make_step(step: str, channels_last: bool, compile_: bool, data_root: str, bf16: bool):
    import torch
    import torch.nn.functional as F

    import probdeg.integrations.basicsr  # noqa: F401  (BasicSR's archs, the torchvision fix)
    from probdeg.integrations.basicsr import build_network
    from probdeg.runtime import in_precision

    gen = torch.Generator().manual_seed(0)
    dtype = torch.bfloat16 if bf16 else None  # as train:autocast runs it: the forward autocast, the loss float32
    fmt = torch.channels_last if channels_last else torch.contiguous_format

    def prepare(net):
        net = net.to(memory_format=fmt)
        return torch.compile(net) if compile_ else net

    compact = {"type": "SRVGGNetCompact", "num_in_ch": 3, "num_out_ch": 3, "num_feat": 32, "num_conv": 8,
               "upscale": 4, "act_type": "prelu"}
    if step in ("stage1", "stage1_nodiv"):
        from probdeg import FSDiscriminator
        from probdeg.archs import probabilistic_deresnet
        from probdeg.filters import bicubic_downscale
        from probdeg.stage1 import DegradationGAN, GeneratorLossWeights

        torch.manual_seed(0)
        G = probabilistic_deresnet(num_feat=32, num_blocks=4, init_strength=0.1).to(memory_format=fmt)
        gan = DegradationGAN(G, FSDiscriminator(num_feat=32).to(memory_format=fmt), injection_lr=1e-3,
                             weights=GeneratorLossWeights(diversity=0.0 if step == "stage1_nodiv" else 1.0),
                             diversity_tau=0.01, autocast=dtype)
        hr = torch.rand(4, 3, 64, 64, generator=gen).contiguous(memory_format=fmt)
        ref, real = bicubic_downscale(hr, 4), torch.rand(4, 3, 16, 16, generator=gen)
        return lambda: gan.step(hr, ref, real)
    if step in ("sr_rrdb", "sr_compact"):
        if step == "sr_rrdb":
            opt, crop = {"type": "RRDBNet", "num_in_ch": 3, "num_out_ch": 3, "num_feat": 16, "num_block": 2,
                         "num_grow_ch": 8, "scale": 4}, 64
        else:
            opt, crop = compact, 128
        torch.manual_seed(0)
        net = prepare(build_network(opt))
        optim = torch.optim.Adam(net.parameters(), lr=1e-4)
        lr = torch.rand(4, 3, crop // 4, crop // 4, generator=gen).contiguous(memory_format=fmt)
        hr = torch.rand(4, 3, crop, crop, generator=gen)

        def sr_step():
            optim.zero_grad(set_to_none=True)
            F.l1_loss(in_precision(net, dtype)(lr), hr).backward()
            optim.step()
        return sr_step
    if step.startswith(("cl", "sup")):
        from probdeg.collab import CollabWeights, collaborative_step

        k = int(step[-1])
        torch.manual_seed(0)
        nets = [prepare(build_network(compact)) for _ in range(k if step.startswith("cl") else 1)]
        optims = [torch.optim.Adam(n.parameters(), lr=1e-4) for n in nets]
        synthetic = [torch.rand(4, 3, 32, 32, generator=gen) for _ in range(k)]
        real, hr = torch.rand(4, 3, 32, 32, generator=gen), torch.rand(4, 3, 128, 128, generator=gen)
        if step.startswith("cl"):
            return lambda: collaborative_step(nets, optims, synthetic, hr, real, 1, 10, CollabWeights(), autocast=dtype)
        stacked = torch.cat(synthetic + [real])
        target = torch.rand(4 * (k + 1), 3, 128, 128, generator=gen)

        def sup_step():
            optims[0].zero_grad(set_to_none=True)
            F.l1_loss(in_precision(nets[0], dtype)(stacked), target).backward()
            optims[0].step()
        return sup_step
    if step.startswith("data"):
        from probdeg.unpaired_data import UnpairedImageDataset

        reference = None
        if step == "data_bicubic":
            from probdeg.integrations.basicsr.datasets import matlab_bicubic as reference
        elif step == "data_bicubic_imresize":
            from basicsr.utils.matlab_functions import imresize

            def reference(image, scale):
                return imresize(image, 1 / scale)
        folders = json.loads((Path(data_root) / "folders.json").read_text())
        dataset = UnpairedImageDataset(folders["train_hr"], folders["train_lr"], crop_size=128, scale=4,
                                       synthetic_lr={"g": folders["synthetic"]}, reference=reference,
                                       cache_images=step != "data_plain")
        counter = iter(range(10**9))
        return lambda: [dataset[(0, next(counter) % len(dataset))] for _ in range(4)]
    raise ValueError(step)


def worker(args: argparse.Namespace) -> None:
    import torch

    if args.malloc == "tuned":
        from probdeg.runtime import keep_freed_memory

        assert keep_freed_memory()
    torch.set_num_threads(args.threads)
    step = _make_step(args.step, args.channels_last, args.compile, args.data_root, args.bf16)
    start = time.perf_counter()
    step()  # warm-up (and compilation)
    first = time.perf_counter() - start
    for _ in range(args.warmup - 1):
        step()
    times = []
    for _ in range(args.iters):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    print(json.dumps({"median": statistics.median(times), "first": first}))


# ------------------------------------------------------------------------------------------------------------ parent
def _run(step: str, variant: dict, args: argparse.Namespace, data_root: str) -> subprocess.Popen:
    command = [sys.executable, __file__, "--worker", step, "--threads", str(variant["threads"]), "--malloc",
               variant["malloc"], "--iters", str(args.iters), "--warmup", str(args.warmup), "--data-root", data_root]
    command += ["--channels-last"] if variant.get("channels_last") else []
    command += ["--compile"] if variant.get("compile") else []
    command += ["--bf16"] if variant.get("bf16") else []
    env = {**os.environ, "OMP_NUM_THREADS": str(variant["threads"])}
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _result(process: subprocess.Popen) -> float:
    out, err = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(err[-2000:])
    return json.loads(out.strip().splitlines()[-1])["median"]


def _data(root: Path) -> str:
    from probdeg.degrade import degrade_folder  # noqa: F401  (the samples are written by hand below)
    from probdeg.io import list_images, read_image, write_image
    from probdeg.sample_task import make_sample_data

    folders = make_sample_data(root / "task")
    synthetic = root / "synthetic"
    for path in list_images(folders["train_hr"]):
        image = read_image(path)
        small = image[: image.shape[0] // 4 * 4: 4, : image.shape[1] // 4 * 4: 4]
        for k in range(8):
            write_image(synthetic / f"{path.stem}_s{k}.png", small)
    (root / "folders.json").write_text(json.dumps({**{k: str(v) for k, v in folders.items()},
                                                   "synthetic": str(synthetic)}))
    return str(root)


BF16 = "bf16 (1 thread + malloc)"
VARIANTS = {
    "today": {"threads": 2, "malloc": "default"},
    "1 thread": {"threads": 1, "malloc": "default"},
    "malloc": {"threads": 2, "malloc": "tuned"},
    "1 thread + malloc": {"threads": 1, "malloc": "tuned"},
    "channels_last": {"threads": 2, "malloc": "tuned", "channels_last": True},
    "compile": {"threads": 2, "malloc": "tuned", "compile": True},
    BF16: {"threads": 1, "malloc": "tuned", "bf16": True},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=2, help=argparse.SUPPRESS)
    parser.add_argument("--malloc", default="default", help=argparse.SUPPRESS)
    parser.add_argument("--channels-last", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--compile", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--bf16", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data-root", default="", help=argparse.SUPPRESS)
    parser.add_argument("--steps", nargs="+", default=list(STEPS), choices=STEPS)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--iters", type=int, default=10, help="timed steps per worker (default 10)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first (default 3)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of all variants (default 3)")
    parser.add_argument("--lanes", action="store_true", help="also time two 1-thread workers at once")
    args = parser.parse_args()
    if args.worker:
        args.step = args.worker
        worker(args)
        return
    with tempfile.TemporaryDirectory(prefix="probdeg-bench-") as tmp:
        data_root = _data(Path(tmp))
        results: dict[tuple[str, str], list[float]] = {}
        lanes: dict[tuple[str, str], list[float]] = {}
        for round_ in range(args.repeats):
            for step in args.steps:
                for name in args.variants:
                    if step.startswith("data") and name not in ("today", "1 thread + malloc"):
                        continue
                    if name == "compile" and step.startswith(("data", "stage1", "cl", "sup")):
                        continue  # compiled: the SR nets only (the wrapper's hooks and the GAN step are not)
                    results.setdefault((step, name), []).append(_result(_run(step, VARIANTS[name], args, data_root)))
                for name in ("1 thread + malloc", BF16) if args.lanes and not step.startswith("data") else ():
                    pair = [_run(step, VARIANTS[name], args, data_root) for _ in range(2)]
                    lanes.setdefault((step, name), []).append(max(_result(p) for p in pair))
            print(f"round {round_ + 1}/{args.repeats} done", file=sys.stderr)
    print("| step | variant | s / step | ratio to today |\n|---|---|---|---|")
    for step in args.steps:
        base = statistics.median(results[(step, "today")])
        for name in args.variants:
            if (step, name) in results:
                value = statistics.median(results[(step, name)])
                print(f"| {step} | {name} | {value:.4f} | {value / base:.3f} |")
        for name in ("1 thread + malloc", BF16):
            if (step, name) in lanes:
                value = statistics.median(lanes[(step, name)])
                print(f"| {step} | two {name} workers at once (each) | {value:.4f} | {value / base:.3f} "
                      f"(throughput x{2 * base / value:.2f}) |")
    if ("stage1_nodiv", "today") in results and ("stage1", "today") in results:
        for name in ("today", "1 thread + malloc"):
            if ("stage1", name) in results:
                on, off = (statistics.median(results[(s, name)]) for s in ("stage1", "stage1_nodiv"))
                print(f"Diversity term ({name}): stage-1 step {on:.4f} s with it, {off:.4f} s without: x{on / off:.3f}")
    for name in args.variants:
        if ("data_bicubic", name) in results and ("data_bicubic_imresize", name) in results:
            fast, loop = (statistics.median(results[(s, name)]) for s in ("data_bicubic", "data_bicubic_imresize"))
            print(f"Bicubic reference ({name}): a batch with BasicSR's imresize {loop:.4f} s, with probdeg's "
                  f"{fast:.4f} s: x{loop / fast:.1f}")
    for k in (2, 3):
        if (f"cl{k}", "today") in results and (f"sup{k}", "today") in results:
            for name in ("today", "1 thread + malloc", "malloc", BF16):
                if (f"cl{k}", name) in results:
                    cl = statistics.median(results[(f"cl{k}", name)])
                    sup = statistics.median(results[(f"sup{k}", name)])
                    print(f"CL K={k} ({name}): {cl:.4f} s / ({k} x supervised {sup:.4f} s) = {cl / (k * sup):.3f}")
    if ("sr_rrdb", "today") in results and ("sr_compact", "1 thread + malloc") in results:
        old = PIXELS["sr_rrdb"] / statistics.median(results[("sr_rrdb", "today")])
        new = PIXELS["sr_compact"] / statistics.median(results[("sr_compact", "1 thread + malloc")])
        key = ("sr_compact", "1 thread + malloc")
        both = 2 * PIXELS["sr_compact"] / statistics.median(lanes[key]) if key in lanes else new
        print(f"SR training throughput (HR crop pixels / s): old preset {old:,.0f}; new preset, 1 thread + malloc "
              f"{new:,.0f} (x{new / old:.2f}); two such trainings side by side {both:,.0f} (x{both / old:.2f})")
        if ("sr_compact", BF16) in lanes:
            bf16 = 2 * PIXELS["sr_compact"] / statistics.median(lanes[("sr_compact", BF16)])
            print(f"  two trainings side by side with bf16 autocast: {bf16:,.0f} (x{bf16 / old:.2f})")


if __name__ == "__main__":
    main()
