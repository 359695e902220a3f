"""probdeg.metrics.robustness and `probdeg eval --noise-sigmas`: seeded noise, the PSNR sweep (Figure 7), its files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from helpers import (
    ARCH,
    NearestSR,
    register_test_arch,
    save_uint8,
    texture,
)

from probdeg.checkpoint import save_checkpoint
from probdeg.cli import main
from probdeg.integrations.basicsr import resolve_arch
from probdeg.io import read_image
from probdeg.metrics.robustness import add_gaussian_noise, noise_sweep, parse_sigmas
from probdeg.metrics.sr_scores import evaluate_folders
from probdeg.sr import sr_folder

pytestmark = pytest.mark.usefixtures("one_thread", "no_lpips_weights")


@pytest.fixture
def sweep_data(tmp_path) -> dict[str, Path]:
    register_test_arch()
    gt, lr = tmp_path / "gt", tmp_path / "lr"
    for seed, name in enumerate(["a", "sub/b"]):
        hr = texture(40, 48, seed + 10)
        save_uint8(gt / f"{name}.png", hr)
        small = F.avg_pool2d(torch.from_numpy(hr).permute(2, 0, 1)[None].float(), 2)[0].permute(1, 2, 0)
        save_uint8(lr / f"{name}.png", small.round().to(torch.uint8).numpy())
    nearest = tmp_path / "nearest.pth"
    save_checkpoint(nearest, NearestSR(residual=0.0), {"type": ARCH, "scale": 2})
    members = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        members.append(tmp_path / f"m{seed}.pth")
        save_checkpoint(members[-1], NearestSR(residual=0.02), {"type": ARCH, "scale": 2, "residual": 0.02})
    return {"gt": gt, "lr": lr, "nearest": nearest, "members": members, "root": tmp_path}


def test_noise_is_seeded_scaled_and_rounded_to_8_bits():
    lr = torch.full((3, 64, 64), 0.5)
    assert add_gaussian_noise(lr, 0, seed=1) is lr
    noisy = add_gaussian_noise(lr, 10, seed=1)
    assert torch.equal(noisy, add_gaussian_noise(lr, 10, seed=1))
    assert not torch.equal(noisy, add_gaussian_noise(lr, 10, seed=2))
    assert (noisy - lr).std().item() * 255 == pytest.approx(10, rel=0.05)
    assert torch.equal(noisy * 255, (noisy * 255).round())
    assert parse_sigmas("15, 0,5,5") == [0, 5, 15]
    with pytest.raises(ValueError, match="comma-separated numbers"):
        parse_sigmas("0;5")


def test_the_sweep_gives_a_decreasing_psnr_and_matches_eval_at_sigma_zero(sweep_data):
    members = sweep_data["members"]
    sweep = noise_sweep([sweep_data["nearest"], members], sweep_data["lr"], sweep_data["gt"], sigmas="0,5,10,15,30",
                        labels=["nearest", None], crop_border=2, progress=False, resolve=resolve_arch)
    assert sweep.labels == ["nearest", "m1+m2"] and sweep.sigmas == [0, 5, 10, 15, 30]
    curve = sweep.psnr["nearest"]
    assert all(a > b for a, b in zip(curve, curve[1:])), curve
    assert 15 < curve[-1] < curve[0] < 40
    assert set(sweep.per_image["nearest"]) == {"a", "sub/b"}
    # Sigma 0 is the plain pipeline: `sr_folder` then `evaluate_folders`.
    sr_folder(sweep_data["nearest"], sweep_data["lr"], sweep_data["root"] / "sr", progress=False,
              resolve=resolve_arch)
    plain = evaluate_folders(sweep_data["root"] / "sr", sweep_data["gt"], crop_border=2, lpips=False)
    assert plain.mean["psnr"] == pytest.approx(curve[0], abs=1e-9)
    with pytest.raises(ValueError, match="one label per model"):
        noise_sweep([sweep_data["nearest"]], sweep_data["lr"], sweep_data["gt"], sigmas=[0], labels=["a", "b"],
                    resolve=resolve_arch)
    with pytest.raises(ValueError, match="labels must differ"):
        noise_sweep([sweep_data["nearest"], sweep_data["nearest"]], sweep_data["lr"], sweep_data["gt"], sigmas=[0],
                    resolve=resolve_arch)


def test_cli_sweep_writes_table_csv_json_and_plot(sweep_data, capsys):
    out = sweep_data["root"] / "robust"
    members = ",".join(str(p) for p in sweep_data["members"])
    code = main(["eval", "--noise-sigmas", "0,5,10", "--lr", str(sweep_data["lr"]), "--gt", str(sweep_data["gt"]),
                 "--model", str(sweep_data["nearest"]), "--label", "nearest", "--model", members, "--label", "ensemble",
                 "--crop-border", "2", "--out", str(out), "--tile", "8", "--tile-pad", "2", "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "nearest" in printed and "ensemble" in printed and "robustness.png" in printed
    with open(out / "robustness.csv", newline="") as file:
        rows = list(csv.reader(file))
    assert rows[0] == ["sigma", "nearest", "ensemble"] and [r[0] for r in rows[1:]] == ["0", "5", "10"]
    report = json.loads((out / "robustness.json").read_text())
    assert [m["label"] for m in report["models"]] == ["nearest", "ensemble"] and len(report["models"][1]["psnr"]) == 3
    assert report["models"][1]["checkpoints"] == [str(p) for p in sweep_data["members"]]
    assert [float(r[1]) for r in rows[1:]] == pytest.approx(report["models"][0]["psnr"], abs=1e-6)
    plot = read_image(out / "robustness.png")
    assert plot.shape[0] > 200 and plot.shape[1] > 300 and plot.std() > 0.01


def test_cli_sweep_arguments_are_checked(sweep_data, capsys):
    base = ["eval", "--noise-sigmas", "0,5", "--lr", str(sweep_data["lr"]), "--gt", str(sweep_data["gt"])]
    with pytest.raises(SystemExit):
        main(base + ["--label", "first", "--model", str(sweep_data["nearest"])])
    assert "each --label names the --model before it" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(base + ["--model", str(sweep_data["nearest"]), "--label", "a", "--label", "b"])
    assert "two labels" in capsys.readouterr().err
    assert main(base + ["--model", str(sweep_data["nearest"])]) == 2
    assert "needs --out" in capsys.readouterr().err
    assert main(["eval", "--sr", str(sweep_data["lr"]), "--gt", str(sweep_data["gt"]), "--model", "x.pth"]) == 2
    assert "only go with --noise-sigmas" in capsys.readouterr().err
