"""Crash safety: a training killed with SIGKILL resumes with --auto_resume; an interrupted save keeps the old file."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

pytest.importorskip("probdeg.integrations.basicsr")
from probdeg.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from probdeg.io import atomic_path  # noqa: E402
from probdeg.sample_task import make_sample_data  # noqa: E402

TINY = Path(__file__).resolve().parents[2] / "integrations" / "basicsr" / "options" / "tiny" / "deg_deresnet_det.yml"


@pytest.mark.slow
def test_kill_9_mid_training_then_auto_resume_continues_from_the_last_state(tmp_path):
    make_sample_data(tmp_path / "datasets" / "sample", seed=0)
    opt = yaml.safe_load(TINY.read_text())
    opt["network_g"].update(num_feat=8, num_blocks=1)
    opt["network_d"]["num_feat"] = 8
    opt["datasets"]["train"]["crop_size"] = 32
    opt["train"].update(total_iter=100000, scheduler={"type": "LinearDecay", "decay_start": 1})
    opt.pop("val")
    opt["logger"].update(print_freq=1, save_checkpoint_freq=3)
    path = tmp_path / "opt.yml"
    path.write_text(yaml.safe_dump(opt))
    states = tmp_path / "experiments" / opt["name"] / "training_states"
    proc = subprocess.Popen([sys.executable, "-m", "probdeg", "train", "-opt", str(path)], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while len(list(states.glob("*.state"))) < 2 and time.time() < deadline:
            time.sleep(0.2)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    complete = [p for p in states.glob("*.state") if p.stem.isdigit()]  # a kill mid-save may leave a hidden temp
    for p in complete:
        torch.load(p, weights_only=True)  # every "<iter>.state" is whole
    saved = sorted(int(p.stem) for p in complete)
    assert saved
    last = saved[-1]

    opt["train"]["total_iter"] = last + 3
    path.write_text(yaml.safe_dump(opt))
    result = subprocess.run([sys.executable, "-m", "probdeg", "train", "-opt", str(path), "--auto_resume"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    log = "\n".join(p.read_text() for p in (tmp_path / "experiments" / opt["name"]).glob("train_*.log"))
    assert f"iter: {last}." in log and "Resuming training" in log
    models = tmp_path / "experiments" / opt["name"] / "models"
    assert load_checkpoint(models / f"net_g_{last + 3}.pth")["probdeg"]["iter"] == last + 3


def test_a_crash_during_a_save_leaves_the_previous_checkpoint_loadable(tmp_path, monkeypatch):
    net = torch.nn.Conv2d(3, 3, 1)
    target = tmp_path / "net_g_latest.pth"
    save_checkpoint(target, net, {"type": "DeResnet"})
    before = load_checkpoint(target)

    write = Path.write_bytes

    def crash(self, data):  # the checkpoint is serialised in memory, then written: killed during the write
        write(self, bytes(data)[:7])
        raise KeyboardInterrupt("killed mid-save")

    monkeypatch.setattr(Path, "write_bytes", crash)
    with torch.no_grad():
        net.weight.add_(1)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(target, net, {"type": "DeResnet"})
    monkeypatch.undo()
    after = load_checkpoint(target)
    assert torch.equal(after["params"]["weight"], before["params"]["weight"])
    assert [p.name for p in tmp_path.iterdir()] == ["net_g_latest.pth"]
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "x.state") as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("boom")
    assert not (tmp_path / "x.state").exists()
