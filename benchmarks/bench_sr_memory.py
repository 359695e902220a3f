"""Peak memory of `probdeg sr` with and without tiles, on an LR image whose x4 SR output is 2040x1356.

One LR image of 510x339 goes through an RRDBNet (ESRGAN's size by default: 64 features, 23 blocks, random weights)
once untiled and once with ``--tile``. Each variant runs ``probdeg sr`` in a fresh Python subprocess, so the peaks do
not mix; the child reports its peak resident set size (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) and the peak
reached before inference (interpreter, torch, cv2 and BasicSR imported), and the parent prints both, the wall time,
the ratio of the inference peaks, and how far the tiled output is from the untiled one.

    python benchmarks/bench_sr_memory.py                              # 64 feat, 23 blocks, tile 128, pad 16, CPU
    python benchmarks/bench_sr_memory.py --num-block 6 --tile 64      # a quicker check
    python benchmarks/bench_sr_memory.py --device cuda                # GPU: host RSS only, not GPU memory
    python benchmarks/bench_sr_memory.py --threads 1                  # steadier times on a busy machine
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LR_SIZE = (339, 510)  # (H, W); x4 -> 1356 x 2040
SCALE = 4


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def child(args: argparse.Namespace) -> None:
    """One `probdeg sr` run in this process; prints a JSON line with its peaks."""
    import cv2  # noqa: F401
    import torch

    import probdeg.integrations.basicsr  # noqa: F401  (imported by `load_network` anyway: count it in the baseline)
    from probdeg.cli import main

    if args.threads:
        torch.set_num_threads(args.threads)
    before = peak_rss_mib()
    argv = ["sr", "--model", args.model, "--input", args.input, "--output", args.output, "--device", args.device,
            "--no-progress"]
    if args.tile:
        argv += ["--tile", str(args.tile), "--tile-pad", str(args.tile_pad)]
    start = time.perf_counter()
    code = main(argv)
    seconds = time.perf_counter() - start
    print(json.dumps({"code": code, "before_mib": before, "peak_mib": peak_rss_mib(), "seconds": seconds}))


def make_inputs(root: Path, num_feat: int, num_block: int) -> Path:
    import numpy as np
    import torch

    from probdeg.checkpoint import save_checkpoint
    from probdeg.integrations.basicsr import build_network
    from probdeg.io import write_image

    h, w = LR_SIZE
    yy, xx = np.mgrid[0:h, 0:w] / 17.0
    smooth = 0.5 + 0.3 * np.sin(yy[..., None] + xx[..., None] * np.array([1.0, 0.7, 0.4]))
    noise = 0.05 * np.random.default_rng(0).standard_normal((h, w, 3))
    write_image(root / "lr" / "img.png", np.clip(smooth + noise, 0, 1).astype(np.float32))
    options = {"type": "RRDBNet", "num_in_ch": 3, "num_out_ch": 3, "num_feat": num_feat, "num_block": num_block,
               "num_grow_ch": 32, "scale": SCALE}
    torch.manual_seed(0)
    model = root / "rrdb.pth"
    save_checkpoint(model, build_network(options), options)
    return model


def run_variant(script: Path, model: Path, root: Path, name: str, tile: int, args: argparse.Namespace) -> dict:
    output = root / f"sr_{name}"
    cmd = [sys.executable, str(script), "--child", "--model", str(model), "--input", str(root / "lr"), "--output",
           str(output), "--tile", str(tile), "--tile-pad", str(args.tile_pad), "--device", args.device,
           "--threads", str(args.threads)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{name} run failed:\n{result.stderr}")
    report = json.loads(result.stdout.strip().splitlines()[-1])
    report["output"] = output / "img.png"
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-feat", type=int, default=64)
    parser.add_argument("--num-block", type=int, default=23)
    parser.add_argument("--tile", type=int, default=128, help="tile side in LR pixels")
    parser.add_argument("--tile-pad", type=int, default=16)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads in the runs (default: torch's)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    import numpy as np
    import torch

    from probdeg.io import read_image

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model = make_inputs(root, args.num_feat, args.num_block)
        script = Path(__file__).resolve()
        untiled = run_variant(script, model, root, "untiled", 0, args)
        tiled = run_variant(script, model, root, "tiled", args.tile, args)
        a, b = read_image(untiled["output"]), read_image(tiled["output"])
        diff = np.abs(a - b) * 255

    h, w = LR_SIZE
    print(f"probdeg sr: LR {w}x{h} -> SR {w * SCALE}x{h * SCALE}, RRDBNet x{SCALE} ({args.num_feat} feat, "
          f"{args.num_block} blocks, random weights), device {args.device}, "
          f"{args.threads or torch.get_num_threads()} CPU threads; "
          "peak RSS per subprocess")
    for name, report in (("untiled", untiled), (f"tile {args.tile}, pad {args.tile_pad}", tiled)):
        print(f"  {name:<20} peak {report['peak_mib']:8.0f} MiB  (before inference {report['before_mib']:5.0f} MiB, "
              f"inference adds {report['peak_mib'] - report['before_mib']:7.0f} MiB)  {report['seconds']:6.1f} s")
    ratio_total = untiled["peak_mib"] / tiled["peak_mib"]
    ratio_added = (untiled["peak_mib"] - untiled["before_mib"]) / max(tiled["peak_mib"] - tiled["before_mib"], 1.0)
    print(f"  untiled / tiled: {ratio_total:.2f}x peak RSS, {ratio_added:.2f}x the memory inference adds")
    print(f"  tiled vs untiled output: max |diff| {diff.max():.0f}/255, mean {diff.mean():.4f}/255, "
          f"{(diff > 0).mean() * 100:.2f}% of values differ")


if __name__ == "__main__":
    main()
