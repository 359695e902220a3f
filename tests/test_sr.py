"""`probdeg.sr` and `probdeg sr`: ensembles, tiles, scale probing, resumable folders."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import rrdb_options, rrdbnet
from torch import nn

from probdeg.checkpoint import load_network, save_checkpoint
from probdeg.cli import main
from probdeg.collab import ensemble
from probdeg.integrations.basicsr import resolve_arch
from probdeg.io import image_to_tensor, read_image, write_image
from probdeg.sr import (
    SRNetInfo,
    load_ensemble,
    parse_model_list,
    probe_sr_net,
    sr_folder,
    super_resolve,
)

LR_SIZES = {"a.png": (20, 24), "sub/b.png": (17, 23), "sub/deep/c d.png": (12, 16)}


def conv_sr(seed: int) -> nn.Sequential:
    """A x2 conv net of receptive-field radius 2 whose raw output leaves [0, 1] (so the clamp matters)."""
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(3, 12, 3, padding=1), nn.ReLU(), nn.Conv2d(12, 12, 3, padding=1), nn.PixelShuffle(2))
    with torch.no_grad():
        net[2].weight.mul_(6.0)
        net[2].bias.add_(0.5)
    return net.eval()


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see conftest.one_thread


def outputs(folder: Path) -> dict[str, np.ndarray]:
    return {p.relative_to(folder).as_posix(): read_image(p) for p in sorted(folder.rglob("*.png"))}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sr")
    save_checkpoint(root / "A.pth", rrdbnet(seed=0), rrdb_options())
    save_checkpoint(root / "B.pth", rrdbnet(seed=1), rrdb_options())
    save_checkpoint(root / "x2.pth", rrdbnet(scale=2), rrdb_options(scale=2))
    gen = np.random.default_rng(0)
    for name, (h, w) in LR_SIZES.items():
        write_image(root / "lr" / name, gen.random((h, w, 3), dtype=np.float32))
    return {"root": root, "A": root / "A.pth", "B": root / "B.pth", "x2": root / "x2.pth", "lr": root / "lr"}


# ------------------------------------------------------------------------------------------------------------ tensors
def test_the_ensemble_is_the_clamped_mean_of_its_members():
    a, b = conv_sr(0), conv_sr(1)
    lr = torch.rand(2, 3, 15, 19, generator=torch.Generator().manual_seed(0))
    raw = ensemble([a, b], lr)
    assert raw.min() < 0 or raw.max() > 1  # the clamp has work to do
    out = super_resolve([a, b], lr)
    assert out.shape == (2, 3, 30, 38) and 0 <= out.min() and out.max() <= 1
    assert torch.allclose(out, raw.clamp(0, 1), atol=1e-6)
    with torch.no_grad():
        assert torch.allclose(super_resolve(a, lr[0]), a(lr[:1])[0].clamp(0, 1), atol=1e-6)  # one net, one image


@pytest.mark.parametrize("tile", [4, 7, 16, 64])
def test_tiles_match_the_whole_image_to_the_border(tile):
    nets = [conv_sr(0), conv_sr(1)]
    lr = torch.rand(1, 3, 29, 37, generator=torch.Generator().manual_seed(1))  # no multiple of any tile: ragged edges
    whole = super_resolve(nets, lr)
    tiled = super_resolve(nets, lr, tile=tile, tile_pad=2)  # the nets' receptive-field radius
    assert tiled.shape == whole.shape
    assert (tiled - whole).abs().max() <= 1e-4
    if tile < 29:  # too little context leaves seams: the test can see them
        assert (super_resolve(nets, lr, tile=tile, tile_pad=0) - whole).abs().max() > 1e-3


def test_rrdbnet_tiles_match_with_enough_context():
    net = rrdbnet()  # receptive-field radius about 18.3 LR pixels (17 convs at LR, 4 after the up-sampling)
    lr = torch.rand(1, 3, 60, 76, generator=torch.Generator().manual_seed(2))
    assert (super_resolve(net, lr, tile=16, tile_pad=20) - super_resolve(net, lr)).abs().max() <= 1e-4


def test_the_scale_and_input_multiple_are_probed():
    assert probe_sr_net(conv_sr(0)) == SRNetInfo(2, 1)
    assert probe_sr_net(nn.Upsample(scale_factor=3)) == SRNetInfo(3, 1)
    assert probe_sr_net(rrdbnet(4)) == SRNetInfo(4, 1)
    assert probe_sr_net(rrdbnet(2)) == SRNetInfo(2, 2)  # pixel_unshuffle needs even sizes
    assert probe_sr_net(rrdbnet(1)) == SRNetInfo(1, 4)
    out = super_resolve(rrdbnet(2), torch.rand(3, 13, 11))  # odd sizes: padded, then cropped back
    assert out.shape == (3, 26, 22)
    with pytest.raises(ValueError, match="not an integer enlargement"):
        probe_sr_net(nn.AvgPool2d(2))


def test_bad_arguments_are_refused():
    net = conv_sr(0)
    with pytest.raises(ValueError, match="tile must be"):
        super_resolve(net, torch.rand(3, 8, 8), tile=0)
    with pytest.raises(ValueError, match="tile_pad"):
        super_resolve(net, torch.rand(3, 8, 8), tile=4, tile_pad=-1)
    with pytest.raises(ValueError, match="at least one model"):
        super_resolve([], torch.rand(3, 8, 8))
    with pytest.raises(ValueError, match="share one scale"):
        super_resolve([net, nn.Upsample(scale_factor=3)], torch.rand(3, 8, 8))
    assert parse_model_list("a.pth, b.pth") == [Path("a.pth"), Path("b.pth")]
    assert parse_model_list(Path("x,y.pth")) == [Path("x,y.pth")]
    with pytest.raises(ValueError, match="comma-separated"):
        parse_model_list("a.pth,,b.pth")


# ------------------------------------------------------------------------------------------------------------ folders
def test_load_ensemble_checks_that_the_scales_agree(data):
    nets, info = load_ensemble(f"{data['A']},{data['B']}", resolve=resolve_arch)
    assert len(nets) == 2 and info == SRNetInfo(4, 1)
    with pytest.raises(ValueError, match=r"share one scale.*A\.pth \(x4\).*x2\.pth \(x2\)"):
        load_ensemble([data["A"], data["x2"]], resolve=resolve_arch)


def test_sr_folder_writes_the_ensemble_keeps_sub_folders_and_resumes(data, tmp_path):
    out = tmp_path / "sr"
    summary = sr_folder(f"{data['A']},{data['B']}", data["lr"], out, progress=False, resolve=resolve_arch)
    assert summary["written"] == 3 and summary["skipped"] == summary["failed"] == 0
    assert summary["scale"] == 4 and summary["models"] == 2
    found = outputs(out)
    assert set(found) == {"a.png", "sub/b.png", "sub/deep/c d.png"}
    assert found["sub/b.png"].shape == (68, 92, 3)
    members = [load_network(path, resolve=resolve_arch) for path in (data["A"], data["B"])]
    lr = image_to_tensor(read_image(data["lr"] / "a.png"))
    expected = super_resolve(members, lr).permute(1, 2, 0).numpy()
    assert np.abs(found["a.png"] - expected).max() <= 0.5 / 255 + 1e-6

    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*.png")}
    again = sr_folder([data["A"], data["B"]], data["lr"], out, progress=False, resolve=resolve_arch)
    assert again["written"] == 0 and again["skipped"] == 3
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*.png")} == before
    lost = out / "sub" / "b.png"
    lost.unlink()
    resumed = sr_folder([data["A"], data["B"]], data["lr"], out, progress=False, resolve=resolve_arch)
    assert resumed["written"] == 1 and resumed["skipped"] == 2
    assert np.array_equal(read_image(lost), found["sub/b.png"])
    tiled = sr_folder([data["A"], data["B"]], data["lr"], tmp_path / "tiled", tile=8, tile_pad=20, progress=False,
                      resolve=resolve_arch)  # other settings: a folder of its own
    assert tiled["written"] == 3
    assert np.abs(read_image(tmp_path / "tiled" / "sub" / "b.png") - found["sub/b.png"]).max() <= 1 / 255


def test_outputs_inside_the_input_folder_are_not_read_back(data, tmp_path):
    lr = tmp_path / "lr"
    shutil.copytree(data["lr"], lr)
    first = sr_folder(data["A"], lr, lr / "sr", progress=False, resolve=resolve_arch)
    second = sr_folder(data["A"], lr, lr / "sr", progress=False, resolve=resolve_arch)
    assert first["images"] == second["images"] == 3 and second["written"] == 0
    with pytest.raises(ValueError, match="write the SR images to a folder of their own"):
        sr_folder(data["A"], lr, tmp_path, progress=False, resolve=resolve_arch)


def test_a_corrupt_input_is_reported_skipped_and_counted(data, tmp_path):
    lr = tmp_path / "lr"
    shutil.copytree(data["lr"], lr)
    (lr / "sub" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.warns(UserWarning, match="broken.png"):
        summary = sr_folder(data["A"], lr, tmp_path / "sr", progress=False, resolve=resolve_arch)
    assert summary["failed"] == 1 and "broken.png" in summary["failures"][0]
    assert summary["written"] == 3 and summary["images"] == 4


# ------------------------------------------------------------------------------------------------------------ CLI
def test_cli_super_resolves_and_reports_corrupt_inputs(data, tmp_path, capsys):
    out = tmp_path / "sr"
    code = main(["sr", "--model", f"{data['A']},{data['B']}", "--input", str(data["lr"]), "--output", str(out),
                 "--tile", "8", "--tile-pad", "20", "--device", "cpu", "--no-progress"])
    assert code == 0
    line = capsys.readouterr().out.strip()
    assert "\n" not in line and "3 written, 0 skipped, 0 failed" in line and "x4, ensemble of 2" in line
    assert set(outputs(out)) == {"a.png", "sub/b.png", "sub/deep/c d.png"}
    bad = tmp_path / "bad"
    bad.mkdir()
    write_image(bad / "ok.png", np.zeros((8, 8, 3), np.float32))
    (bad / "zero.png").write_bytes(b"")
    assert main(["sr", "--model", str(data["A"]), "--input", str(bad), "--output", str(tmp_path / "sr2"),
                 "--no-progress"]) == 1
    captured = capsys.readouterr()
    assert "zero.png" in captured.err and "1 failed" in captured.out


def test_cli_errors_are_one_line(data, tmp_path, capsys):
    for model, expected in ((str(tmp_path / "none.pth"), "checkpoint not found"),
                            (f"{data['A']},{data['x2']}", "share one scale")):
        assert main(["sr", "--model", model, "--input", str(data["lr"]), "--output", str(tmp_path / "sr")]) == 2
        err = capsys.readouterr().err
        assert err.startswith("probdeg sr: error:") and expected in err and err.count("\n") == 1
    assert main(["sr", "--model", str(data["A"]), "--input", str(tmp_path / "nowhere"), "--output",
                 str(tmp_path / "sr")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["sr", "--model", str(data["A"]), "--input", str(data["lr"]), "--output", str(tmp_path / "sr"),
                 "--tile", "0"]) == 2
    assert "tile must be" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "sr")


@pytest.mark.parametrize("factor, problem", [(1e20, "NaN or infinite"), (30.0, "a saturated output")])
def test_outputs_of_overflowing_weights_are_not_written_each_image_named_with_the_model(data, tmp_path, capsys,
                                                                                       factor, problem):
    net = rrdbnet(seed=2)
    with torch.no_grad():
        for weight in net.parameters():
            weight.mul_(factor)  # finite weights whose activations overflow (or blow far out of [0, 1])
    model = tmp_path / "blown.pth"
    save_checkpoint(model, net, rrdb_options())
    out = tmp_path / "sr"
    args = ["sr", "--model", str(model), "--input", str(data["lr"]), "--output", str(out), "--no-progress"]
    assert main([*args, "--device", "cpu"]) == 1
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if "skipped" in line]
    assert len(lines) == 3 and all(problem in line and repr(str(model)) in line for line in lines)
    assert repr(str(data["lr"] / "sub" / "deep" / "c d.png")) in captured.err
    assert "0 written, 0 skipped, 3 failed" in captured.out and not outputs(out)
    assert main([*args, "--device", "cpu", "--tile", "4", "--overwrite"]) == 1  # tiled: the tiles' counts add up
    assert "0 written, 0 skipped, 3 failed" in capsys.readouterr().out


def test_a_float_tiff_with_nan_pixels_is_skipped_and_named_the_others_written(data, tmp_path, capsys):
    import cv2

    lr = tmp_path / "lr"
    shutil.copytree(data["lr"], lr)
    pixels = np.random.default_rng(0).random((12, 12, 3)).astype(np.float32)
    pixels[3:5, 3:5] = np.nan
    cv2.imwrite(str(lr / "nan.tif"), pixels)
    assert main(["sr", "--model", str(rrdb_checkpoint(tmp_path)), "--input", str(lr), "--output", str(tmp_path / "sr"),
                 "--device", "cpu", "--no-progress"]) == 1
    captured = capsys.readouterr()
    assert "nan.tif" in captured.err and "12 of its 432 values are NaN or infinite" in captured.err
    assert "3 written, 0 skipped, 1 failed" in captured.out
    assert set(outputs(tmp_path / "sr")) == {"a.png", "sub/b.png", "sub/deep/c d.png"}


def rrdb_checkpoint(folder: Path) -> Path:
    """An RRDBNet checkpoint whose outputs are not all black (seed 2)."""
    save_checkpoint(folder / "SR.pth", rrdbnet(seed=2), rrdb_options())
    return folder / "SR.pth"


def test_a_discriminator_checkpoint_is_named_in_one_line(data, tmp_path, capsys):
    from probdeg.archs.discriminator import FSDiscriminator

    model = tmp_path / "D.pth"
    save_checkpoint(model, FSDiscriminator(num_feat=8), {"type": "FSDiscriminator", "num_feat": 8})  # wavelet filter
    assert main(["sr", "--model", str(model), "--input", str(data["lr"]), "--output", str(tmp_path / "sr"),
                 "--device", "cpu", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"probdeg sr: error: {model}: cannot infer the scale")
    assert not (tmp_path / "sr").exists()
