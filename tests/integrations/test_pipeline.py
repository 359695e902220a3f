"""`probdeg.integrations.basicsr.pipeline`: `--launcher slurm` reads SLURM's variables as BasicSR does; the test
phases of the tiny preset score the EMA weights; train's checks run before any folder is made; Ctrl-C, --root and
a corrupt newest training state."""

from __future__ import annotations

import logging
import re

import numpy as np
import pytest
import torch
import yaml
from helpers import (
    marked,
    one_error_line,
    run_train,
    tiny_stage1_options,
    untouched,
)

from probdeg.checkpoint import save_checkpoint
from probdeg.cli import build_parser, main
from probdeg.errors import OptionError, UserError
from probdeg.integrations.basicsr import build_network, resolve_arch
from probdeg.integrations.basicsr.options import read_yaml
from probdeg.integrations.basicsr.pipeline import (
    SLURM_PORT,
    check_devices,
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


def test_train_refuses_an_escaping_name_before_touching_the_folder_it_names(sample_root, tmp_path, monkeypatch,
                                                                             capsys):
    monkeypatch.chdir(sample_root)
    experiments = sample_root / "experiments"
    absolute = marked(tmp_path / "absolute_target")
    # where experiments/<name> would point: each holds a marker and must be neither renamed nor archived
    targets = {"../../somedir": marked(sample_root.parent / "somedir"), str(absolute): absolute,
               "a/b": marked(experiments / "a" / "b"), "..": marked(sample_root)}
    path = tiny_stage1_options(sample_root, "escape_cli")
    for name, target in targets.items():
        assert main(["train", "-opt", str(path), "--set", f"name={name}"]) == 2
        line = one_error_line(capsys.readouterr().err, "train")
        assert "name: expected a plain folder name" in line
        assert untouched(target), name
    assert not (experiments / "escape_cli").exists()


def test_ctrl_c_in_train_says_how_to_resume(monkeypatch, capsys):
    from probdeg.cli import train

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(train, "run", interrupted)
    assert main(["train", "-opt", "x.yml"]) == 130
    err = capsys.readouterr().err
    assert "interrupted; add --auto_resume to the same command" in err and "Traceback" not in err
    assert main(["train", "-opt", "x.yml", "--auto_resume"]) == 130
    err = capsys.readouterr().err
    assert "interrupted; the same command resumes from the last saved training state" in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_num_gpu_without_cuda_is_an_option_error(sample_root, monkeypatch, capsys):
    with pytest.raises(OptionError, match="num_gpu: 1, but PyTorch sees 0 CUDA"):
        check_devices({"num_gpu": 1}, "opt.yml")
    monkeypatch.chdir(sample_root)
    path = tiny_stage1_options(sample_root, "num_gpu")
    assert main(["train", "-opt", str(path), "--set", "num_gpu=1"]) == 2
    assert "num_gpu: 1" in one_error_line(capsys.readouterr().err, "train")
    assert not (sample_root / "experiments" / "num_gpu").exists()


def test_corrupt_pretrained_weights_are_one_line_naming_the_file(sample_root, monkeypatch, capsys,
                                                                 quiet_basicsr_logger):
    monkeypatch.chdir(sample_root)
    corrupt = sample_root / "corrupt_g.pth"
    corrupt.write_bytes(b"not a checkpoint at all" * 40)
    path = tiny_stage1_options(sample_root, "corrupt_pretrain")
    assert main(["train", "-opt", str(path), "--set", f"path:pretrain_network_g={corrupt}"]) == 2
    line = one_error_line(capsys.readouterr().err, "train")
    assert str(corrupt) in line and "cannot load the weights" in line


@pytest.fixture(scope="module")
def rooted_run(sample_root, tmp_path_factory) -> dict:
    """A 2-iteration stage-1 training whose option file has relative dataroots, run with --root from another
    folder."""
    path = tiny_stage1_options(sample_root, "rooted", total_iter=2)
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    result = run_train(elsewhere, "-opt", str(path), "--root", str(sample_root))
    return {"result": result, "options": path, "elsewhere": elsewhere,
            "experiment": sample_root / "experiments" / "rooted"}


def test_train_root_reads_relative_dataroots_from_the_root(rooted_run):
    result = rooted_run["result"]
    assert result.returncode == 0, result.stderr[-3000:]
    assert (rooted_run["experiment"] / "models" / "net_g_2.pth").is_file()
    assert (rooted_run["experiment"] / "training_states" / "2.state").is_file()
    assert not (rooted_run["elsewhere"] / "experiments").exists()


def test_a_corrupt_newest_training_state_does_not_block_auto_resume(rooted_run, sample_root):
    assert rooted_run["result"].returncode == 0, rooted_run["result"].stderr[-3000:]
    states = rooted_run["experiment"] / "training_states"
    good = (states / "2.state").read_bytes()
    (states / "4.state").write_bytes(good[: len(good) // 2])  # truncated: a newer state, unreadable
    logs = set(rooted_run["experiment"].glob("train_*.log"))
    result = run_train(sample_root, "-opt", str(rooted_run["options"]), "--root", str(sample_root), "--auto_resume",
                    "--set", "train:total_iter=3")
    assert result.returncode == 0, result.stderr[-3000:]
    warning = [line for line in result.stderr.splitlines() if "4.state" in line]
    assert warning and "resuming from an older state" in warning[0], result.stderr[-3000:]
    new_log = "\n".join(p.read_text() for p in set(rooted_run["experiment"].glob("train_*.log")) - logs)
    assert re.search(r"Resuming training from epoch: \d+, iter: 2\.", new_log), new_log[-2000:]
    assert "iter:       3," in new_log and "iter:       1," not in new_log


@pytest.mark.parametrize("check", ["lpips weights", "decay_start", "batch"])
def test_checks_run_before_the_experiment_folders_are_made(sample_root, tmp_path, monkeypatch, capsys,
                                                           quiet_basicsr_logger, check):
    monkeypatch.chdir(sample_root)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_torch_home"))
    name = f"early_{check.replace(' ', '_')}"
    overrides, expected = {
        "lpips weights": (["train:perceptual_opt:loss_weight=1"], "LPIPS needs the AlexNet weights"),
        "decay_start": (["train:scheduler={type: LinearDecay, decay_start: 30}"], "30 must be below total_iter 30"),
        "batch": (["datasets:train:length=2", "datasets:train:batch_size_per_gpu=4"], "yields no batch"),
    }[check]
    path = tiny_stage1_options(sample_root, name)
    experiment = sample_root / "experiments" / name
    args = ["train", "-opt", str(path), "--set", *overrides]
    assert main(args) == 2
    assert expected in one_error_line(capsys.readouterr().err, "train")
    assert not experiment.exists()
    marked(experiment)
    assert main(args) == 2
    assert expected in one_error_line(capsys.readouterr().err, "train")
    assert untouched(experiment)
