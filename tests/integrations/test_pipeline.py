"""`probdeg.integrations.basicsr.pipeline`: `--launcher slurm` reads SLURM's variables as BasicSR does; the test
phases of the tiny preset score the EMA weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from probdeg.checkpoint import save_checkpoint
from probdeg.cli import build_parser
from probdeg.errors import UserError
from probdeg.integrations.basicsr import build_network, resolve_arch
from probdeg.integrations.basicsr.options import read_yaml
from probdeg.integrations.basicsr.pipeline import SLURM_PORT, run_test_phases, slurm_environment
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
