"""Option files are validated at load: unknown keys get the closest accepted one, wrong types and ranges say what was
expected, missing data folders and weight files are named; every preset and BasicSR's own keys still load."""

from pathlib import Path

import pytest
import yaml

pytest.importorskip("probdeg.integrations.basicsr")
from probdeg.errors import OptionError
from probdeg.integrations.basicsr.options import load_options  # noqa: E402
from probdeg.sample_task import make_sample_data  # noqa: E402

OPTIONS = Path(__file__).resolve().parents[2] / "integrations" / "basicsr" / "options"
TINY = OPTIONS / "tiny"


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("validation")
    make_sample_data(root / "datasets" / "sample", seed=0)
    (root / "G.pth").write_bytes(b"")  # only its existence is checked at load
    return root


def _write(root: Path, preset: str, change=None) -> Path:
    opt = yaml.safe_load((TINY / preset).read_text())
    if change is not None:
        change(opt)
    path = root / "opt.yml"
    path.write_text(yaml.safe_dump(opt))
    return path


@pytest.mark.parametrize("preset", sorted(p.name for p in TINY.glob("*.yml")))
def test_every_tiny_preset_loads_with_its_data(root, preset):
    def collab_generators(opt):
        # The stage-2 presets read stage-1 generators: point them at a file that exists.
        for entry in opt.get("degradations") or []:
            for source in entry if isinstance(entry, list) else [entry]:
                if "generator" in source:
                    source["generator"] = str(root / "G.pth")
        for key, value in (opt.get("path") or {}).items():
            if key.startswith("pretrain_network") and value is not None:
                opt["path"][key] = None

    path = _write(root, preset, collab_generators)
    load_options(path, root=root, is_train="test" not in preset)


@pytest.mark.parametrize("preset", sorted(p.name for p in OPTIONS.glob("*.yml")))
def test_every_paper_scale_preset_passes_the_key_and_type_checks(root, preset):
    load_options(OPTIONS / preset, root=root, check_files=False, is_train="test" not in preset)


def test_basicsr_s_own_keys_are_accepted(root):
    """A Real-ESRGAN-style file: BasicSR's model, dataset and degradation keys are not probdeg's to refuse."""
    opt = {
        "name": "realesrgan", "model_type": "RealESRGANModel", "scale": 4, "num_gpu": "auto", "manual_seed": 0,
        "high_order_degradation": True, "l1_gt_usm": True, "queue_size": 180, "resize_prob": [0.2, 0.7, 0.1],
        "jpeg_range": [30, 95], "gt_size": 256, "dist_params": {"backend": "nccl", "port": 29500},
        "datasets": {"train": {"name": "DF2K", "type": "RealESRGANDataset", "dataroot_gt": "datasets/sample/train_hr",
                               "io_backend": {"type": "disk"}, "blur_kernel_size": 21, "kernel_list": ["iso"],
                               "sinc_prob": 0.1, "use_hflip": True, "use_rot": False, "batch_size_per_gpu": 4,
                               "num_worker_per_gpu": 2, "dataset_enlarge_ratio": 1, "prefetch_mode": None}},
        "network_g": {"type": "RRDBNet", "num_feat": 64}, "network_d": {"type": "UNetDiscriminatorSN"},
        "path": {"pretrain_network_g": None, "param_key_g": "params_ema", "strict_load_g": True,
                 "resume_state": None, "ignore_resume_networks": ["network_d"]},
        "train": {"ema_decay": 0.999, "optim_g": {"type": "Adam", "lr": "1e-4"},
                  "optim_d": {"type": "Adam", "lr": 1e-4},
                  "scheduler": {"type": "MultiStepLR", "milestones": [400000]}, "total_iter": 400000,
                  "warmup_iter": -1, "pixel_opt": {"type": "L1Loss", "loss_weight": 1.0},
                  "ldl_opt": {"type": "L1Loss", "loss_weight": 1.0}, "net_d_iters": 1, "net_d_init_iters": 0},
        "val": {"val_freq": 5000, "save_img": True, "metrics": {"psnr": {"type": "calculate_psnr"}}},
        "logger": {"print_freq": 100, "save_checkpoint_freq": 5000, "use_tb_logger": True,
                   "wandb": {"project": None, "resume_id": None}},
    }
    path = root / "realesrgan.yml"
    path.write_text(yaml.safe_dump(opt))
    load_options(path, root=root)


def _set(*keys_value):
    *keys, value = keys_value

    def change(opt):
        node = opt
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    return change


def _rename(*keys_new):
    *keys, new = keys_new

    def change(opt):
        node = opt
        for key in keys[:-1]:
            node = node[key]
        node[new] = node.pop(keys[-1])
    return change


UNKNOWN = [  # (preset, change, key path named, closest accepted key)
    ("deg_deresnet_det.yml", _rename("manual_seed", "manual_sed"), "manual_sed", "manual_seed"),
    ("deg_deresnet_det.yml", _rename("datasets", "train", "batch_size_per_gpu", "batch_size_per_gpus"),
     "datasets:train:batch_size_per_gpus", "batch_size_per_gpu"),
    ("deg_deresnet_det.yml", _rename("datasets", "val", "dataroot_real_lr", "dataroot_reallr"),
     "datasets:val:dataroot_reallr", "dataroot_real_lr"),
    ("deg_deresnet_det.yml", _rename("train", "total_iter", "total_iters"), "train:total_iters", "total_iter"),
    ("deg_deresnet_det.yml", _rename("train", "optim_d", "optim_dd"), "train:optim_dd", "optim_d"),
    ("deg_deresnet_det.yml", _rename("val", "val_freq", "val_frq"), "val:val_frq", "val_freq"),
    ("deg_deresnet_det.yml", _rename("logger", "print_freq", "print_frequency"), "logger:print_frequency",
     "print_freq"),
    ("deg_deresnet_det.yml", _rename("path", "resume_state", "resume_stat"), "path:resume_stat", "resume_state"),
    ("sr_bicubic.yml", _rename("collab", "lambda_sup", "lamda_sup"), "collab:lamda_sup", "lambda_sup"),
    ("sr_bicubic.yml", _set("degradations", 0, {"bicubc": True}), "degradations[0]:bicubc", "bicubic"),
    ("sr_bicubic.yml", _rename("train", "ema_decay", "ema_decy"), "train:ema_decy", "ema_decay"),
]


@pytest.mark.parametrize("preset, change, where, closest", UNKNOWN, ids=[u[2] for u in UNKNOWN])
def test_unknown_keys_are_named_with_the_closest_accepted_key(root, preset, change, where, closest):
    path = _write(root, preset, change)
    with pytest.raises(OptionError) as error:
        load_options(path, root=root)
    message = str(error.value)
    assert message.startswith(f"{path}: {where}: unknown key") and f"did you mean {closest!r}?" in message


BAD_VALUES = [  # (preset, change, key path named, what was expected)
    ("deg_deresnet_det.yml", _set("train", "total_iter", "abc"), "train:total_iter", "an integer >= 1"),
    ("deg_deresnet_det.yml", _set("train", "total_iter", -5), "train:total_iter", "an integer >= 1"),
    ("deg_deresnet_det.yml", _set("train", "total_iter", 10**13), "train:total_iter", "at most 10^9"),
    ("deg_deresnet_det.yml", _set("datasets", "train", "batch_size_per_gpu", 0), "datasets:train:batch_size_per_gpu",
     "an integer >= 1"),
    ("deg_deresnet_det.yml", _set("datasets", "train", "crop_size", 30), "datasets:train:crop_size",
     "not a multiple of scale 4"),
    ("deg_deresnet_det.yml", _set("datasets", "train", "small_images", "drop"), "datasets:train:small_images",
     "one of 'skip', 'error'"),
    ("deg_deresnet_det.yml", _set("train", "optim_g", "lr", "fast"), "train:optim_g:lr", "a finite number >= 0"),
    ("deg_deresnet_det.yml", _set("train", "gan_opt", "loss_weight", -0.1), "train:gan_opt:loss_weight",
     "a finite number >= 0"),
    ("deg_deresnet_det.yml", _set("logger", "save_checkpoint_freq", 0), "logger:save_checkpoint_freq",
     "an integer >= 1"),
    ("deg_deresnet_det.yml", _set("datasets", "train", "augment", "yes please"), "datasets:train:augment",
     "true or false"),
    ("deg_deresnet_det.yml", _set("datasets", 7), "datasets", "a mapping of keys"),
    ("sr_bicubic.yml", _set("collab", "lambda_col", -1), "collab:lambda_col", "a finite number >= 0"),
    ("sr_bicubic.yml", _set("num_models", 0), "num_models", "an integer >= 1"),
    ("sr_bicubic.yml", _set("num_models", 2), "degradations", "1 entries for num_models: 2"),
    ("sr_bicubic.yml", _set("train", "ema_decay", 1.5), "train:ema_decay", "a finite number >= 0 and < 1"),
    ("sr_bicubic.yml", _set("train", "autocast", "fp16"), "train:autocast", "one of auto, bf16, off"),
    ("deg_han_prob.yml", _set("train", "autocast", "fp32"), "train:autocast", "one of auto, bf16, off"),
]


@pytest.mark.parametrize("preset, change, where, expected", BAD_VALUES, ids=[b[2] for b in BAD_VALUES])
def test_wrong_types_and_ranges_name_the_key_and_what_was_expected(root, preset, change, where, expected):
    path = _write(root, preset, change)
    with pytest.raises(OptionError) as error:
        load_options(path, root=root)
    assert str(error.value).startswith(f"{path}: {where}: ") and expected in str(error.value)


MISSING = [
    ("deg_deresnet_det.yml", _set("datasets", "train", "dataroot_hr", "datasets/nowhere"), "datasets:train:dataroot_hr",
     "folder not found: datasets/nowhere"),
    ("deg_deresnet_det.yml", _set("path", "pretrain_network_g", "weights/G_missing.pth"), "path:pretrain_network_g",
     "file not found: weights/G_missing.pth"),
    ("sr_bicubic.yml", _set("degradations", 0, {"generator": "experiments/missing/net_g_latest.pth"}),
     "degradations[0]:generator", "file not found: experiments/missing/net_g_latest.pth"),
]


@pytest.mark.parametrize("preset, change, where, named", MISSING, ids=[m[2] for m in MISSING])
def test_missing_data_folders_and_weight_files_are_named(root, preset, change, where, named):
    path = _write(root, preset, change)
    with pytest.raises(OptionError) as error:
        load_options(path, root=root)
    assert str(error.value).startswith(f"{path}: {where}: {named}")
    assert isinstance(error.value, ValueError)


@pytest.mark.parametrize("content, message", [(b"name: x\nlr: !!float 1e-4z\n", "a value could not be read"),
                                              (b"name: \xff\xfe x\n", "is not UTF-8 text")])
def test_unreadable_yaml_values_and_bytes_are_option_errors(tmp_path, content, message):
    path = tmp_path / "opt.yml"
    path.write_bytes(content)
    with pytest.raises(OptionError, match=message):
        load_options(path, root=tmp_path)


def test_fewer_pretrained_sr_files_than_models_is_one_line_for_probdeg_test(root, capsys, monkeypatch):
    from probdeg.cli import main

    (root / "net_sr0.pth").write_bytes(b"")  # only its existence is checked at load
    path = _write(root, "test_mssr.yml", _set("path", "pretrain_network_sr", ["net_sr0.pth"]))  # num_models: 2
    with pytest.raises(OptionError, match=r"path:pretrain_network_sr: 1 file\(s\) for 2 models"):
        load_options(path, root=root, is_train=False)
    monkeypatch.chdir(root)
    assert main(["test", "-opt", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "1 file(s) for 2 models" in err
    assert not (root / "results").exists()
