"""probdeg.demo.scoring: the demo's report figures on validation folders of any image size."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from helpers import NET, rrdb_options, rrdbnet, tiny_generator

pytest.importorskip("probdeg.integrations.basicsr")

from probdeg.checkpoint import save_checkpoint  # noqa: E402
from probdeg.demo import scoring  # noqa: E402
from probdeg.demo.plan import GENERATORS  # noqa: E402
from probdeg.demo.stages import Records, StageRecord  # noqa: E402
from probdeg.demo.task import DemoData  # noqa: E402
from probdeg.io import read_image, write_image  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")
LR_SIZES = [(39, 37), (41, 43), (32, 29)]  # odd and prime LR sides (a user's photos: the 64x39 crash)


@pytest.fixture(scope="module")
def odd_task(tmp_path_factory) -> tuple[Path, DemoData, Records]:
    root = tmp_path_factory.mktemp("odd demo")
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate(LR_SIZES):
        write_image(root / "val_lr" / f"i{i}.png", rng.random((h, w, 3)).astype(np.float32))
        write_image(root / "val_hr" / f"i{i}.png", rng.random((h * 4, w * 4, 3)).astype(np.float32))
        write_image(root / "train_lr" / f"t{i}.png", rng.random((h + 2, w, 3)).astype(np.float32))
    save_checkpoint(root / "G.pth", tiny_generator(), {"type": "Probabilistic", "net": NET})
    save_checkpoint(root / "SR.pth", rrdbnet(), rrdb_options())
    data = DemoData(root / "val_hr", root / "train_lr", root / "val_hr", root / "val_lr", "odd", "odd")
    records = Records()
    records.add(StageRecord("sr_single_prob", {}, "id", 1.0, models=(root / "SR.pth",)))
    return root, data, records


def test_every_method_is_scored_on_odd_sized_images(odd_task):
    root, data, records = odd_task
    scores = scoring.score_methods(root / "out", data, records, progress=False)
    assert set(scores) == {"bicubic", "single_prob"}
    for row in scores.values():
        assert len(row["per_image"]) == len(LR_SIZES) and math.isfinite(row["psnr"]) and 0 < row["ssim"] < 1
    for i, (h, w) in enumerate(LR_SIZES):
        assert read_image(root / "out" / "sr" / "single_prob" / f"i{i}.png").shape == (h * 4, w * 4, 3)


def test_the_generator_scorecard_takes_odd_sized_validation_images(odd_task):
    root, data, _ = odd_task
    card = scoring.demo_scorecard(root / "out", data, {run.key: root / "G.pth" for run in GENERATORS}, seed=0)
    for key in ("bicubic_noise",) + tuple(run.key for run in GENERATORS):
        row = card["rows"][key]
        assert math.isfinite(row["color_l1"]) and math.isfinite(row["psnr_lr"]) and row["color_l1"] > 0
    assert all(Path(path).is_file() for path in card["grids"].values())


def test_the_robustness_sweep_takes_odd_sized_images(odd_task):
    root, data, records = odd_task
    sweep = scoring.robustness(root / "out", data, records, seed=0, progress=False)
    assert len(sweep["psnr"]) == 2 and all(math.isfinite(v) for curve in sweep["psnr"].values() for v in curve)
