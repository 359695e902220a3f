"""`probdeg.integrations.basicsr.pipeline`: `--launcher slurm` reads SLURM's variables as BasicSR does; the test
phases of the tiny preset score the EMA weights."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
import yaml

from probdeg.checkpoint import save_checkpoint
from probdeg.cli import build_parser
from probdeg.errors import UserError
from probdeg.integrations.basicsr import build_network, resolve_arch
from probdeg.integrations.basicsr.options import read_yaml
from probdeg.integrations.basicsr.pipeline import (
    SLURM_PORT,
    message_logger,
    run_test_phases,
    slurm_environment,
    train,
)
from probdeg.io import read_image
from probdeg.presets import preset_path
from probdeg.sample_task import make_sample_data
from probdeg.sr import sr_folder


def test_slurm_variables_become_torch_distributeds():
    env = {"SLURM_PROCID": "5", "SLURM_NTASKS": "8", "SLURM_LOCALID": "1", "SLURM_NODELIST": "gpu[03-04]"}
    seen = []
    found = slurm_environment(env, lambda nodes: seen.append(nodes) or "gpu03")
    assert found == {"RANK": "5", "WORLD_SIZE": "8", "LOCAL_RANK": "1", "MASTER_ADDR": "gpu03",
                     "MASTER_PORT": str(SLURM_PORT)}
    assert seen == ["gpu[03-04]"]
    given = slurm_environment({**env, "MASTER_PORT": "1234", "MASTER_ADDR": "head"}, lambda nodes: "unused")
    assert given["MASTER_PORT"] == "1234" and given["MASTER_ADDR"] == "head"


def test_slurm_outside_srun_is_one_line():
    with pytest.raises(UserError, match="runs inside srun; SLURM_PROCID, SLURM_NTASKS, SLURM_NODELIST not set"):
        slurm_environment({}, lambda nodes: "")


@pytest.mark.parametrize("command", ["train", "test"])
def test_force_yml_is_basicsrs_name_for_set(command):
    args = build_parser().parse_args([command, "-opt", "x.yml", "--force_yml", "train:total_iter=5", "--set", "a=1"])
    assert args.set == ["train:total_iter=5", "a=1"]
    if command == "train":
        assert build_parser().parse_args(["train", "-opt", "x.yml", "--launcher", "slurm"]).launcher == "slurm"


def test_the_tiny_test_preset_scores_the_ema_weights_as_validation_and_sr_do(tmp_path):
    """test_mssr.yml loads params_ema, as training validation and `probdeg sr` score them (a run's 22.35 dB, not the
    raw weights' 22.31)."""
    make_sample_data(tmp_path / "datasets" / "sample", seed=0)
    preset = preset_path("tiny/test_mssr")
    options = dict(read_yaml(preset)["network_sr"])
    models = []
    for i in range(2):
        torch.manual_seed(10 * i)
        raw, ema = build_network(options), build_network(options)
        path = tmp_path / "experiments" / "tiny_mssr" / "models" / f"net_sr{i}_latest.pth"
        save_checkpoint(path, raw, options, ema=ema)
        models.append(path)
    results = run_test_phases(preset, root=tmp_path)
    sr_folder(models, tmp_path / "datasets" / "sample" / "val_lr", tmp_path / "sr", progress=False,
              resolve=resolve_arch)
    tested = sorted((results / "visualization" / "sample_val").glob("*.png"))
    assert tested
    for path in tested:  # BasicSR names them <stem>_<options name>.png
        ours = tmp_path / "sr" / f"{path.stem.removesuffix('_tiny_test_mssr')}.png"
        assert np.abs(read_image(path) - read_image(ours)).max() <= 1.5 / 255  # the raw weights': 0.11


def test_the_eta_of_the_last_iteration_is_zero_not_minus_one_day():
    opt = {"name": "eta", "logger": {"print_freq": 1, "use_tb_logger": False}, "train": {"total_iter": 10}}
    logger = message_logger(opt, 0, None)
    logger.start_time -= 30  # 3 s an iteration
    lines = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    basicsr_logger = logging.getLogger("basicsr")
    level = basicsr_logger.level
    basicsr_logger.addHandler(handler)
    basicsr_logger.setLevel(logging.INFO)
    try:
        for current in (9, 10):
            logger({"epoch": 0, "iter": current, "lrs": [1e-4], "time": 3.0, "data_time": 0.1})
    finally:
        basicsr_logger.removeHandler(handler)
        basicsr_logger.setLevel(level)
    assert "[eta: 0:00:03," in lines[0] and "[eta: 0:00:00," in lines[1]  # BasicSR's own: 0:00:00, -1 day, 23:59:57


def test_the_last_iteration_is_validated_once(tmp_path):
    """BasicSR's final validation repeated the one the last iteration had just made."""
    make_sample_data(tmp_path / "datasets" / "sample", seed=0)
    opt = yaml.safe_load(preset_path("tiny/deg_deresnet_prob").read_text())
    opt["name"] = "eta"
    opt["network_g"]["net"].update(num_feat=8, num_blocks=2)
    opt["network_d"].update(num_feat=8, kernel_size=5)  # 8-pixel LR crops: a 9x9 filter needs 9
    opt["datasets"]["train"]["crop_size"] = 32
    opt["datasets"]["val"]["crop_size"] = 64
    opt["train"].update(total_iter=4, scheduler={"type": "LinearDecay", "decay_start": 2})
    opt["val"]["val_freq"] = 2
    opt["logger"].update(print_freq=1, save_checkpoint_freq=100)
    (tmp_path / "opt.yml").write_text(yaml.safe_dump(opt))
    train(tmp_path / "opt.yml", root=tmp_path, progress=False, console_log=False)
    log = "\n".join(p.read_text() for p in (tmp_path / "experiments" / "eta").glob("train_*.log"))
    assert log.count("(iter 2)") == 1 and log.count("(iter 4)") == 1
