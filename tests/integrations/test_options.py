"""`probdeg.integrations.basicsr.options`: a shorter `train:total_iter` moves the scheduler's decay points with it;
option files that would escape experiments/ or fill the memory; overrides; NaN options."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import yaml
from helpers import (
    TINY,
    tiny_stage1_options,
)

from probdeg.cli import build_parser
from probdeg.errors import OptionError
from probdeg.integrations.basicsr.options import MAX_FILE_BYTES, load_options, read_yaml, scale_schedule
from probdeg.sample_task import make_sample_data


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
    assert opt["train"]["scheduler"]["decay_start"] == before["scheduler"]["decay_start"] * 50 // before["total_iter"]
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
    # A scheduler with a length of its own: lowering train:total_iter stops the run early on the same schedule.
    fixed = {"train": {"total_iter": 6, "scheduler": {"type": "LinearDecay", "decay_start": 1, "total_iter": 100}}}
    assert scale_schedule(fixed, 10, ["train:total_iter=6"]) is None
    assert fixed["train"]["scheduler"] == {"type": "LinearDecay", "decay_start": 1, "total_iter": 100}


def test_a_linear_decay_stays_below_a_tiny_total():
    opt = {"train": {"total_iter": 2, "scheduler": {"type": "LinearDecay", "decay_start": 290}}}
    scale_schedule(opt, 300, ["train:total_iter=2"])
    assert opt["train"]["scheduler"]["decay_start"] == 1


@pytest.mark.parametrize("name", ["../../somedir", "/abs/path", "a/b", ".."])
def test_an_experiment_name_that_leaves_experiments_is_an_option_error(sample_root, name):
    path = tiny_stage1_options(sample_root, "escape")
    opt = yaml.safe_load(path.read_text())
    opt["name"] = name
    path.write_text(yaml.safe_dump(opt))
    with pytest.raises(OptionError, match=r"name: expected a plain folder name"):
        load_options(path, root=sample_root)


def test_a_yaml_alias_bomb_is_refused_with_a_short_message(tmp_path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 9):  # 9 levels of 10: 10**9 values once expanded
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 10) + "]")
    path = tmp_path / "bomb.yml"
    path.write_text("\n".join(lines) + "\n")
    assert path.stat().st_size < 2000
    with pytest.raises(OptionError, match=r"the options expand to [\d,]{13,} values") as err:
        load_options(path, root=tmp_path)
    assert len(str(err.value)) < 500


def test_an_option_file_over_1_mib_is_refused(tmp_path):
    path = tmp_path / "huge.yml"
    path.write_text("name: huge\n" + "# padding\n" * (MAX_FILE_BYTES // 10 + 10))
    assert path.stat().st_size > MAX_FILE_BYTES == 1 << 20
    with pytest.raises(OptionError, match="an option file may have at most 1,048,576"):
        read_yaml(path)


def test_a_bad_value_deep_in_a_big_list_is_named_with_a_short_message(tmp_path):
    opt = yaml.safe_load((TINY / "deg_deresnet_prob.yml").read_text())
    opt["network_g"]["std"] = [0.1] * 20000 + [float("nan")]
    path = tmp_path / "nan_deep.yml"
    path.write_text(yaml.safe_dump(opt))
    with pytest.raises(OptionError, match=r"network_g:std\[20000\]: expected a finite number") as err:
        load_options(path, check_files=False)
    assert len(str(err.value)) < 500
    opt["network_g"]["std"] = 0.1
    opt["train"]["optim_g"]["lr"] = [0.0001] * 30000 + ["x"]
    path.write_text(yaml.safe_dump(opt))
    with pytest.raises(OptionError, match=r"train:optim_g:lr: expected a finite number.*characters\)") as err:
        load_options(path, check_files=False)
    assert len(str(err.value)) < 500, str(err.value)[:1000]


def test_repeated_set_keeps_every_override():
    args = build_parser().parse_args(["train", "-opt", "x.yml", "--set", "name=a", "--set", "train:total_iter=2"])
    assert args.set == ["name=a", "train:total_iter=2"]
    args = build_parser().parse_args(["train", "-opt", "x.yml", "--set", "name=a", "logger:print_freq=3",
                                      "--set", "train:total_iter=2"])
    assert args.set == ["name=a", "logger:print_freq=3", "train:total_iter=2"]
    overrides = [*args.set, "train:scheduler:decay_start=1"]  # the preset decays from 200: below total_iter 2
    opt = load_options(TINY / "deg_deresnet_det.yml", overrides=overrides, check_files=False)
    assert opt["name"] == "a" and opt["train"]["total_iter"] == 2 and opt["logger"]["print_freq"] == 3


@pytest.mark.parametrize("override, key", [("network_g:std=.nan", "network_g:std"),
                                           ("train:optim_g:injection_lr=.nan", "train:optim_g:injection_lr"),
                                           ("train:optim_g:betas=[.nan, 0.999]", "train:optim_g:betas")])
def test_nan_options_are_option_errors_naming_the_key(override, key):
    with pytest.raises(OptionError, match=rf"{key}: expected (a finite number|two numbers)"):
        load_options(TINY / "deg_deresnet_prob.yml", overrides=[override], check_files=False)
