"""`probdeg.metrics.sr_scores` and `probdeg eval`: BasicSR's PSNR / SSIM, LPIPS, pairing, a corrupt LPIPS file,
good pairs kept beside bad ones."""

from __future__ import annotations

import csv
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import (
    LR_NAMES,
    one_error_line,
    save_uint8,
    smooth_image,
    texture,
)

from probdeg.cli import main
from probdeg.folders import match_images
from probdeg.io import write_image
from probdeg.losses import LPIPSLoss
from probdeg.metrics.sr_scores import evaluate_folders, pair_scores, write_metrics

pytestmark = pytest.mark.usefixtures("one_thread", "no_lpips_weights")  # tiny tensors: see conftest.one_thread








def test_identical_images_give_basicsr_s_inf_psnr_and_ssim_one():
    gt = texture(32, 40, 0)
    for y_channel in (False, True):
        scores = pair_scores(gt, gt.copy(), crop_border=4, y_channel=y_channel)
        assert scores["psnr"] == math.inf
        assert scores["ssim"] == pytest.approx(1.0, abs=1e-12)


def test_a_constant_offset_gives_the_psnr_computed_by_hand():
    gt = texture(32, 40, 1)
    sr = gt + np.uint8(5)
    scores = pair_scores(sr, gt, crop_border=0)
    assert scores["psnr"] == pytest.approx(10 * math.log10(255**2 / 5**2), abs=1e-9)  # 34.15 dB
    assert 0.99 < scores["ssim"] < 1  # only the means differ
    # On Y (BT.601, as BasicSR): Y moves by 5 * (65.481 + 128.553 + 24.966) / 255 = 5 * 219 / 255.
    y_scores = pair_scores(sr, gt, crop_border=0, y_channel=True)
    assert y_scores["psnr"] == pytest.approx(20 * math.log10(255 / (5 * 219 / 255)), abs=1e-3)
    # The crop leaves out whatever happens in the border.
    sr[:4] = 255 - sr[:4]
    sr[:, -4:] = 0
    assert pair_scores(sr, gt, crop_border=4)["psnr"] == pytest.approx(scores["psnr"], abs=1e-9)
    assert pair_scores(sr, gt, crop_border=0)["psnr"] < 20


def test_bad_pairs_are_refused():
    gt = texture(24, 24, 2)
    with pytest.raises(ValueError, match="size mismatch.*24x24 vs 20x24"):
        pair_scores(gt, gt[:, :20], names="x")
    with pytest.raises(ValueError, match="SSIM needs at least 11x11"):
        pair_scores(gt, gt, crop_border=7)
    with pytest.raises(ValueError, match="crop_border"):
        pair_scores(gt, gt, crop_border=-1)


# ------------------------------------------------------------------------------------------------------------ folders
@pytest.fixture
def folders(tmp_path) -> dict[str, Path]:
    gt, sr = tmp_path / "gt", tmp_path / "sr"
    images = {name: texture(40, 48, seed) for seed, name in enumerate(["a", "b", "sub/c", "d", "e"])}
    for name, image in images.items():
        save_uint8(gt / f"{name}.png", image)
    save_uint8(sr / "a.png", images["a"])  # identical
    save_uint8(sr / "b_ESRGAN.png", images["b"] + np.uint8(5))  # BasicSR's <stem>_<name>.png, +5 everywhere
    save_uint8(sr / "sub" / "c.png", images["sub/c"])
    save_uint8(sr / "e_x4.png", images["e"])  # two candidates for e: ambiguous
    save_uint8(sr / "e_x8.png", images["e"])
    save_uint8(sr / "zzz.png", images["a"])  # no GT
    return {"gt": gt, "sr": sr, "root": tmp_path}  # d has no SR image


def test_files_pair_by_name_and_suffix_and_problems_are_listed(folders):
    matching = match_images(folders["sr"], folders["gt"])
    assert [(key, sr.name) for key, sr, _ in matching.pairs] == [("a", "a.png"), ("b", "b_ESRGAN.png"),
                                                                 ("sub/c", "c.png")]
    assert [p.name for p in matching.missing] == ["d.png"]
    assert [p.name for p in matching.extra] == ["zzz.png"]
    assert [(gt.name, [c.name for c in cands]) for gt, cands in matching.ambiguous] == \
        [("e.png", ["e_x4.png", "e_x8.png"])]
    problems = " ".join(matching.problems())
    assert "d.png" in problems and "zzz.png" in problems and "e_x4.png | " in problems and not matching.complete


def test_eval_writes_the_figures_to_csv_and_json(folders, tmp_path):
    result = evaluate_folders(folders["sr"], folders["gt"], crop_border=4)
    assert result.metrics == ["psnr", "ssim"] and result.notes and "LPIPS column omitted" in result.notes[0]
    by_name = {row["image"]: row for row in result.rows}
    assert by_name["a"]["psnr"] == math.inf and by_name["b"]["psnr"] == pytest.approx(34.1514, abs=1e-4)
    assert by_name["sub/c"]["ssim"] == pytest.approx(1.0)
    # An identical pair's inf is left out of the mean PSNR (else one such pair makes the mean inf), with a note.
    assert by_name["sub/c"]["psnr"] == math.inf and result.mean["psnr"] == pytest.approx(by_name["b"]["psnr"])
    assert any("2 pair(s) are identical (PSNR inf)" in note for note in result.notes)
    assert result.mean["ssim"] == pytest.approx((2 + by_name["b"]["ssim"]) / 3)
    table = result.table()
    assert "mean of 3" in table and "34.15" in table and "LPIPS" not in table

    csv_path, json_path = write_metrics(result, tmp_path / "out")
    with open(csv_path, newline="") as file:
        rows = list(csv.reader(file))
    assert rows[0] == ["image", "sr", "gt", "psnr", "ssim"]
    assert [r[0] for r in rows[1:]] == ["a", "b", "sub/c", "mean"]
    assert rows[1][3] == "inf" and float(rows[2][3]) == pytest.approx(34.1514, abs=1e-4)
    assert rows[2][1].endswith("b_ESRGAN.png") and rows[2][2].endswith("b.png")
    report = json.loads(json_path.read_text())  # strict JSON: inf is written as a string
    assert report["images"][0]["psnr"] == "inf" and report["mean"]["psnr"] == pytest.approx(result.mean["psnr"])
    assert report["images"][1]["psnr"] == pytest.approx(34.1514, abs=1e-4) and report["crop_border"] == 4
    assert [Path(p).name for p in report["missing"]] == ["d.png"] and len(report["extra"]) == 1
    assert list(report["ambiguous"]) == [str(folders["gt"] / "e.png")] and report["notes"]
    assert not list((tmp_path / "out").glob(".*"))  # no temporary left behind


def test_a_size_mismatch_names_both_files_and_the_other_pairs_still_count(folders):
    save_uint8(folders["sr"] / "a.png", texture(40, 44, 0))
    result = evaluate_folders(folders["sr"], folders["gt"])
    assert [row["image"] for row in result.rows] == ["b", "sub/c"] and not result.complete
    assert len(result.failures) == 1
    assert re.search(r"size mismatch: SR '.*a\.png' and GT '.*a\.png'", result.failures[0])


def test_lpips_is_added_when_its_weights_exist(folders, tmp_path):
    pytest.importorskip("lpips")
    # AlexNet's feature convolutions with random weights stand in for the ImageNet ones (no download).
    gen = torch.Generator().manual_seed(0)
    shapes = {0: (64, 3, 11, 11), 3: (192, 64, 5, 5), 6: (384, 192, 3, 3), 8: (256, 384, 3, 3), 10: (256, 256, 3, 3)}
    trunk = {}
    for index, shape in shapes.items():
        trunk[f"features.{index}.weight"] = torch.randn(shape, generator=gen) * 0.05
        trunk[f"features.{index}.bias"] = torch.zeros(shape[0])
    weights = tmp_path / "alexnet.pth"
    torch.save(trunk, weights)
    result = evaluate_folders(folders["sr"], folders["gt"], lpips_weights=weights)
    assert result.metrics == ["psnr", "ssim", "lpips"] and not [n for n in result.notes if "LPIPS" in n]
    by_name = {row["image"]: row for row in result.rows}
    assert by_name["a"]["lpips"] == pytest.approx(0.0, abs=1e-6) and by_name["b"]["lpips"] > 0
    assert "LPIPS" in result.table()
    small = pair_scores(texture(36, 36, 0), texture(36, 36, 1), crop_border=4, lpips=LPIPSLoss(weights))
    assert math.isnan(small["lpips"])  # 28x28 after the crop: too small for AlexNet
    assert evaluate_folders(folders["sr"], folders["gt"], lpips=False, lpips_weights=weights).metrics == \
        ["psnr", "ssim"]


def test_cli_eval_prints_the_table_and_reports_problems(folders, capsys):
    assert main(["eval", "--sr", str(folders["sr"]), "--gt", str(folders["gt"]), "--no-progress"]) == 1
    captured = capsys.readouterr()
    assert "mean of 3" in captured.out and "metrics.csv" in captured.out
    assert "d.png" in captured.err and "zzz.png" in captured.err and "LPIPS column omitted" in captured.err
    assert (folders["sr"] / "metrics.csv").is_file() and (folders["sr"] / "metrics.json").is_file()
    for name in ("d.png", "e.png"):
        (folders["gt"] / name).unlink()
    out = folders["root"] / "scores"
    assert main(["eval", "--sr", str(folders["sr"]), "--gt", str(folders["gt"]), "--crop-border", "2", "--y-channel",
                 "--out", str(out), "--no-progress"]) == 0  # extra SR files alone are only reported
    assert json.loads((out / "metrics.json").read_text())["y_channel"] is True
    assert "zzz.png" in capsys.readouterr().err
    assert main(["eval", "--sr", str(folders["sr"]), "--gt", str(folders["root"] / "none")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err.splitlines()[-1]


# ------------------------------------------------------------------------------------------------------------ sweep










def test_importing_the_modules_loads_neither_basicsr_nor_matplotlib(tmp_path):
    code = ("import sys, probdeg.sr, probdeg.metrics.sr_scores, probdeg.metrics.robustness, probdeg.degrade; "
            "import probdeg.folders; "
            "print(sorted(m for m in ('basicsr', 'lpips', 'matplotlib', 'cv2') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_corrupt_lpips_weights_for_eval_are_one_line(files, tmp_path, capsys):
    corrupt = tmp_path / "alexnet.pth"
    corrupt.write_bytes(b"\x00garbage" * 100)
    gt = tmp_path / "gt"
    for name in LR_NAMES:
        write_image(gt / name, smooth_image(16, 20, 7))
    assert main(["eval", "--sr", str(files["lr"]), "--gt", str(gt), "--lpips-weights", str(corrupt),
                 "--crop-border", "0", "--no-progress", "--device", "cpu"]) == 2
    line = one_error_line(capsys.readouterr().err, "eval")
    assert str(corrupt) in line and "not a readable AlexNet checkpoint" in line


def test_eval_keeps_the_good_pairs_reports_the_mismatch_and_leaves_identical_pairs_out_of_the_mean(tmp_path, capsys):
    sr, gt = tmp_path / "sr", tmp_path / "gt"
    for i, name in enumerate(("a.png", "b.png", "c.png")):
        write_image(gt / name, smooth_image(32, 32, i))
    write_image(sr / "a.png", smooth_image(32, 32, 0))  # identical: PSNR inf
    write_image(sr / "b.png", np.clip(smooth_image(32, 32, 1) + 0.05, 0, 1))
    write_image(sr / "c.png", smooth_image(16, 16, 2))  # another size
    args = ["eval", "--sr", str(sr), "--gt", str(gt), "--crop-border", "0", "--no-lpips", "--no-progress",
            "--device", "cpu"]
    assert main([*args, "--out", str(tmp_path / "metrics")]) == 1
    captured = capsys.readouterr()
    assert "size mismatch" in captured.err and "c.png" in captured.err and "Traceback" not in captured.err
    assert "mean of 2" in captured.out and "inf" not in captured.out.split("mean of 2")[1].splitlines()[0]
    metrics = json.loads((tmp_path / "metrics" / "metrics.json").read_text())
    assert [row["image"] for row in metrics["images"]] == ["a", "b"]
    assert isinstance(metrics["mean"]["psnr"], float) and math.isfinite(metrics["mean"]["psnr"])
    assert metrics["mean"]["psnr"] == pytest.approx(metrics["images"][1]["psnr"])  # a (inf) is left out
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    assert main([*args, "--out", str(blocker / "metrics")]) == 2
    captured = capsys.readouterr()
    assert "mean of 2" in captured.out  # the table came first: no result lost
    assert "a_file" in one_error_line(captured.err, "eval")
