"""probdeg.tiling: memory bounded by tiles, the out-of-memory hint, progress inside one tiled image."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from helpers import (
    folder_args,
    one_error_line,
)

from probdeg.checkpoint import save_checkpoint
from probdeg.cli import main
from probdeg.io import write_image

MEMORY_CHILD = textwrap.dedent("""
    import sys
    import torch
    import probdeg.integrations.basicsr  # what `probdeg sr` loads for this checkpoint, before the baseline
    from probdeg.cli import main

    def high_water_mark():  # KiB. Not ru_maxrss: Linux carries the forking parent's (pytest's) RSS over into it
        return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))

    torch.set_num_threads(1)
    baseline = high_water_mark()
    code = main(sys.argv[1:])
    print("MEMORY", code, baseline, high_water_mark())
""")


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/status")
def test_tiles_bound_the_memory_of_a_large_image(tmp_path):
    from probdeg.integrations.basicsr import build_network

    side = 2048  # LR; the x4 output is 8192x8192
    options = {"type": "SRVGGNetCompact", "num_in_ch": 3, "num_out_ch": 3, "num_feat": 4, "num_conv": 1, "upscale": 4,
               "act_type": "prelu"}
    torch.manual_seed(0)
    net = build_network(options).eval()
    with torch.no_grad():  # a zero residual: the output is the nearest upsampling, whose PNG stays small (the
        net.body[-1].weight.zero_()  # figures then show the SR pass, not the PNG encoder's buffer)
        net.body[-1].bias.zero_()
    save_checkpoint(tmp_path / "sr.pth", net, options)
    yy, xx = np.mgrid[0:side, 0:side] / 97.0
    write_image(tmp_path / "lr" / "a.png",
                (0.5 + 0.4 * np.sin(yy[..., None] + xx[..., None] * np.array([1.0, 0.7, 0.4]))).astype(np.float32))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    runs = {}
    for label, extra in (("untiled", []), ("tiled", ["--tile", "256"])):
        args = folder_args("sr", tmp_path / "sr.pth", tmp_path / "lr", tmp_path / label, *extra)
        runs[label] = subprocess.Popen([sys.executable, "-c", MEMORY_CHILD, *args], stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True, env=env)
    figures = {}
    for label, proc in runs.items():
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]
        code, baseline, peak = (int(v) for v in out.split("MEMORY")[1].split())
        assert code == 0, err[-3000:]
        figures[label] = (baseline / 1024, peak / 1024)
    float_output = 3 * (4 * side) ** 2 * 4 / 2**20  # MiB of a float32 copy of the output
    grown = {label: peak - baseline for label, (baseline, peak) in figures.items()}
    print(f"\nsr of one {side}x{side} LR image (x4: {4 * side}x{4 * side}); a float32 copy of the output is "
          f"{float_output:.0f} MiB")
    for label, (baseline, peak) in figures.items():
        print(f"  {label:>8}: baseline {baseline:.0f} MiB, peak {peak:.0f} MiB (+{grown[label]:.0f} MiB)")
    assert grown["tiled"] < grown["untiled"] / 2
    assert grown["tiled"] < float_output
    assert (tmp_path / "tiled" / "a.png").read_bytes() == (tmp_path / "untiled" / "a.png").read_bytes()


OOM = "DefaultCPUAllocator: can't allocate memory: you tried to allocate 123456789 bytes. Error code 12"


@pytest.mark.parametrize("command", ["sr", "degrade"])
def test_out_of_memory_on_an_image_is_one_line_that_suggests_tiles(files, tmp_path, monkeypatch, capsys, command):
    import probdeg.degrade as degrade
    import probdeg.sr as sr

    def out_of_memory(*args, **kwargs):
        raise RuntimeError(OOM)

    monkeypatch.setattr(sr, "super_resolve", out_of_memory)
    monkeypatch.setattr(degrade, "degrade_batch", out_of_memory)
    model, source = (files["SR"], files["lr"]) if command == "sr" else (files["G"], files["hr"])
    assert main(folder_args(command, model, source, tmp_path / "untiled")) == 2
    line = one_error_line(capsys.readouterr().err, command)
    assert "out of memory on" in line and "a.png" in line and "--tile" in line and "e.g. --tile 256" in line
    assert main(folder_args(command, model, source, tmp_path / "tiled", "--tile", "8")) == 2
    line = one_error_line(capsys.readouterr().err, command)
    assert "out of memory on" in line and "a.png" in line and "try a smaller --tile than 8" in line


def test_out_of_memory_in_the_image_writer_is_one_line_that_does_not_blame_the_tiles(files, tmp_path, monkeypatch,
                                                                                      capsys):
    import probdeg.sr as sr

    def out_of_memory(*args, **kwargs):
        raise RuntimeError(OOM)

    monkeypatch.setattr(sr, "write_image_array", out_of_memory)
    assert main(folder_args("sr", files["SR"], files["lr"], tmp_path / "sr", "--tile", "8")) == 2
    line = one_error_line(capsys.readouterr().err, "sr")
    assert "out of memory on writing" in line and "a.png" in line and "tiles do not help here" in line
    assert "smaller --tile" not in line


def test_the_tile_callback_shows_tile_k_of_n(files, tmp_path):
    from tqdm import tqdm

    from probdeg.folders import FolderJob, plan_outputs

    plan = plan_outputs(files["lr"], tmp_path / "out")
    with FolderJob(plan, tmp_path / "out", command="sr", settings={}, progress=False) as job:
        assert job.tiles(1) is None  # one tile: nothing to show
        job.bar = tqdm(total=len(plan), file=io.StringIO(), desc="sr", mininterval=0)
        on_tile = job.tiles(3)
        on_tile()
        assert "tile 1/3" in str(job.bar)
        on_tile()
        assert "tile 2/3" in str(job.bar)
        on_tile()
        assert "tile" not in str(job.bar)  # done: the postfix is cleared
