"""`probdeg.sr_models` and the open `probdeg sr`: Real-ESRGAN-format checkpoints through spandrel, one image, the
output options (outscale, suffix, ext, half) and the layouts kept (alpha, 16 bits, gray)."""

from __future__ import annotations

import sys

import cv2
import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from probdeg.checkpoint import save_checkpoint
from probdeg.cli import main
from probdeg.cli.sr import EXTENSIONS
from probdeg.errors import UserError
from probdeg.io import image_to_tensor, read_stored_image, write_image_array
from probdeg.sr import OUTPUT_EXTENSIONS, load_ensemble, sr_folder, super_resolve
from probdeg.sr_models import load_sr_net
from probdeg.tiling import quantise

pytestmark = pytest.mark.usefixtures("one_thread")


def random_pixels(height: int, width: int, channels: int, dtype=np.uint8, seed: int = 0) -> np.ndarray:
    top = np.iinfo(dtype).max
    return np.random.default_rng(seed).integers(0, top + 1, (height, width, channels)).astype(dtype)


def reference_sr(net: torch.nn.Module, rgb: np.ndarray, dtype=torch.uint8) -> np.ndarray:
    """The net itself on an RGB float image, clamped and quantised: what probdeg sr must write."""
    with torch.no_grad():
        out = net(image_to_tensor(rgb)[None])[0]
    return quantise(out, dtype).permute(1, 2, 0).numpy()


def stored(path) -> np.ndarray:
    return cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)


@pytest.mark.parametrize("kind, scale", [("rrdb", 4), ("rrdb", 2), ("compact", 4)])
def test_a_realesrgan_checkpoint_loads_through_spandrel_and_gives_the_nets_output(tmp_path, realesrgan_checkpoint,
                                                                                 kind, scale):
    net = realesrgan_checkpoint(tmp_path / "model.pth", kind, scale)
    loaded = load_sr_net(tmp_path / "model.pth")
    assert loaded.source.startswith("spandrel:")
    lr = torch.rand(1, 3, 12, 10, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = net(lr).clamp(0, 1)
    out = super_resolve(loaded.net, lr)
    assert out.shape == (1, 3, 12 * scale, 10 * scale)
    assert torch.allclose(out, expected, atol=1e-5)


def test_probdeg_and_realesrgan_checkpoints_form_one_ensemble(tmp_path, realesrgan_checkpoint):
    a = realesrgan_checkpoint(tmp_path / "a.pth", "compact", 4, seed=0)
    b = realesrgan_checkpoint(tmp_path / "b_src.pth", "compact", 4, seed=1)
    options = {"type": "SRVGGNetCompact", "num_in_ch": 3, "num_out_ch": 3, "num_feat": 8, "num_conv": 2,
               "upscale": 4, "act_type": "prelu"}
    save_checkpoint(tmp_path / "b.pth", b, options)
    from probdeg.integrations.basicsr import resolve_arch

    nets, info = load_ensemble(f"{tmp_path / 'a.pth'},{tmp_path / 'b.pth'}", resolve=resolve_arch)
    assert info.scale == 4
    lr = torch.rand(1, 3, 9, 11, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = ((a(lr) + b(lr)) / 2).clamp(0, 1)
    assert torch.allclose(super_resolve(nets, lr, info=info), expected, atol=1e-5)


def test_unknown_weights_and_unsafe_pickles_are_one_line_errors(tmp_path):
    torch.save({"params": {"what.weight": torch.zeros(3, 3)}}, tmp_path / "odd.pth")
    with pytest.raises(UserError, match="neither probdeg's checkpoint nor an arch spandrel knows"):
        load_sr_net(tmp_path / "odd.pth")
    torch.save({"params": {"w": torch.zeros(1)}, "code": print}, tmp_path / "pickle.pth")
    with pytest.raises(UserError, match="refused unread"):
        load_sr_net(tmp_path / "pickle.pth")


def test_the_cli_runs_a_realesrgan_checkpoint_on_one_image(tmp_path, realesrgan_checkpoint, capsys):
    net = realesrgan_checkpoint(tmp_path / "RealESRGAN_x2.pth", "rrdb", 2)
    write_image_array(tmp_path / "photo.jpg", random_pixels(14, 10, 3))  # a JPEG, as a camera gives; even sides,
    # which BasicSR's x2 RRDBNet (the reference) needs
    code = main(["sr", "--model", str(tmp_path / "RealESRGAN_x2.pth"), "--input", str(tmp_path / "photo.jpg"),
                 "--output", str(tmp_path / "out"), "--suffix", "_out", "--no-progress", "--device", "cpu"])
    assert code == 0, capsys.readouterr().err
    assert "1 written" in capsys.readouterr().out
    written = tmp_path / "out" / "photo_out.png"
    lr = read_stored_image(tmp_path / "photo.jpg").rgb
    assert np.abs(stored(written)[:, :, ::-1].astype(int) - reference_sr(net, lr).astype(int)).max() <= 1


def test_outscale_resizes_and_ext_picks_the_format(tmp_path, realesrgan_checkpoint):
    realesrgan_checkpoint(tmp_path / "m.pth", "compact", 4)
    write_image_array(tmp_path / "lr" / "a.png", random_pixels(10, 14, 3))
    write_image_array(tmp_path / "lr" / "b.png", random_pixels(7, 9, 3, seed=1))
    summary = sr_folder(tmp_path / "m.pth", tmp_path / "lr", tmp_path / "out", outscale=3.5, ext="jpg",
                        progress=False)
    assert summary["written"] == 2
    assert stored(tmp_path / "out" / "a.jpg").shape == (35, 49, 3)
    assert stored(tmp_path / "out" / "b.jpg").shape == (24, 32, 3)  # round(7 * 3.5) = 24 (half to even)
    again = sr_folder(tmp_path / "m.pth", tmp_path / "lr", tmp_path / "out", outscale=3.5, ext="jpg",
                      progress=False)
    assert again["skipped"] == 2  # the same options resume
    with pytest.raises(UserError, match="outscale"):
        sr_folder(tmp_path / "m.pth", tmp_path / "lr", tmp_path / "out", outscale=2, ext="jpg", progress=False)


def test_alpha_is_upscaled_and_16_bits_and_gray_are_kept(tmp_path, realesrgan_checkpoint):
    net = realesrgan_checkpoint(tmp_path / "m.pth", "compact", 2)
    rgba16 = random_pixels(9, 8, 4, np.uint16)
    write_image_array(tmp_path / "lr" / "rgba16.png", rgba16)
    gray = random_pixels(6, 7, 1, seed=2)
    write_image_array(tmp_path / "lr" / "gray.png", gray)
    sr_folder(tmp_path / "m.pth", tmp_path / "lr", tmp_path / "out", progress=False)

    out = stored(tmp_path / "out" / "rgba16.png")
    assert out.dtype == np.uint16 and out.shape == (18, 16, 4)
    colour = reference_sr(net, rgba16[:, :, :3] / 65535.0, torch.uint16)
    assert np.abs(out[:, :, 2::-1].astype(int) - colour.astype(int)).max() <= 1
    alpha = np.repeat(rgba16[:, :, 3:] / 65535.0, 3, axis=2)
    expected_alpha = cv2.cvtColor(reference_sr(net, alpha, torch.uint16), cv2.COLOR_RGB2GRAY)
    assert np.abs(out[:, :, 3].astype(int) - expected_alpha.astype(int)).max() <= 1
    assert out[:, :, 3].std() > 1000  # a real upscaled alpha, not a constant one

    out_gray = stored(tmp_path / "out" / "gray.png")
    assert out_gray.ndim == 2 and out_gray.shape == (12, 14)
    expected_gray = cv2.cvtColor(reference_sr(net, np.repeat(gray / 255.0, 3, axis=2)), cv2.COLOR_RGB2GRAY)
    assert np.abs(out_gray.astype(int) - expected_gray.astype(int)).max() <= 1


def test_a_format_that_drops_alpha_or_bits_says_so_in_one_line(tmp_path, realesrgan_checkpoint, capsys):
    realesrgan_checkpoint(tmp_path / "m.pth", "compact", 2)
    write_image_array(tmp_path / "lr" / "a.png", random_pixels(6, 6, 4, np.uint16))
    write_image_array(tmp_path / "lr" / "b.png", random_pixels(6, 6, 4))
    code = main(["sr", "--model", str(tmp_path / "m.pth"), "-i", str(tmp_path / "lr"), "-o", str(tmp_path / "out"),
                 "--ext", "jpg", "--no-progress", "--device", "cpu"])
    assert code == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warnings) == 2
    assert any("16-bit depth dropped in 1 image(s)" in line for line in warnings)
    assert any("alpha dropped in 2 image(s)" in line and "--ext png keeps it" in line for line in warnings)
    assert stored(tmp_path / "out" / "a.jpg").dtype == np.uint8


def test_half_precision_is_refused_on_the_cpu_in_one_line(tmp_path, realesrgan_checkpoint, capsys):
    realesrgan_checkpoint(tmp_path / "m.pth", "compact", 2)
    write_image_array(tmp_path / "a.png", random_pixels(6, 6, 3))
    code = main(["sr", "--model", str(tmp_path / "m.pth"), "-i", str(tmp_path / "a.png"), "-o", str(tmp_path / "o"),
                 "--half", "--device", "cpu"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "half precision runs on CUDA only" in err


def test_an_output_onto_its_own_input_is_refused(tmp_path, realesrgan_checkpoint):
    realesrgan_checkpoint(tmp_path / "m.pth", "compact", 2)
    write_image_array(tmp_path / "a.png", random_pixels(6, 6, 3))
    with pytest.raises(UserError, match="overwrite the input"):
        sr_folder(tmp_path / "m.pth", tmp_path / "a.png", tmp_path, progress=False)


def test_the_cli_offers_every_format_the_writer_knows():
    assert set(EXTENSIONS) == set(OUTPUT_EXTENSIONS)


def test_a_net_in_lower_precision_gets_its_dtype_and_gives_float32(tmp_path, realesrgan_checkpoint):
    """The --half path without CUDA: the input is cast to the net's dtype (bfloat16 here, which the CPU runs) and
    the output comes back float32, close to the float32 net's."""
    realesrgan_checkpoint(tmp_path / "m.pth", "compact", 2)
    full = load_sr_net(tmp_path / "m.pth").net
    low = load_sr_net(tmp_path / "m.pth").net.to(torch.bfloat16)
    lr = torch.rand(1, 3, 10, 12, generator=torch.Generator().manual_seed(0))
    out = super_resolve(low, lr)
    assert out.dtype == torch.float32
    assert (out - super_resolve(full, lr)).abs().max() < 0.05
    eight_bit = super_resolve(low, lr, out_dtype=torch.uint8)
    assert eight_bit.dtype == torch.uint8 and eight_bit.shape == (1, 3, 20, 24)


def test_tiles_give_the_whole_images_16_bit_output(tmp_path, realesrgan_checkpoint):
    realesrgan_checkpoint(tmp_path / "m.pth", "compact", 2)  # receptive-field radius 4 (4 convs): tile_pad 8 covers it
    write_image_array(tmp_path / "lr" / "a.png", random_pixels(13, 11, 4, np.uint16))
    sr_folder(tmp_path / "m.pth", tmp_path / "lr", tmp_path / "whole", progress=False)
    sr_folder(tmp_path / "m.pth", tmp_path / "lr", tmp_path / "tiled", tile=5, tile_pad=8, progress=False)
    whole, tiled = stored(tmp_path / "whole" / "a.png"), stored(tmp_path / "tiled" / "a.png")
    assert tiled.dtype == np.uint16 and tiled.shape == whole.shape == (26, 22, 4)
    assert np.abs(tiled.astype(int) - whole.astype(int)).max() <= 1


def test_a_safetensors_checkpoint_loads_too(tmp_path, realesrgan_checkpoint):
    net = realesrgan_checkpoint(tmp_path / "m.pth", "compact", 4)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(tmp_path / "m.safetensors"))
    lr = torch.rand(1, 3, 6, 5, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = net(lr).clamp(0, 1)
    assert torch.allclose(super_resolve(load_sr_net(tmp_path / "m.safetensors").net, lr), expected, atol=1e-6)


def test_without_spandrel_a_foreign_checkpoint_says_what_to_install(tmp_path, realesrgan_checkpoint, monkeypatch):
    realesrgan_checkpoint(tmp_path / "m.pth", "compact", 4)
    monkeypatch.setitem(sys.modules, "spandrel", None)  # import spandrel now raises ImportError
    with pytest.raises(UserError, match="needs spandrel: pip install spandrel"):
        load_sr_net(tmp_path / "m.pth")
