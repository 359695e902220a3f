"""`probdeg.integrations.basicsr.options`: a shorter `train:total_iter` moves the scheduler's decay points with it."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from probdeg.integrations.basicsr.options import load_options, read_yaml, scale_schedule
from probdeg.sample_task import make_sample_data

TINY = Path(__file__).resolve().parents[2] / "probdeg" / "presets" / "tiny"


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("options")
    make_sample_data(root / "datasets" / "sample", seed=0)
    return root


def test_a_shorter_total_iter_scales_the_linear_decay_and_says_so(root):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        opt = load_options(TINY / "deg_deresnet_prob.yml", root=root, overrides=["train:total_iter=50"])
    before = read_yaml(TINY / "deg_deresnet_prob.yml")["train"]
    assert opt["train"]["scheduler"]["decay_start"] == round(before["scheduler"]["decay_start"] * 50
                                                             / before["total_iter"])
    lines = [str(w.message) for w in caught if "total_iter" in str(w.message)]
    assert len(lines) == 1 and "decay_start" in lines[0] and "-> 50" in lines[0]


def test_milestones_scale_and_an_explicit_scheduler_is_left_alone():
    opt = {"train": {"total_iter": 3000, "scheduler": {"type": "MultiStepLR", "milestones": [1500, 2700]}}}
    note = scale_schedule(opt, 6000, ["train:total_iter=3000"])
    assert opt["train"]["scheduler"]["milestones"] == [750, 1350] and "milestones" in note
    chosen = {"train": {"total_iter": 10, "scheduler": {"type": "LinearDecay", "decay_start": 5}}}
    assert scale_schedule(chosen, 300, ["train:total_iter=10", "train:scheduler:decay_start=5"]) is None
    assert chosen["train"]["scheduler"]["decay_start"] == 5
    untouched = {"train": {"total_iter": 300, "scheduler": {"type": "LinearDecay", "decay_start": 200}}}
    assert scale_schedule(untouched, 300, ["train:ema_decay=0.9"]) is None


def test_a_linear_decay_stays_below_a_tiny_total():
    opt = {"train": {"total_iter": 2, "scheduler": {"type": "LinearDecay", "decay_start": 290}}}
    scale_schedule(opt, 300, ["train:total_iter=2"])
    assert opt["train"]["scheduler"]["decay_start"] == 1
