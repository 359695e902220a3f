"""Reliability of the commands: reruns into a used folder, locks, option files that would escape experiments/ or fill
the memory, Ctrl-C, memory bounded by tiles, out-of-memory and crash messages, eval keeping the good pairs, NaN
options, a corrupt training state, progress bars off a terminal, checks before the experiment folders, stale
temporaries and the help texts. One test per case; each says what it checks."""

from __future__ import annotations

import io
import json
import logging
import math
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from helpers import NET, rrdb_options, rrdbnet, tiny_generator

from probdeg.checkpoint import file_digest, load_checkpoint, load_network, save_checkpoint
from probdeg.cli import build_parser, main
from probdeg.degrade import degrade_folder
from probdeg.errors import OptionError, UserError
from probdeg.io import read_image, write_image

pytest.importorskip("probdeg.integrations.basicsr")
from probdeg.integrations.basicsr.options import MAX_FILE_BYTES, load_options, read_yaml  # noqa: E402
from probdeg.integrations.basicsr.pipeline import check_devices  # noqa: E402
from probdeg.sample_task import make_sample_data  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "integrations" / "basicsr" / "options" / "tiny"
HR_NAMES = ("a.png", "b.png", "sub/c.png")
LR_NAMES = ("a.png", "sub/b.png")


# ------------------------------------------------------------------------------------------------------------ helpers
def _smooth(h: int, w: int, seed: int = 0) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w] / 11.0
    image = 0.5 + 0.3 * np.sin(yy[..., None] + xx[..., None] * np.array([1.0, 0.7, 0.4]))
    return np.clip(image + 0.1 * np.random.default_rng(seed).random((h, w, 3)), 0, 1).astype(np.float32)


def _one_error(err: str, command: str) -> str:
    """The error line of a failed command, checked to be its only one and traceback-free."""
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1, err
    assert errors[0].startswith(f"probdeg {command}: error: "), err
    return errors[0]


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _pngs(folder: Path) -> dict[str, bytes]:
    return {name: data for name, data in _files(folder).items() if name.endswith(".png")}


def _manifest(folder: Path) -> dict:
    return json.loads((folder / ".probdeg.json").read_text())


def _folder_args(command: str, model: Path, source: Path, out: Path, *extra: str) -> list[str]:
    return [command, "--model", str(model), "--input", str(source), "--output", str(out), "--device", "cpu",
            "--no-progress", *extra]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """Two generators, two SR nets (tiny), a folder of HR and one of LR images."""
    root = tmp_path_factory.mktemp("reliability_files")
    generator = tiny_generator()
    save_checkpoint(root / "G.pth", generator, {"type": "Probabilistic", "net": NET})
    with torch.no_grad():
        next(generator.parameters()).add_(0.05)
    save_checkpoint(root / "G2.pth", generator, {"type": "Probabilistic", "net": NET})
    save_checkpoint(root / "SR.pth", rrdbnet(seed=0), rrdb_options())
    save_checkpoint(root / "SR2.pth", rrdbnet(seed=1), rrdb_options())
    for i, name in enumerate(HR_NAMES):
        write_image(root / "hr" / name, _smooth(48, 48, i))
    for i, name in enumerate(LR_NAMES):
        write_image(root / "lr" / name, _smooth(16, 20, i))
    return {"root": root, "G": root / "G.pth", "G2": root / "G2.pth", "SR": root / "SR.pth", "SR2": root / "SR2.pth",
            "hr": root / "hr", "lr": root / "lr"}


@pytest.fixture(scope="module")
def sample_root(tmp_path_factory) -> Path:
    """A folder with datasets/sample (probdeg sample-data), where option files with relative dataroots run."""
    root = tmp_path_factory.mktemp("reliability_train") / "work"
    make_sample_data(root / "datasets" / "sample", seed=0)
    return root


def _options(root: Path, name: str, **train) -> Path:
    """The tiny deterministic stage-1 preset, shrunk to a few seconds (no validation), with relative dataroots."""
    opt = yaml.safe_load((TINY / "deg_deresnet_det.yml").read_text())
    opt["name"] = name
    opt["network_g"].update(num_feat=8, num_blocks=1)
    opt["network_d"]["num_feat"] = 8
    opt["datasets"]["train"].update(crop_size=32, length=8)
    opt.pop("val")
    opt["train"].update({"total_iter": 30, "scheduler": {"type": "MultiStepLR", "milestones": [1000]}, **train})
    opt["logger"].update(print_freq=1, save_checkpoint_freq=2)
    path = root / f"{name}.yml"
    path.write_text(yaml.safe_dump(opt))
    return path


def _train(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "probdeg", "train", *args, "--no-progress"], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def quiet_basicsr_logger():
    """BasicSR's console logger bound to the real stderr, not to a test's captured stream that closes after it (an
    in-process training would otherwise leave it writing to a closed file)."""
    from basicsr.utils import get_root_logger

    saved, sys.stderr = sys.stderr, sys.__stderr__
    try:
        logger = get_root_logger(logger_name="basicsr")
    finally:
        sys.stderr = saved
    for handler in logger.handlers:
        if type(handler) is logging.StreamHandler:
            handler.setStream(sys.__stderr__)
    yield
    for handler in [h for h in logger.handlers if isinstance(h, logging.FileHandler)]:
        logger.removeHandler(handler)
        handler.close()


def _untouched(folder: Path) -> bool:
    """``folder`` still holds its marker file, and no ``<folder>_archived_*`` sibling was made."""
    return (folder / "marker.txt").read_text() == "keep" and not list(folder.parent.glob(f"{folder.name}_archived_*"))


def _marked(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "marker.txt").write_text("keep")
    return folder


# ------------------------------------------------------------------------------------------------------------ 1
def test_rerun_with_other_settings_is_refused_until_overwrite_and_same_settings_resume(files, tmp_path, capsys):
    out = tmp_path / "lr"
    run = lambda *extra, model=files["G"]: main(_folder_args("degrade", model, files["hr"], out, *extra))  # noqa: E731
    assert run() == 0
    before = _files(out)
    assert len(_pngs(out)) == len(HR_NAMES)
    capsys.readouterr()
    for extra, model, differs in ((["--seed", "1"], files["G"], "seed: 0 there, 1 now"),
                                  (["--samples", "2"], files["G"], "samples: 1 there, 2 now"),
                                  ([], files["G2"], "model_sha256: ")):
        assert run(*extra, model=model) == 2
        line = _one_error(capsys.readouterr().err, "degrade")
        assert differs in line and "--overwrite" in line, line
        assert _files(out) == before  # nothing written, nothing deleted
    assert run("--seed", "1", "--overwrite") == 0
    after = _pngs(out)
    assert sorted(after) == sorted(name for name in before if name.endswith(".png"))
    assert all(after[name] != before[name] for name in after)  # replaced by the seed-1 samples
    assert _manifest(out)["seed"] == 1
    capsys.readouterr()
    (out / "b.png").unlink()
    assert run("--seed", "1") == 0  # same settings: resumes
    assert "degrade: 1 written, 2 skipped, 0 failed" in capsys.readouterr().out
    assert _pngs(out) == after
    assert run("--seed", "1", "--samples", "2", "--overwrite") == 0
    names = sorted(_pngs(out))
    assert names == sorted(f"{Path(n).with_suffix('').as_posix()}_s{k}.png" for n in HR_NAMES for k in range(2))
    assert _manifest(out)["samples"] == 2


def test_sr_rerun_with_another_model_or_tile_is_refused_until_overwrite(files, tmp_path, capsys):
    out = tmp_path / "sr"
    run = lambda *extra, model=files["SR"]: main(_folder_args("sr", model, files["lr"], out, *extra))  # noqa: E731
    assert run() == 0
    before = _files(out)
    capsys.readouterr()
    for extra, model, differs in (([], files["SR2"], "models_sha256: "), (["--tile", "8"], files["SR"],
                                                                          "tile: None there, 8 now")):
        assert run(*extra, model=model) == 2
        line = _one_error(capsys.readouterr().err, "sr")
        assert differs in line and "--overwrite" in line, line
        assert _files(out) == before
    assert run("--overwrite", model=files["SR2"]) == 0
    after = _pngs(out)
    assert sorted(after) == sorted(LR_NAMES) and all(after[n] != before[n] for n in after)
    assert _manifest(out)["models_sha256"] == [file_digest(files["SR2"])]
    (out / "a.png").unlink()
    capsys.readouterr()
    assert run(model=files["SR2"]) == 0
    assert "sr: 1 written, 1 skipped, 0 failed" in capsys.readouterr().out
    for name in LR_NAMES:  # the tiled outputs may equal the untiled ones: mark the old files to see them replaced
        (out / name).write_bytes(b"old output")
    assert run("--tile", "8", "--overwrite", model=files["SR2"]) == 0
    assert _manifest(out)["tile"] == 8 and sorted(_pngs(out)) == sorted(LR_NAMES)
    assert all(read_image(out / name).shape == (64, 80, 3) for name in LR_NAMES)  # rewritten


# ------------------------------------------------------------------------------------------------------------ 2
def test_two_jobs_cannot_write_one_folder_at_once(files, tmp_path):
    fcntl = pytest.importorskip("fcntl")
    out = tmp_path / "lr"
    out.mkdir()
    with open(out / ".probdeg.lock", "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # as another running job holds it
        with pytest.raises(UserError, match="another probdeg command is writing"):
            degrade_folder(files["G"], files["hr"], out, progress=False)
        assert not _pngs(out) and not (out / ".probdeg.json").exists()
    assert degrade_folder(files["G"], files["hr"], out, progress=False)["written"] == len(HR_NAMES)  # released


# ------------------------------------------------------------------------------------------------------------ 3
@pytest.mark.parametrize("name", ["../../somedir", "/abs/path", "a/b", ".."])
def test_an_experiment_name_that_leaves_experiments_is_an_option_error(sample_root, name):
    path = _options(sample_root, "escape")
    opt = yaml.safe_load(path.read_text())
    opt["name"] = name
    path.write_text(yaml.safe_dump(opt))
    with pytest.raises(OptionError, match=r"name: expected a plain folder name"):
        load_options(path, root=sample_root)


def test_train_refuses_an_escaping_name_before_touching_the_folder_it_names(sample_root, tmp_path, monkeypatch,
                                                                             capsys):
    monkeypatch.chdir(sample_root)
    experiments = sample_root / "experiments"
    absolute = _marked(tmp_path / "absolute_target")
    # where experiments/<name> would point: each holds a marker and must be neither renamed nor archived
    targets = {"../../somedir": _marked(sample_root.parent / "somedir"), str(absolute): absolute,
               "a/b": _marked(experiments / "a" / "b"), "..": _marked(sample_root)}
    path = _options(sample_root, "escape_cli")
    for name, target in targets.items():
        assert main(["train", "-opt", str(path), "--set", f"name={name}"]) == 2
        line = _one_error(capsys.readouterr().err, "train")
        assert "name: expected a plain folder name" in line
        assert _untouched(target), name
    assert not (experiments / "escape_cli").exists()


# ------------------------------------------------------------------------------------------------------------ 4
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


# ------------------------------------------------------------------------------------------------------------ 5
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


# ------------------------------------------------------------------------------------------------------------ 6
def test_repeated_set_keeps_every_override():
    args = build_parser().parse_args(["train", "-opt", "x.yml", "--set", "name=a", "--set", "train:total_iter=2"])
    assert args.set == ["name=a", "train:total_iter=2"]
    args = build_parser().parse_args(["train", "-opt", "x.yml", "--set", "name=a", "logger:print_freq=3",
                                      "--set", "train:total_iter=2"])
    assert args.set == ["name=a", "logger:print_freq=3", "train:total_iter=2"]
    overrides = [*args.set, "train:scheduler:decay_start=1"]  # the preset decays from 200: below total_iter 2
    opt = load_options(TINY / "deg_deresnet_det.yml", overrides=overrides, check_files=False)
    assert opt["name"] == "a" and opt["train"]["total_iter"] == 2 and opt["logger"]["print_freq"] == 3


# ------------------------------------------------------------------------------------------------------------ 7
MEMORY_CHILD = textwrap.dedent("""
    import sys
    import torch
    import probdeg.integrations.basicsr  # what `probdeg sr` loads for this checkpoint, before the baseline
    from probdeg.cli import main

    def high_water_mark():  # KiB. Not ru_maxrss: Linux carries the forking parent's (pytest's) RSS over into it
        return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))

    torch.set_num_threads(1)
    baseline = high_water_mark()
    code = main(sys.argv[1:])
    print("MEMORY", code, baseline, high_water_mark())
""")


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/status")
def test_tiles_bound_the_memory_of_a_large_image(tmp_path):
    from probdeg.integrations.basicsr import build_network

    side = 2048  # LR; the x4 output is 8192x8192
    options = {"type": "SRVGGNetCompact", "num_in_ch": 3, "num_out_ch": 3, "num_feat": 4, "num_conv": 1, "upscale": 4,
               "act_type": "prelu"}
    torch.manual_seed(0)
    net = build_network(options).eval()
    with torch.no_grad():  # a zero residual: the output is the nearest upsampling, whose PNG stays small (the
        net.body[-1].weight.zero_()  # figures then show the SR pass, not the PNG encoder's buffer)
        net.body[-1].bias.zero_()
    save_checkpoint(tmp_path / "sr.pth", net, options)
    yy, xx = np.mgrid[0:side, 0:side] / 97.0
    write_image(tmp_path / "lr" / "a.png",
                (0.5 + 0.4 * np.sin(yy[..., None] + xx[..., None] * np.array([1.0, 0.7, 0.4]))).astype(np.float32))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    runs = {}
    for label, extra in (("untiled", []), ("tiled", ["--tile", "256"])):
        args = _folder_args("sr", tmp_path / "sr.pth", tmp_path / "lr", tmp_path / label, *extra)
        runs[label] = subprocess.Popen([sys.executable, "-c", MEMORY_CHILD, *args], stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True, env=env)
    figures = {}
    for label, proc in runs.items():
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]
        code, baseline, peak = (int(v) for v in out.split("MEMORY")[1].split())
        assert code == 0, err[-3000:]
        figures[label] = (baseline / 1024, peak / 1024)
    float_output = 3 * (4 * side) ** 2 * 4 / 2**20  # MiB of a float32 copy of the output
    grown = {label: peak - baseline for label, (baseline, peak) in figures.items()}
    print(f"\nsr of one {side}x{side} LR image (x4: {4 * side}x{4 * side}); a float32 copy of the output is "
          f"{float_output:.0f} MiB")
    for label, (baseline, peak) in figures.items():
        print(f"  {label:>8}: baseline {baseline:.0f} MiB, peak {peak:.0f} MiB (+{grown[label]:.0f} MiB)")
    assert grown["tiled"] < grown["untiled"] / 2
    assert grown["tiled"] < float_output
    assert (tmp_path / "tiled" / "a.png").read_bytes() == (tmp_path / "untiled" / "a.png").read_bytes()


def test_samples_run_in_chunks_of_batch_with_the_same_outputs(files, tmp_path, monkeypatch):
    import probdeg.degrade as degrade

    sizes = []
    real = degrade.degrade_batch

    def spy(G, hr, seeds, **kwargs):
        sizes.append(hr.shape[0])
        return real(G, hr, seeds, **kwargs)

    monkeypatch.setattr(degrade, "degrade_batch", spy)
    source = tmp_path / "hr"
    write_image(source / "a.png", _smooth(48, 48))
    outputs = {}
    for batch in (2, 8):
        sizes.clear()
        out = tmp_path / f"batch{batch}"
        assert main(_folder_args("degrade", files["G"], source, out, "--samples", "8", "--batch", str(batch))) == 0
        assert max(sizes) == batch and sum(sizes) == 8
        outputs[batch] = _pngs(out)
    assert len(outputs[2]) == 8 and outputs[2] == outputs[8]  # bit-identical files


# ------------------------------------------------------------------------------------------------------------ 8
OOM = "DefaultCPUAllocator: can't allocate memory: you tried to allocate 123456789 bytes. Error code 12"


@pytest.mark.parametrize("command", ["sr", "degrade"])
def test_out_of_memory_on_an_image_is_one_line_that_suggests_tiles(files, tmp_path, monkeypatch, capsys, command):
    import probdeg.degrade as degrade
    import probdeg.sr as sr

    def out_of_memory(*args, **kwargs):
        raise RuntimeError(OOM)

    monkeypatch.setattr(sr, "super_resolve", out_of_memory)
    monkeypatch.setattr(degrade, "degrade_batch", out_of_memory)
    model, source = (files["SR"], files["lr"]) if command == "sr" else (files["G"], files["hr"])
    assert main(_folder_args(command, model, source, tmp_path / "untiled")) == 2
    line = _one_error(capsys.readouterr().err, command)
    assert "out of memory on" in line and "a.png" in line and "--tile" in line and "e.g. --tile 256" in line
    assert main(_folder_args(command, model, source, tmp_path / "tiled", "--tile", "8")) == 2
    line = _one_error(capsys.readouterr().err, command)
    assert "out of memory on" in line and "a.png" in line and "try a smaller --tile than 8" in line


# ------------------------------------------------------------------------------------------------------------ 9
def test_bad_checkpoints_are_one_line_naming_the_file(files, tmp_path, capsys):
    checkpoint = load_checkpoint(files["G"])
    renamed = dict(checkpoint)
    renamed["params"] = {("x" + k if i == 0 else k): v for i, (k, v) in enumerate(checkpoint["params"].items())}
    torch.save(renamed, tmp_path / "wrong_keys.pth")
    other = load_checkpoint(files["SR"])
    other["probdeg"] = checkpoint["probdeg"]  # RRDBNet weights under the generator's description
    torch.save(other, tmp_path / "other_arch.pth")
    (tmp_path / "empty.pth").write_bytes(b"")
    cases = [("degrade", "wrong_keys.pth", "do not fit"), ("degrade", "other_arch.pth", "do not fit"),
             ("degrade", "empty.pth", "empty"), ("sr", "empty.pth", "empty")]
    for command, name, reason in cases:
        source = files["hr"] if command == "degrade" else files["lr"]
        assert main(_folder_args(command, tmp_path / name, source, tmp_path / f"out_{command}")) == 2
        line = _one_error(capsys.readouterr().err, command)
        assert str(tmp_path / name) in line and reason in line, line
    # a checkpoint of the other kind of net: an SR net to degrade, a generator to sr
    for command, model, source, reason in (("degrade", files["SR"], files["hr"], "is it a degradation generator?"),
                                           ("sr", files["G"], files["lr"], "cannot infer the scale")):
        assert main(_folder_args(command, model, source, tmp_path / f"kind_{command}")) == 2
        line = _one_error(capsys.readouterr().err, command)
        assert str(model) in line and reason in line, line


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_num_gpu_without_cuda_is_an_option_error(sample_root, monkeypatch, capsys):
    with pytest.raises(OptionError, match="num_gpu: 1, but PyTorch sees 0 CUDA"):
        check_devices({"num_gpu": 1}, "opt.yml")
    monkeypatch.chdir(sample_root)
    path = _options(sample_root, "num_gpu")
    assert main(["train", "-opt", str(path), "--set", "num_gpu=1"]) == 2
    assert "num_gpu: 1" in _one_error(capsys.readouterr().err, "train")
    assert not (sample_root / "experiments" / "num_gpu").exists()


def test_corrupt_pretrained_weights_are_one_line_naming_the_file(sample_root, monkeypatch, capsys,
                                                                 quiet_basicsr_logger):
    monkeypatch.chdir(sample_root)
    corrupt = sample_root / "corrupt_g.pth"
    corrupt.write_bytes(b"not a checkpoint at all" * 40)
    path = _options(sample_root, "corrupt_pretrain")
    assert main(["train", "-opt", str(path), "--set", f"path:pretrain_network_g={corrupt}"]) == 2
    line = _one_error(capsys.readouterr().err, "train")
    assert str(corrupt) in line and "cannot load the weights" in line


def test_corrupt_lpips_weights_for_eval_are_one_line(files, tmp_path, capsys):
    corrupt = tmp_path / "alexnet.pth"
    corrupt.write_bytes(b"\x00garbage" * 100)
    gt = tmp_path / "gt"
    for name in LR_NAMES:
        write_image(gt / name, _smooth(16, 20, 7))
    assert main(["eval", "--sr", str(files["lr"]), "--gt", str(gt), "--lpips-weights", str(corrupt),
                 "--crop-border", "0", "--no-progress", "--device", "cpu"]) == 2
    line = _one_error(capsys.readouterr().err, "eval")
    assert str(corrupt) in line and "not a readable AlexNet checkpoint" in line


def test_an_unexpected_exception_is_exit_3_with_its_traceback(monkeypatch, capsys):
    from probdeg.cli import summary

    def crash(args):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(summary, "run", crash)
    assert main(["summary"]) == 3
    err = capsys.readouterr().err
    assert "Traceback" in err and "ZeroDivisionError: a bug" in err and "please report" in err


# ------------------------------------------------------------------------------------------------------------ 10
def test_eval_keeps_the_good_pairs_reports_the_mismatch_and_leaves_identical_pairs_out_of_the_mean(tmp_path, capsys):
    sr, gt = tmp_path / "sr", tmp_path / "gt"
    for i, name in enumerate(("a.png", "b.png", "c.png")):
        write_image(gt / name, _smooth(32, 32, i))
    write_image(sr / "a.png", _smooth(32, 32, 0))  # identical: PSNR inf
    write_image(sr / "b.png", np.clip(_smooth(32, 32, 1) + 0.05, 0, 1))
    write_image(sr / "c.png", _smooth(16, 16, 2))  # another size
    args = ["eval", "--sr", str(sr), "--gt", str(gt), "--crop-border", "0", "--no-lpips", "--no-progress",
            "--device", "cpu"]
    assert main([*args, "--out", str(tmp_path / "metrics")]) == 1
    captured = capsys.readouterr()
    assert "size mismatch" in captured.err and "c.png" in captured.err and "Traceback" not in captured.err
    assert "mean of 2" in captured.out and "inf" not in captured.out.split("mean of 2")[1].splitlines()[0]
    metrics = json.loads((tmp_path / "metrics" / "metrics.json").read_text())
    assert [row["image"] for row in metrics["images"]] == ["a", "b"]
    assert isinstance(metrics["mean"]["psnr"], float) and math.isfinite(metrics["mean"]["psnr"])
    assert metrics["mean"]["psnr"] == pytest.approx(metrics["images"][1]["psnr"])  # a (inf) is left out
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    assert main([*args, "--out", str(blocker / "metrics")]) == 2
    captured = capsys.readouterr()
    assert "mean of 2" in captured.out  # the table came first: no result lost
    assert "a_file" in _one_error(captured.err, "eval")


# ------------------------------------------------------------------------------------------------------------ 11, 13
@pytest.fixture(scope="module")
def rooted_run(sample_root, tmp_path_factory) -> dict:
    """A 2-iteration stage-1 training whose option file has relative dataroots, run with --root from another
    folder."""
    path = _options(sample_root, "rooted", total_iter=2)
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    result = _train(elsewhere, "-opt", str(path), "--root", str(sample_root))
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
    result = _train(sample_root, "-opt", str(rooted_run["options"]), "--root", str(sample_root), "--auto_resume",
                    "--set", "train:total_iter=3")
    assert result.returncode == 0, result.stderr[-3000:]
    warning = [line for line in result.stderr.splitlines() if "4.state" in line]
    assert warning and "resuming from an older state" in warning[0], result.stderr[-3000:]
    new_log = "\n".join(p.read_text() for p in set(rooted_run["experiment"].glob("train_*.log")) - logs)
    assert re.search(r"Resuming training from epoch: \d+, iter: 2\.", new_log), new_log[-2000:]
    assert "iter:       3," in new_log and "iter:       1," not in new_log


# ------------------------------------------------------------------------------------------------------------ 12
@pytest.mark.parametrize("override, key", [("network_g:std=.nan", "network_g:std"),
                                           ("train:optim_g:injection_lr=.nan", "train:optim_g:injection_lr"),
                                           ("train:optim_g:betas=[.nan, 0.999]", "train:optim_g:betas")])
def test_nan_options_are_option_errors_naming_the_key(override, key):
    with pytest.raises(OptionError, match=rf"{key}: expected (a finite number|two numbers)"):
        load_options(TINY / "deg_deresnet_prob.yml", overrides=[override], check_files=False)


def test_a_checkpoint_with_nan_weights_is_refused_naming_the_file(tmp_path):
    G = tiny_generator()
    with torch.no_grad():
        next(G.parameters()).view(-1)[0] = float("nan")
    path = tmp_path / "diverged.pth"
    save_checkpoint(path, G, {"type": "Probabilistic", "net": NET})
    with pytest.raises(UserError, match="hold NaN or Inf") as err:
        load_network(path)
    assert str(path) in str(err.value)


# ------------------------------------------------------------------------------------------------------------ 14
PROGRESS_CHILD = textwrap.dedent("""
    import sys
    from probdeg.degrade import degrade_folder
    degrade_folder(sys.argv[1], sys.argv[2], sys.argv[3], progress=True)
""")


def test_progress_bars_go_to_a_terminal_only(files, tmp_path):
    stderr = tmp_path / "stderr.txt"
    with open(stderr, "w") as handle:
        subprocess.run([sys.executable, "-c", PROGRESS_CHILD, str(files["G"]), str(files["hr"]), str(tmp_path / "lr")],
                       stderr=handle, check=True, timeout=120)
    assert "\r" not in stderr.read_text()
    assert len(_pngs(tmp_path / "lr")) == len(HR_NAMES)
    if sys.platform != "linux":
        return
    import fcntl
    import pty  # the same run on a terminal draws its bar: the test above is not vacuous
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a terminal 100 columns wide
    proc = subprocess.Popen([sys.executable, "-c", PROGRESS_CHILD, str(files["G"]), str(files["hr"]),
                             str(tmp_path / "lr_tty")], stderr=slave, stdout=subprocess.DEVNULL)
    os.close(slave)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    assert proc.wait(timeout=120) == 0
    assert b"\r" in shown and b"degrade" in shown


def test_the_tile_callback_shows_tile_k_of_n(files, tmp_path):
    from tqdm import tqdm

    from probdeg.folders import FolderJob, plan_outputs

    plan = plan_outputs(files["lr"], tmp_path / "out")
    with FolderJob(plan, tmp_path / "out", command="sr", settings={}, progress=False) as job:
        assert job.tiles(1) is None  # one tile: nothing to show
        job.bar = tqdm(total=len(plan), file=io.StringIO(), desc="sr", mininterval=0)
        on_tile = job.tiles(3)
        on_tile()
        assert "tile 1/3" in str(job.bar)
        on_tile()
        assert "tile 2/3" in str(job.bar)
        on_tile()
        assert "tile" not in str(job.bar)  # done: the postfix is cleared


# ------------------------------------------------------------------------------------------------------------ 15
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
    path = _options(sample_root, name)
    experiment = sample_root / "experiments" / name
    args = ["train", "-opt", str(path), "--set", *overrides]
    assert main(args) == 2
    assert expected in _one_error(capsys.readouterr().err, "train")
    assert not experiment.exists()
    _marked(experiment)
    assert main(args) == 2
    assert expected in _one_error(capsys.readouterr().err, "train")
    assert _untouched(experiment)


# ------------------------------------------------------------------------------------------------------------ 16
def test_stale_temporaries_are_removed_and_odd_inputs_named_in_one_warning(files, tmp_path, capsys):
    source, out = tmp_path / "hr", tmp_path / "lr"
    write_image(source / "a.png", _smooth(48, 48))
    (source / ".hidden.png").write_bytes((files["hr"] / "a.png").read_bytes())
    (source / "broken.png").symlink_to(tmp_path / "nowhere.png")
    (source / "dir.png").mkdir()
    out.mkdir()
    stale = out / ".a.png.0123abcd.tmp.png"  # as io.atomic_path names them
    stale.write_bytes(b"half a png")
    assert main(_folder_args("degrade", files["G"], source, out)) == 0
    captured = capsys.readouterr()
    assert not stale.exists()
    assert "removed 1 temporary file" in captured.out and "1 written, 0 skipped, 0 failed" in captured.out
    warnings = [line for line in captured.err.splitlines() if "not read" in line]
    assert len(warnings) == 1, captured.err
    assert all(name in warnings[0] for name in (".hidden.png", "broken.png", "dir.png"))
    assert sorted(_pngs(out)) == ["a.png"]


# ------------------------------------------------------------------------------------------------------------ 17
def test_messages_for_common_mistakes(files, tmp_path, capsys):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    assert main(_folder_args("degrade", files["G"], files["hr"], a_file)) == 2
    assert "is a file" in _one_error(capsys.readouterr().err, "degrade")
    out = tmp_path / "lr"
    assert main(_folder_args("degrade", files["G"], files["hr"], out, "--grid", str(tmp_path / "x.jpg"))) == 2
    assert "'.png'" in _one_error(capsys.readouterr().err, "degrade")
    assert not out.exists() and not (tmp_path / "x.jpg").exists()  # refused before any work
    assert main(["eval", "--sr", str(files["lr"]), "--gt", str(tmp_path / "missing"), "--no-progress"]) == 2
    assert "GT folder" in _one_error(capsys.readouterr().err, "eval")


@pytest.mark.parametrize("command, flags", [
    ("train", ["--debug", "--auto_resume", "--set", "--root"]),
    ("sample-data", ["--scale", "--seed", "--out"]),
    ("summary", ["--arch", "--scale", "--num-feat", "--sigma", "--std", "--noise", "--at"]),
])
def test_command_help_documents_its_options(capsys, command, flags):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for flag in flags:  # an option line of its own, followed by words that describe it
        block = re.search(rf"^  {re.escape(flag)}\b.*(?:\n {{6,}}\S.*)*", out, re.MULTILINE)
        assert block is not None, (flag, out)
        assert re.search(r"\b[a-z]{4,}\b", block.group(0).replace(flag, "")), (flag, block.group(0))


def test_top_level_help_lists_the_exit_codes(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "exit codes: 0 success; 1 some inputs could not be read" in out
    assert "2 a user error" in out and "3 a crash" in out and "130 interrupted" in out
