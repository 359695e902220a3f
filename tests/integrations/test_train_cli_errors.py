"""`probdeg train` reports bad options, bad images and a diverging training in one line, exit code 2, no traceback."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytest.importorskip("probdeg.integrations.basicsr")
from helpers import full_disk  # noqa: E402

from probdeg.sample_task import make_sample_data  # noqa: E402

TINY = Path(__file__).resolve().parents[2] / "integrations" / "basicsr" / "options" / "tiny" / "deg_deresnet_det.yml"


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("train_cli")
    make_sample_data(root / "datasets" / "sample", seed=0)
    return root


def _options(root: Path, name: str, **train) -> Path:
    opt = yaml.safe_load(TINY.read_text())
    opt["name"] = name
    opt["network_g"].update(num_feat=8, num_blocks=1)
    opt["network_d"]["num_feat"] = 8
    opt["datasets"]["train"].update(crop_size=32, length=8)
    opt.pop("val")
    opt["train"].update(total_iter=30, scheduler={"type": "MultiStepLR", "milestones": [1000]}, **train)
    path = root / f"{name}.yml"
    path.write_text(yaml.safe_dump(opt))
    return path


def _train_error(root: Path, *args: str) -> str:
    """The error line of a failing `probdeg train`, checked to be the only line of its kind and traceback-free."""
    result = subprocess.run([sys.executable, "-m", "probdeg", "train", *args], cwd=root, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and errors[0] == result.stderr.splitlines()[-1], result.stderr[-3000:]
    assert errors[0].startswith("probdeg train: error: ")
    return errors[0]


def test_an_unknown_option_key(root):
    line = _train_error(root, "-opt", str(_options(root, "unknown")), "--set", "train:total_iters=5")
    assert "train:total_iters: unknown key" in line and "did you mean 'total_iter'?" in line


def test_garbage_yaml_is_folded_onto_one_line(root):
    path = root / "garbage.yml"
    path.write_text("name: x\ndatasets: [unclosed\n  path: {\n")
    assert "is not valid YAML" in _train_error(root, "-opt", str(path))


def test_a_corrupt_training_image(root):
    data = root / "corrupt_data"
    make_sample_data(data, seed=1)
    (data / "train_hr" / "zz_corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 50)
    path = _options(root, "corrupt")
    opt = yaml.safe_load(path.read_text())
    opt["datasets"]["train"].update(dataroot_hr=str(data / "train_hr"), small_images="error")
    path.write_text(yaml.safe_dump(opt))
    line = _train_error(root, "-opt", str(path))
    assert "cannot read image" in line and "zz_corrupt.png" in line


@pytest.mark.slow
def test_a_diverging_training_stops_with_one_line(root):
    # lr 1e30: the first Adam step sends the weights to ~1e30, every loss after it is NaN or Inf.
    path = _options(root, "diverging", optim_g={"type": "Adam", "lr": 1e30}, optim_d={"type": "Adam", "lr": 1e30})
    line = _train_error(root, "-opt", str(path))
    assert "consecutive training steps had a non-finite" in line


# ------------------------------------------------------------------------------------------------------------ issue 30
def _tiny(preset: str) -> dict:
    opt = yaml.safe_load((TINY.parent / preset).read_text())
    opt["datasets"]["train"].update(crop_size=32, length=8)
    opt.pop("val")
    opt["train"].update(total_iter=2, scheduler={"type": "MultiStepLR", "milestones": [1000]})
    if "network_g" in opt:
        opt["network_g"].update(num_feat=8, num_blocks=1)
        opt["network_d"]["num_feat"] = 8
    else:
        opt["network_sr"].update(num_feat=8, num_conv=1)
        opt["degradations"] = [{"generator": "G4.pth"}]
    return opt


def _drop(key):
    return lambda opt: opt.pop(key)


def _put(path, value):
    def change(opt):
        *head, last = path.split(":")
        for key in head:
            opt = opt[key]
        opt[last] = value
    return change


MISTAKES = [  # (name, preset, change, what the line says)
    ("scale", "deg_deresnet_det.yml", _put("scale", 2), "network_g:scale: 4 disagrees with scale: 2"),
    ("sr_scale", "sr_single_prob.yml", _put("scale", 2), "network_sr:upscale: 4 disagrees with scale: 2"),
    ("sr_as_generator", "sr_single_prob.yml", _put("degradations", [{"generator": "SR.pth"}]),
     "SR.pth: cannot infer the scale of RRDBNet"),
    ("x2_generator", "sr_single_prob.yml", _put("degradations", [{"generator": "G2.pth"}]),
     "G2.pth is a x2 degradation generator, but the run's scale is 4"),
    ("junk_generator", "sr_single_prob.yml", _put("degradations", [{"generator": "junk.pth"}]),
     "junk.pth is not a readable PyTorch checkpoint"),
    ("no_network_g", "deg_deresnet_det.yml", _drop("network_g"), "network_g: missing; DegradationGANModel builds it"),
    ("no_network_d", "deg_deresnet_det.yml", _drop("network_d"), "network_d: missing; DegradationGANModel builds it"),
    ("no_model_type", "deg_deresnet_det.yml", _drop("model_type"), "model_type: missing"),
    ("unknown_model", "deg_deresnet_det.yml", _put("model_type", "DegradationGanModel"),
     "unknown model type 'DegradationGanModel' (did you mean 'DegradationGANModel'?)"),
    ("unknown_optimizer", "deg_deresnet_det.yml", _put("train:optim_g", {"type": "Adamm", "lr": 1e-4}),
     "train:optim_g:type: unknown optimiser 'Adamm' (did you mean 'Adam'?)"),
    ("unknown_scheduler", "deg_deresnet_det.yml", _put("train:scheduler", {"type": "Cosine"}),
     "train:scheduler:type: unknown scheduler 'Cosine'"),
    ("unknown_dataset", "deg_deresnet_det.yml", _put("datasets:train:type", "UnpairedDataset"),
     "unknown dataset type 'UnpairedDataset' (did you mean 'UnpairedImageDataset'?)"),
    ("crop_below_filter", "deg_deresnet_det.yml", _put("network_d:kernel_size", 9),
     "crop_size: 32 gives 8x8 LR crops at scale 4, smaller than the 9x9 'gau' filter"),
    ("bicubic_false", "sr_single_prob.yml", _put("degradations", [{"bicubic": False}]),
     "degradations[0]:bicubic: expected true"),
    ("pretrained_junk", "deg_deresnet_det.yml", _put("path:pretrain_network_g", "junk.pth"),
     "cannot load the weights of"),
    ("arch_option", "deg_deresnet_det.yml", _put("network_g:num_blocks", -1), "num_blocks must be a positive integer"),
]


@pytest.fixture(scope="module")
def checkpoints(root) -> Path:
    import torch

    from probdeg.archs import DeResnet, probabilistic_deresnet
    from probdeg.checkpoint import save_checkpoint
    from probdeg.integrations.basicsr import build_network

    net = {"type": "DeResnet", "num_feat": 8, "num_blocks": 1, "scale": 4}
    torch.manual_seed(0)
    save_checkpoint(root / "G4.pth", probabilistic_deresnet(num_feat=8, num_blocks=1, scale=4),
                    {"type": "Probabilistic", "net": net})
    save_checkpoint(root / "G2.pth", DeResnet(num_feat=8, num_blocks=1, scale=2), {**net, "scale": 2})
    rrdb = {"type": "RRDBNet", "num_in_ch": 3, "num_out_ch": 3, "num_feat": 8, "num_block": 1, "num_grow_ch": 4}
    save_checkpoint(root / "SR.pth", build_network(rrdb), rrdb)
    (root / "junk.pth").write_bytes(b"junk")
    return root


@pytest.mark.parametrize("name, preset, change, expected", MISTAKES, ids=[m[0] for m in MISTAKES])
@pytest.mark.usefixtures("quiet_basicsr_logger")  # trains in this process
def test_option_mistakes_are_one_line_before_the_last_run_is_archived(checkpoints, monkeypatch, capsys, name, preset,
                                                                       change, expected):
    from probdeg.cli import main

    root = checkpoints
    monkeypatch.chdir(root)
    opt = _tiny(preset)
    change(opt)
    opt["name"] = f"mistake_{name}"
    path = root / f"mistake_{name}.yml"
    path.write_text(yaml.safe_dump(opt))
    last_good = root / "experiments" / opt["name"]
    (last_good / "models").mkdir(parents=True, exist_ok=True)
    (last_good / "models" / "net_g_latest.pth").write_bytes(b"the last good run")
    assert main(["train", "-opt", str(path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and expected in errors[0], err[-2000:]
    if name.endswith("generator"):
        assert "degradations[0]:generator: " in errors[0]
    assert sorted(p.name for p in (root / "experiments").iterdir() if p.name.startswith(opt["name"])) == [opt["name"]]
    assert (last_good / "models" / "net_g_latest.pth").read_bytes() == b"the last good run"


@pytest.mark.usefixtures("quiet_basicsr_logger")  # trains in this process
def test_a_full_disk_while_saving_a_checkpoint_is_one_line_exit_2_and_keeps_the_last_one(tmp_path, monkeypatch,
                                                                                        capsys):
    from probdeg.archs import DeResnet
    from probdeg.checkpoint import load_network
    from probdeg.cli import main

    make_sample_data(tmp_path / "datasets" / "sample", seed=0)
    opt = yaml.safe_load(TINY.read_text())
    opt["name"] = "full"
    opt["network_g"].update(num_feat=8, num_blocks=1)
    opt["network_d"]["num_feat"] = 8
    opt["datasets"]["train"].update(crop_size=32, length=8)
    opt.pop("val")
    opt["train"].update(total_iter=4, scheduler={"type": "MultiStepLR", "milestones": [1000]})
    opt["logger"].update(print_freq=1, save_checkpoint_freq=2)
    (tmp_path / "opt.yml").write_text(yaml.safe_dump(opt))
    monkeypatch.chdir(tmp_path)
    full_disk(monkeypatch, when=lambda path: "net_g_4" in path.name)  # the second save of G finds the disk full
    assert main(["train", "-opt", "opt.yml", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    models = tmp_path / "experiments" / "full" / "models"
    assert err[-1] == (f"probdeg train: error: no space left on {str(models)!r} to write 'net_g_4.pth': free some "
                       "space and run the command again (an earlier file of that name, if any, is kept)")
    assert "Traceback" not in "\n".join(err)
    assert sorted(p.name for p in models.iterdir()) == ["net_d_2.pth", "net_g_2.pth"]  # no temporary left
    monkeypatch.undo()
    assert isinstance(load_network(models / "net_g_2.pth"), DeResnet)
    assert (tmp_path / "experiments" / "full" / "training_states" / "2.state").is_file()
