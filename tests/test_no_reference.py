"""`probdeg.metrics.no_reference` and `probdeg eval` without ground truth: NIQE (BasicSR's) and the LR consistency
(bicubic, or a learned generator), on SR images of LR that has no pairs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import skimage.data
import torch

from probdeg.checkpoint import save_checkpoint
from probdeg.cli import main
from probdeg.errors import UserError
from probdeg.filters import bicubic_downscale
from probdeg.integrations.basicsr.niqe import niqe
from probdeg.io import write_image_array
from probdeg.metrics.no_reference import evaluate_without_gt, generator_degradation, lr_consistency
from probdeg.registry import build_network
from probdeg.tiling import quantise

pytestmark = pytest.mark.usefixtures("one_thread")

GENERATOR = {"type": "DeResnet", "num_feat": 8, "num_blocks": 1, "scale": 4}


def to_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image).permute(2, 0, 1).float() / 255


def to_pixels(image: torch.Tensor) -> np.ndarray:
    return quantise(image).permute(1, 2, 0).numpy()


def test_niqe_runs_on_the_cpu_on_odd_sizes_and_is_nan_below_two_blocks():
    from basicsr.metrics.niqe import calculate_niqe

    photo = skimage.data.astronaut()[:193, :251]
    score = niqe(photo)
    assert math.isfinite(score)
    assert score == pytest.approx(calculate_niqe(photo[:, :, ::-1], 0, input_order="HWC", convert_to="y"))
    noisy = np.clip(photo + np.random.default_rng(0).normal(0, 40, photo.shape), 0, 255).astype(np.uint8)
    assert niqe(noisy) > score + 5  # noise looks less natural
    assert math.isnan(niqe(photo[:150, :150]))  # one 96 x 96 block: BasicSR's fit would fail
    assert math.isfinite(niqe(photo[:96, :192]))


def test_lr_consistency_is_high_for_a_faithful_sr_image_and_low_for_an_invented_one():
    hr = to_tensor(skimage.data.astronaut()[:96, :128])
    lr = to_pixels(bicubic_downscale(hr[None], 4)[0])
    faithful = lr_consistency(hr, lr, bicubic_downscale)
    shifted = lr_consistency(torch.roll(hr, 8, dims=-1), lr, bicubic_downscale)
    assert faithful > 45 and shifted < faithful - 15
    with pytest.raises(UserError, match="not one integer enlargement"):
        lr_consistency(hr[:, :, :127], lr, bicubic_downscale)


def test_the_folders_are_scored_with_bicubic_or_a_generator(tmp_path):
    torch.manual_seed(0)
    generator = build_network(GENERATOR).eval()
    save_checkpoint(tmp_path / "G.pth", generator, GENERATOR)
    photo = skimage.data.astronaut()
    for name, (top, left) in {"a": (0, 0), "sub/b": (200, 160)}.items():
        hr = to_tensor(photo[top:top + 192, left:left + 256].copy())
        with torch.inference_mode():
            lr = to_pixels(generator(hr[None]).clamp(0, 1)[0])  # the real LR: this generator's degradation
        write_image_array(tmp_path / "lr" / f"{name}.png", lr)
        write_image_array(tmp_path / "sr" / f"{name}_out.png", to_pixels(hr))  # Real-ESRGAN's --suffix naming
    bicubic = evaluate_without_gt(tmp_path / "sr", lr_dir=tmp_path / "lr", niqe=niqe)
    learned = evaluate_without_gt(tmp_path / "sr", lr_dir=tmp_path / "lr", niqe=niqe,
                                  degrade=generator_degradation(tmp_path / "G.pth"), degradation="G")
    assert [row["image"] for row in learned.rows] == ["a", "sub/b"] and learned.complete
    # the SR image degraded by the LR's own degradation gives the LR back (to rounding, or exactly: inf)
    assert all(row["lr_psnr"] > 45 for row in learned.rows)
    assert all(row["lr_psnr"] < 40 for row in bicubic.rows)
    assert learned.mean["niqe"] == pytest.approx(bicubic.mean["niqe"]) and math.isfinite(learned.mean["niqe"])


def test_the_cli_writes_the_no_reference_tables(tmp_path, capsys):
    photo = skimage.data.astronaut()[:192, :200]
    write_image_array(tmp_path / "sr" / "a.png", photo)
    write_image_array(tmp_path / "lr" / "a.png", to_pixels(bicubic_downscale(to_tensor(photo)[None], 4)[0]))
    write_image_array(tmp_path / "sr" / "tiny.png", photo[:50, :60])
    assert main(["eval", "--sr", str(tmp_path / "sr"), "--out", str(tmp_path / "out"), "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "NIQE" in captured.out and "undefined (NaN" in captured.err
    text = (tmp_path / "out" / "no_reference.csv").read_text()
    assert text.splitlines()[0] == "image,sr,lr,niqe"
    assert main(["eval", "--sr", str(tmp_path / "sr"), "--lr", str(tmp_path / "lr"), "--out", str(tmp_path / "o2"),
                 "--no-progress", "--crop-border", "0"]) == 0
    assert "LR-PSNR" in capsys.readouterr().out
    assert main(["eval", "--sr", str(tmp_path / "sr"), "--generator", "G.pth"]) == 2
    assert "give --lr LR_DIR too" in capsys.readouterr().err
