"""`probdeg pipeline`: a user's folders to one exported model that spandrel and onnxruntime run with probdeg sr's
output, a self-contained report, and a rerun that reuses every stage."""

from __future__ import annotations

import re

import numpy as np
import onnxruntime
import pytest
import spandrel
import torch
from skimage import data as photos

from probdeg.cli import main
from probdeg.io import image_to_tensor, read_image, write_image

pytest.importorskip("probdeg.integrations.basicsr")


def _user_folders(root):
    """Four clean HR tiles of one photo, and three real LR images (another photo, blurred, downscaled, noisy)."""
    hr, lr = root / "my hr", root / "my lr"
    astronaut = photos.astronaut().astype(np.float32) / 255
    for i in range(4):
        write_image(hr / f"h{i}.png", astronaut[40 * i:40 * i + 160, 100 + 60 * i:260 + 60 * i])
    rng = np.random.default_rng(0)
    coffee = photos.coffee().astype(np.float32) / 255
    for i in range(3):
        tile = coffee[60 * i:60 * i + 192, 80 * i:80 * i + 192]
        small = tile.reshape(48, 4, 48, 4, 3).mean(axis=(1, 3))
        write_image(lr / f"l{i}.png", np.clip(small + rng.normal(0, 0.02, small.shape), 0, 1).astype(np.float32))
    return hr, lr


@pytest.mark.slow
def test_a_users_folders_become_one_exported_model(tmp_path, capsys):
    hr, lr = _user_folders(tmp_path)
    out = tmp_path / "run"
    args = ["pipeline", "--hr", str(hr), "--lr", str(lr), "--out", str(out), "--iters", "2,2", "--no-progress"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert re.search(r"^\[9/9\] ", printed, flags=re.M) and f"model {out / 'model' / 'sr.pth'}" in printed
    model, onnx = out / "model" / "sr.pth", out / "model" / "sr.onnx"

    # probdeg sr on one real LR image, then the same image through spandrel and through onnxruntime.
    assert main(["sr", "--model", str(model), "--input", str(lr / "l0.png"), "--output", str(tmp_path / "sr"),
                 "--no-progress"]) == 0
    ours = read_image(tmp_path / "sr" / "l0.png")
    x = image_to_tensor(read_image(lr / "l0.png"))[None]
    net = spandrel.ModelLoader().load_from_file(str(model)).eval()
    with torch.inference_mode():
        theirs = net(x).clamp(0, 1)[0].permute(1, 2, 0).numpy()
    session = onnxruntime.InferenceSession(str(onnx), providers=["CPUExecutionProvider"])
    from_onnx = session.run(None, {"lr": x.numpy()})[0][0].transpose(1, 2, 0)
    assert ours.shape == theirs.shape == from_onnx.shape == (192, 192, 3)
    assert np.abs(ours - theirs).max() <= 1 / 255 + 1e-6 and np.abs(ours - from_onnx).max() <= 1 / 255 + 1e-6
    # The ensemble's mean, one graph, as probdeg sr computes it from both nets.
    ensemble = ",".join(str(out / "experiments" / "demo_sr_mssr" / "models" / f"net_sr{i}_latest.pth") for i in (0, 1))
    assert main(["sr", "--model", ensemble, "--input", str(lr / "l0.png"), "--output", str(tmp_path / "sr_ens"),
                 "--no-progress"]) == 0
    both = read_image(tmp_path / "sr_ens" / "l0.png")
    session = onnxruntime.InferenceSession(str(out / "model" / "sr_ensemble.onnx"), providers=["CPUExecutionProvider"])
    assert np.abs(both - session.run(None, {"lr": x.numpy()})[0][0].transpose(1, 2, 0)).max() <= 1 / 255 + 1e-6

    # The report: one self-contained page with the scorecard and the model on the real LR.
    html = (out / "report.html").read_text()
    assert "How real is each degradation?" in html and "Probabilistic HAN" in html and "patch distance" in html
    assert html.count("src='data:image/png;base64,") == html.count("<img ") >= 3
    preview = read_image(out / "model" / "preview.png")
    assert preview.shape[1] == 2 * 192 and preview.std() > 0.01

    # A rerun reuses every training.
    assert main(args) == 0
    assert printed.count("trained in") == 3 and capsys.readouterr().out.count("reused") >= 4
