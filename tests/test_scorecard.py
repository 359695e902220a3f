"""`probdeg score-generator` (probdeg.metrics.scorecard): the figures on known generators, the files it writes,
and one line for each bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import NET, tiny_generator

from probdeg.archs import DeResnet
from probdeg.checkpoint import save_checkpoint
from probdeg.cli import main
from probdeg.io import read_image, write_image
from probdeg.metrics.scorecard import score_generators

pytestmark = pytest.mark.usefixtures("one_thread")
REAL_NOISE = 0.03


def _smooth(rng: np.random.Generator, size: int) -> np.ndarray:
    """A smooth colour gradient with a few soft blobs: flat enough for the noise estimator, not constant."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    image = np.stack([0.3 + 0.4 * xx, 0.2 + 0.5 * yy, 0.5 + 0.2 * (xx - yy)], axis=-1)
    for _ in range(3):
        cy, cx = rng.random(2)
        image += 0.1 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 0.05)[..., None]
    return image.clip(0, 1).astype(np.float32)


@pytest.fixture(scope="module")
def task(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("scorecard")
    rng = np.random.default_rng(0)
    for i in range(3):
        write_image(root / "hr" / f"hr{i}.png", _smooth(rng, 96))
        noisy = _smooth(rng, 48) + rng.normal(0, REAL_NOISE, (48, 48, 3)).astype(np.float32)
        write_image(root / "real_lr" / f"lr{i}.png", noisy.clip(0, 1))
    save_checkpoint(root / "prob.pth", tiny_generator(), {"type": "Probabilistic", "net": NET})
    torch.manual_seed(0)
    options = {k: v for k, v in NET.items() if k != "type"}
    save_checkpoint(root / "det.pth", DeResnet(**options).eval(), NET)
    (root / "broken.pth").write_bytes(b"not a checkpoint")
    from helpers import rrdb_options, rrdbnet

    save_checkpoint(root / "sr.pth", rrdbnet(), rrdb_options())
    return {"root": root, "hr": root / "hr", "real_lr": root / "real_lr"}


def _run(task: dict[str, Path], *args: str) -> int:
    return main(["score-generator", "--hr", str(task["hr"]), "--real-lr", str(task["real_lr"]), "--samples", "3",
                 "--no-progress", *args])


def test_the_command_writes_its_table_and_pictures_with_the_expected_figures(task, tmp_path, capsys):
    models = f"{task['root'] / 'det.pth'},{task['root'] / 'prob.pth'}"
    assert _run(task, "--model", models, "--out", str(tmp_path / "card")) == 0
    assert "real LR noise level" in capsys.readouterr().out
    card = json.loads((tmp_path / "card" / "scorecard.json").read_text())
    rows = {row["label"]: row for row in card["rows"]}
    assert list(rows) == ["bicubic", "bicubic + noise", "det", "prob"]
    assert card["real_noise_level"] == pytest.approx(REAL_NOISE, rel=0.2)
    assert rows["bicubic"]["rho"] == 0 and rows["det"]["rho"] == 0  # deterministic: the latent is not there
    assert rows["prob"]["rho"] > 0.05  # its latents are strong: samples differ
    assert rows["bicubic + noise"]["rho"] == pytest.approx(1.0, abs=0.3)  # two draws of the real noise level
    assert rows["bicubic + noise"]["noise_ratio"] == pytest.approx(1.0, abs=0.3)
    assert rows["bicubic"]["noise_ratio"] < 0.5  # clean bicubic LR is far quieter than the real LR
    assert rows["bicubic + noise"]["patch_distance"] < rows["bicubic"]["patch_distance"]
    assert rows["bicubic"]["psnr_vs_bicubic"] is None  # identical by construction, not a 120 dB cap
    assert rows["det"]["latent_strength"] == 0 or rows["det"]["latent_strength"] is None
    assert rows["prob"]["latent_strength"] > 0
    markdown = (tmp_path / "card" / "scorecard.md").read_text()
    assert "| prob |" in markdown and "Real LR noise level" in markdown
    assert (tmp_path / "card" / "scorecard.csv").read_text().count("\n") == 5  # header + 4 rows
    for picture in ("noise_levels.png", "grid_det.png", "grid_prob.png"):
        image = read_image(tmp_path / "card" / picture)
        assert image.shape[0] > 100 and image.std() > 0.01, picture  # a drawn picture, not a blank one


def test_labels_name_the_rows(task):
    card, nets = score_generators([task["root"] / "prob.pth"], task["hr"], task["real_lr"], samples=2,
                                  progress=False, labels=["Probabilistic DeResnet"])
    assert [row.label for row in card.rows][2:] == ["Probabilistic DeResnet"]
    assert list(nets) == ["Probabilistic DeResnet"]
    with pytest.raises(ValueError, match="labels"):
        score_generators([task["root"] / "prob.pth"], task["hr"], task["real_lr"], labels=["a", "b"], progress=False)


@pytest.mark.parametrize("case, expected", [
    ("missing folder", "does not exist"),
    ("unreadable checkpoint", "broken.pth"),
    ("not a generator", "is not a degradation generator"),
    ("crop 7", "crop must be at least 64 HR pixels (16 LR pixels at scale 4), or 0 / None for whole images, got 7"),
    ("crop -1", "crop must be at least 64 HR pixels"),
    ("scale 3", "argument --scale: invalid choice: 3 (choose from 2, 4)"),
    ("scale 2 of x4 generators", "scale 2 was asked for, but the generators are x4"),
])
def test_bad_inputs_give_one_line_and_exit_2(task, tmp_path, capsys, case, expected):
    prob = str(task["root"] / "prob.pth")
    args = {"missing folder": ["--model", prob, "--real-lr", str(tmp_path / "nowhere")],
            "unreadable checkpoint": ["--model", str(task["root"] / "broken.pth")],
            "not a generator": ["--model", str(task["root"] / "sr.pth")],
            "crop 7": ["--model", prob, "--crop", "7"], "crop -1": ["--crop", "-1"], "scale 3": ["--scale", "3"],
            "scale 2 of x4 generators": ["--model", prob, "--scale", "2"]}[case]
    if case == "scale 3":  # argparse's own refusal: its usage line, then the error
        with pytest.raises(SystemExit) as exit_:
            _run(task, *args, "--out", str(tmp_path / "card"))
        assert exit_.value.code == 2 and expected in capsys.readouterr().err
        return
    assert _run(task, *args, "--out", str(tmp_path / "card")) == 2
    err = capsys.readouterr().err.strip()
    assert expected in err and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert not (tmp_path / "card").exists()


@pytest.mark.parametrize("crop", [None, 256])
def test_odd_and_prime_sized_folders_are_scored(tmp_path, task, crop):
    rng = np.random.default_rng(1)
    for i, (h, w) in enumerate([(157, 131), (156, 97), (61, 89)]):  # LR 39x32, 39x24, 15x22 after the x4 crop
        write_image(tmp_path / "hr" / f"i{i}.png", _smooth(rng, 160)[:h, :w])
        noisy = _smooth(rng, 48)[: 37 + i, : 41 - 2 * i] + rng.normal(0, REAL_NOISE, (37 + i, 41 - 2 * i, 3))
        write_image(tmp_path / "real_lr" / f"r{i}.png", noisy.clip(0, 1).astype(np.float32))
        write_image(tmp_path / "paired" / f"i{i}.png", _smooth(rng, 48)[: h // 4, : w // 4])
    card, _ = score_generators([task["root"] / "prob.pth"], tmp_path / "hr", tmp_path / "real_lr",
                               paired_lr_dir=tmp_path / "paired", samples=2, crop=crop, progress=False)
    prob = card.row("prob")
    assert card.real_noise_level == pytest.approx(REAL_NOISE, rel=0.3)
    assert all(np.isfinite(getattr(prob, key)) for key in ("color_l1", "rho", "patch_distance", "psnr_lr"))
    assert prob.color_l1 > 0 and card.row("bicubic").color_l1 == 0
