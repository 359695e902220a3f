"""`probdeg.export` and `probdeg export`: a Real-ESRGAN-format .pth that spandrel loads with probdeg sr's output,
and one ONNX graph (an ensemble's mean too) with dynamic height and width, checked with onnxruntime."""

from __future__ import annotations

import numpy as np
import onnxruntime
import pytest
import spandrel
import torch

from probdeg.checkpoint import save_checkpoint
from probdeg.cli import main
from probdeg.errors import UserError
from probdeg.export import export_model
from probdeg.integrations.basicsr import resolve_arch
from probdeg.io import write_image_array
from probdeg.sr import load_ensemble, sr_folder, super_resolve

pytestmark = pytest.mark.usefixtures("one_thread")

COMPACT = {"type": "SRVGGNetCompact", "num_in_ch": 3, "num_out_ch": 3, "num_feat": 8, "num_conv": 2, "upscale": 4,
           "act_type": "prelu"}
RRDB_X2 = {"type": "RRDBNet", "num_in_ch": 3, "num_out_ch": 3, "num_feat": 8, "num_block": 1, "num_grow_ch": 32,
           "scale": 2}


@pytest.fixture
def probdeg_models(tmp_path, realesrgan_checkpoint):
    """Two probdeg checkpoints of tiny SRVGGNetCompact x4 nets (an ensemble, as MSSR's K = 2), and an RRDBNet x2."""
    for seed in (0, 1):
        save_checkpoint(tmp_path / f"m{seed}.pth", realesrgan_checkpoint(tmp_path / "raw.pth", "compact", 4, seed),
                        COMPACT)
    save_checkpoint(tmp_path / "rrdb.pth", realesrgan_checkpoint(tmp_path / "raw.pth", "rrdb", 2, 3), RRDB_X2)
    return tmp_path


def probdeg_sr(models: str, lr: torch.Tensor) -> torch.Tensor:
    nets, info = load_ensemble(models, resolve=resolve_arch)
    return super_resolve(nets, lr, info=info)


@pytest.mark.parametrize("name", ["m0.pth", "rrdb.pth"])
def test_a_pth_export_loads_in_spandrel_with_probdeg_srs_output(probdeg_models, name):
    result = export_model(probdeg_models / name, probdeg_models / "out.pth", resolve=resolve_arch)
    assert result.max_difference is not None and result.max_difference < 1e-5
    state = torch.load(probdeg_models / "out.pth", weights_only=True)
    assert list(state) == ["params_ema"]  # Real-ESRGAN's layout, nothing of probdeg's
    model = spandrel.ModelLoader().load_from_file(probdeg_models / "out.pth")
    assert model.scale == result.scale
    lr = torch.rand(1, 3, 16, 12, generator=torch.Generator().manual_seed(0))  # sizes no net pads
    with torch.inference_mode():
        assert torch.allclose(model(lr), probdeg_sr(str(probdeg_models / name), lr), atol=1e-5)


def test_a_pth_of_an_ensemble_needs_a_member(probdeg_models, capsys):
    ensemble = f"{probdeg_models / 'm0.pth'},{probdeg_models / 'm1.pth'}"
    code = main(["export", "--model", ensemble, "--out", str(probdeg_models / "e.pth")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "--member" in err and "--format onnx" in err and len(err.splitlines()) == 1
    assert not (probdeg_models / "e.pth").exists()
    result = export_model(ensemble, probdeg_models / "e.pth", member=1, resolve=resolve_arch)
    lr = torch.rand(1, 3, 8, 8)
    model = spandrel.ModelLoader().load_from_file(result.path)
    with torch.inference_mode():
        assert torch.allclose(model(lr), probdeg_sr(str(probdeg_models / "m1.pth"), lr), atol=1e-5)


def test_an_ensemble_exports_as_one_onnx_graph_with_dynamic_sizes(probdeg_models, capsys):
    ensemble = f"{probdeg_models / 'm0.pth'},{probdeg_models / 'm1.pth'}"
    code = main(["export", "--model", ensemble, "--out", str(probdeg_models / "e.onnx")])
    out = capsys.readouterr().out
    assert code == 0 and "ensemble mean of 2" in out and "checked" in out
    session = onnxruntime.InferenceSession(str(probdeg_models / "e.onnx"), providers=["CPUExecutionProvider"])
    for height, width in ((9, 14), (31, 20)):
        lr = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(height))
        got = session.run(None, {"lr": lr.numpy()})[0]
        expected = probdeg_sr(ensemble, lr).numpy()
        assert got.shape == (1, 3, 4 * height, 4 * width)
        assert np.abs(got - expected).max() < 1e-5
    single = probdeg_sr(str(probdeg_models / "m0.pth"), lr).numpy()
    assert np.abs(got - single).max() > 1e-2  # the graph holds both members, not the first one


def test_an_rrdb_x2_onnx_pads_odd_sizes_as_probdeg_sr_does(probdeg_models):
    result = export_model(probdeg_models / "rrdb.pth", probdeg_models / "r.onnx", resolve=resolve_arch)
    assert result.max_difference is not None and result.max_difference < 1e-5
    session = onnxruntime.InferenceSession(str(result.path), providers=["CPUExecutionProvider"])
    lr = torch.rand(1, 3, 11, 7, generator=torch.Generator().manual_seed(5))  # odd: the x2 RRDBNet needs even
    got = session.run(None, {"lr": lr.numpy()})[0]
    assert got.shape == (1, 3, 22, 14)
    assert np.abs(got - probdeg_sr(str(probdeg_models / "rrdb.pth"), lr).numpy()).max() < 1e-5


def test_the_exported_pth_runs_in_probdeg_sr_as_the_original(probdeg_models):
    export_model(probdeg_models / "m0.pth", probdeg_models / "out.pth", resolve=resolve_arch)
    write_image_array(probdeg_models / "lr" / "a.png", np.random.default_rng(0).integers(0, 256, (9, 7, 3), np.uint8))
    sr_folder(probdeg_models / "m0.pth", probdeg_models / "lr", probdeg_models / "ours", progress=False,
              resolve=resolve_arch)
    sr_folder(probdeg_models / "out.pth", probdeg_models / "lr", probdeg_models / "theirs", progress=False)
    assert (probdeg_models / "ours" / "a.png").read_bytes() == (probdeg_models / "theirs" / "a.png").read_bytes()


def test_bad_formats_are_one_line_errors(probdeg_models):
    with pytest.raises(UserError, match="--format must be pth or onnx"):
        export_model(probdeg_models / "m0.pth", probdeg_models / "x.bin")
    with pytest.raises(UserError, match="--member goes with --format pth"):
        export_model(probdeg_models / "m0.pth", probdeg_models / "x.onnx", member=0)
