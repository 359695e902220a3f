"""Stage 1 through BasicSR: a real short training, resume, self-describing checkpoints, safe options."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

pytest.importorskip("probdeg.integrations.basicsr")
from probdeg.checkpoint import load_checkpoint, load_network  # noqa: E402
from probdeg.errors import OptionError
from probdeg.integrations.basicsr.options import load_options  # noqa: E402
from probdeg.sample_task import make_sample_data  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "integrations" / "basicsr" / "options" / "tiny"


@pytest.fixture(scope="module")
def sample_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("stage1")
    make_sample_data(root / "datasets" / "sample", seed=0)
    return root


def _options(root: Path, name: str, total_iter: int, **train) -> Path:
    opt = yaml.safe_load((TINY / "deg_deresnet_prob.yml").read_text())
    opt["name"] = name
    opt["network_g"]["net"].update(num_feat=8, num_blocks=2)
    opt["network_d"].update(num_feat=8, kernel_size=5)  # 8-pixel LR crops: a 9x9 filter needs 9
    opt["datasets"]["train"]["crop_size"] = 32
    opt["datasets"]["val"]["crop_size"] = 64
    opt["train"].update(total_iter=total_iter, scheduler={"type": "LinearDecay", "decay_start": 2}, **train)
    opt["val"]["val_freq"] = 1000
    opt["logger"].update(print_freq=1, save_checkpoint_freq=2)
    path = root / f"{name}.yml"
    path.write_text(yaml.safe_dump(opt))
    return path


def _train(root: Path, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "probdeg", "train", *args], cwd=root, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _log(root: Path, name: str) -> str:
    return "\n".join(p.read_text() for p in sorted((root / "experiments" / name).glob("train_*.log")))


def test_short_training_changes_the_generator_and_resumes(sample_root):
    opt = _options(sample_root, "run", total_iter=4)
    _train(sample_root, "-opt", str(opt))
    exp = sample_root / "experiments" / "run"
    log = _log(sample_root, "run")
    assert "iter:       4" in log and "Validation sample_val" in log
    for key in ("l_g_color", "l_g_gan", "l_d_real", "l_d_fake"):
        values = [float(line.split(f"{key}: ")[1].split()[0]) for line in log.splitlines() if f"{key}: " in line]
        assert len(values) == 4 and all(torch.isfinite(torch.tensor(values)))
    first, last = load_checkpoint(exp / "models" / "net_g_2.pth"), load_checkpoint(exp / "models" / "net_g_4.pth")
    changed = [k for k in first["params"] if not torch.equal(first["params"][k], last["params"][k])]
    assert any(k.startswith("net.") for k in changed) and any(k.startswith("injections.") for k in changed)
    assert sorted(p.name for p in (exp / "training_states").glob("*.state")) == ["2.state", "4.state"]

    # Resume: the same experiment, 2 more iterations, continues from iteration 4.
    opt = _options(sample_root, "run", total_iter=6)
    _train(sample_root, "-opt", str(opt), "--auto_resume")
    log = _log(sample_root, "run")
    assert "Resuming training from epoch" in log and "iter: 4." in log
    assert (exp / "models" / "net_g_6.pth").is_file() and not list(sample_root.glob("experiments/run_archived*"))


def test_generator_checkpoint_rebuilds_without_options(sample_root):
    exp = sample_root / "experiments" / "run"
    if not (exp / "models" / "net_g_latest.pth").is_file():
        _train(sample_root, "-opt", str(_options(sample_root, "run", total_iter=3)))
    checkpoint = load_checkpoint(exp / "models" / "net_g_latest.pth")
    assert checkpoint["probdeg"]["network"]["type"] == "Probabilistic"
    assert checkpoint["probdeg"]["version"]
    G = load_network(exp / "models" / "net_g_latest.pth")
    hr = torch.rand(1, 3, 32, 32)
    assert G(hr, seed=0).shape == (1, 3, 8, 8)
    assert torch.equal(G(hr, seed=0), G(hr, seed=0))


def test_experiments_go_under_the_current_directory(sample_root):
    opt = load_options(_options(sample_root, "where", total_iter=3), root=sample_root)
    assert Path(opt["path"]["experiments_root"]) == (sample_root / "experiments" / "where").resolve()


def test_an_executable_yaml_tag_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "pwned"
    opt = tmp_path / "evil.yml"
    opt.write_text(f"name: evil\nvalue: !!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(OptionError, match="refused a YAML tag"):
        load_options(opt, root=tmp_path)
    result = subprocess.run([sys.executable, "-m", "probdeg", "train", "-opt", str(opt)], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "refused a YAML tag" in result.stderr and "Traceback" not in result.stderr
    assert not marker.exists()
