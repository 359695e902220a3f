"""`probdeg train` reports bad options, bad images and a diverging training in one line, exit code 2, no traceback."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytest.importorskip("probdeg.integrations.basicsr")
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
