"""`probdeg.degrade` and `probdeg degrade`: LR datasets from HR folders, tiles, reproducible noise, grids."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import (
    NET,
    folder_args,
    folder_pngs,
    randomise_injections,
    smooth_image,
    tiny_generator,
)

from probdeg import DeResnet
from probdeg.archs import probabilistic_deresnet
from probdeg.checkpoint import load_network, save_checkpoint
from probdeg.cli import main
from probdeg.degrade import degrade_batch, degrade_folder, degrade_image, infer_scale, sample_grid
from probdeg.errors import UserError
from probdeg.figures import LABEL_HEIGHT as GRID_LABEL_HEIGHT
from probdeg.io import read_image, write_image
from probdeg.noise_field import NoiseField, sample_seed

UNICODE = "sub/deep/d e \u00fc.png"
HR_SIZES = {"a.png": (48, 48), "b.png": (48, 48), "big.png": (104, 136), "odd.png": (50, 45), "sub/c.png": (48, 48),
            UNICODE: (40, 56)}


def outputs(folder: Path) -> dict[str, np.ndarray]:
    return {p.relative_to(folder).as_posix(): read_image(p) for p in sorted(folder.rglob("*.png"))}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("degrade")
    model = root / "G.pth"
    save_checkpoint(model, tiny_generator(), {"type": "Probabilistic", "net": NET})
    gen = np.random.default_rng(0)
    hr = root / "hr"
    for name, (h, w) in HR_SIZES.items():
        yy, xx = np.mgrid[0:h, 0:w] / 24.0
        smooth = 0.5 + 0.3 * np.sin(yy[..., None] + xx[..., None] * np.array([1.0, 0.7, 0.4]))
        write_image(hr / name, np.clip(smooth + 0.1 * gen.random((h, w, 3)), 0, 1).astype(np.float32))
    return {"root": root, "model": model, "hr": hr}


def expected_names(samples: int) -> set[str]:
    stems = [name[:-4] for name in HR_SIZES]
    if samples == 1:
        return {f"{stem}.png" for stem in stems}
    return {f"{stem}_s{k}.png" for stem in stems for k in range(samples)}


# ------------------------------------------------------------------------------------------------------------ folders
def test_writes_every_sample_keeps_sub_folders_and_crops_to_the_scale(data, tmp_path):
    summary = degrade_folder(data["model"], data["hr"], tmp_path / "lr", samples=2, seed=0, progress=False)
    found = outputs(tmp_path / "lr")
    assert set(found) == expected_names(2)
    assert summary["written"] == 12 and summary["skipped"] == 0 and summary["failed"] == 0 and summary["scale"] == 4
    assert found["odd_s1.png"].shape == (12, 11, 3)  # 50x45 cropped to 48x44
    assert found["big_s0.png"].shape == (26, 34, 3)
    assert found["sub/deep/d e \u00fc_s0.png"].shape == (10, 14, 3)
    assert not np.array_equal(found["a_s0.png"], found["a_s1.png"])  # samples of one image differ
    one = degrade_folder(data["model"], data["hr"], tmp_path / "one", samples=1, progress=False)
    assert set(outputs(tmp_path / "one")) == expected_names(1) and one["written"] == 6


def test_jpeg_compresses_each_sample_at_a_quality_fixed_by_its_seed(data, tmp_path):
    from probdeg.degrade import _jpeg_quality
    from probdeg.jpeg import compress

    degrade_folder(data["model"], data["hr"], tmp_path / "plain", samples=2, seed=5, progress=False)
    degrade_folder(data["model"], data["hr"], tmp_path / "jpeg", samples=2, seed=5, progress=False, jpeg=(20, 40))
    plain, compressed = outputs(tmp_path / "plain"), outputs(tmp_path / "jpeg")
    assert set(plain) == set(compressed)
    qualities = [_jpeg_quality(5, name, k, (20, 40)) for name in HR_SIZES for k in range(2)]
    assert all(20 <= q <= 40 for q in qualities) and len(set(qualities)) > 1
    q0 = _jpeg_quality(5, "big.png", 0, (20, 40))
    # the 8-bit PNG of the plain sample, compressed at that quality, is the stored sample (to one 8-bit level)
    assert np.abs(compress(plain["big_s0.png"], q0) - compressed["big_s0.png"]).max() <= 1.5 / 255
    assert np.abs(plain["big_s0.png"] - compressed["big_s0.png"]).max() > 4 / 255
    with pytest.raises(UserError, match="jpeg: expected a quality range"):
        degrade_folder(data["model"], data["hr"], tmp_path / "bad", samples=1, progress=False, jpeg=(50, 20))


def test_outputs_depend_on_seed_path_and_sample_only(data, tmp_path):
    # tile=64 also splits big.png (104x136): tiling must not change the outputs either.
    runs = {"b1": dict(batch=1), "again": dict(batch=1), "b4": dict(batch=4), "tiled": dict(batch=3, tile=64)}
    found = {}
    for name, options in runs.items():
        degrade_folder(data["model"], data["hr"], tmp_path / name, samples=2, seed=3, progress=False, **options)
        found[name] = outputs(tmp_path / name)
    for rel in found["b1"]:
        assert (tmp_path / "b1" / rel).read_bytes() == (tmp_path / "again" / rel).read_bytes(), rel
        # Batched convolutions may round differently in the last float bit, which rarely flips one 8-bit level.
        for other in ("b4", "tiled"):
            assert np.abs(found["b1"][rel] - found[other][rel]).max() <= 1.5 / 255, (other, rel)
    degrade_folder(data["model"], data["hr"], tmp_path / "seed4", samples=2, seed=4, progress=False)
    assert all(not np.array_equal(found["b1"][rel], img) for rel, img in outputs(tmp_path / "seed4").items())
    # The library call with the same key gives the folder's pixels.
    G = load_network(data["model"])
    lr = degrade_image(G, torch.from_numpy(read_image(data["hr"] / "a.png")).permute(2, 0, 1), scale=4, samples=2,
                       seed=3, key="a.png")
    assert np.abs(lr[1].permute(1, 2, 0).numpy() - found["b1"]["a_s1.png"]).max() <= 0.5 / 255 + 1e-6


def test_rerun_is_resumable_and_writes_nothing_new(data, tmp_path):
    out = tmp_path / "lr"
    degrade_folder(data["model"], data["hr"], out, samples=2, seed=0, batch=2, progress=False)
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*.png")}
    again = degrade_folder(data["model"], data["hr"], out, samples=2, seed=0, batch=2, progress=False)
    assert again["written"] == 0 and again["skipped"] == 12
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*.png")} == before
    # An interrupted run: one file is missing; it comes back identical.
    lost = out / "sub" / "c_s1.png"
    lost.unlink()
    resumed = degrade_folder(data["model"], data["hr"], out, samples=2, seed=0, progress=False)
    assert resumed["written"] == 1 and resumed["skipped"] == 11
    assert lost.read_bytes() == before[lost][1]
    assert all(p.stat().st_mtime_ns == mtime for p, (mtime, _) in before.items() if p != lost)
    # More samples (in a folder of their own: other settings are refused) keep the first ones.
    more = degrade_folder(data["model"], data["hr"], tmp_path / "more", samples=3, seed=0, progress=False)
    assert more["written"] == 18
    assert all((tmp_path / "more" / p.relative_to(out)).read_bytes() == content for p, (_, content) in before.items())


def test_output_folder_inside_the_input_folder_is_not_read_back(data, tmp_path):
    hr = tmp_path / "hr"
    shutil.copytree(data["hr"], hr)
    first = degrade_folder(data["model"], hr, hr / "lr", samples=1, progress=False)
    second = degrade_folder(data["model"], hr, hr / "lr", samples=1, progress=False)
    assert first["images"] == second["images"] == 6 and second["written"] == 0
    assert set(outputs(hr / "lr")) == expected_names(1)
    for bad in (hr, tmp_path):  # the input folder itself, or a folder holding it
        with pytest.raises(ValueError, match="contains the input folder"):
            degrade_folder(data["model"], hr, bad, progress=False)


def test_a_corrupt_image_is_reported_skipped_and_counted(data, tmp_path):
    hr = tmp_path / "hr"
    shutil.copytree(data["hr"], hr)
    (hr / "sub" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.warns(UserWarning, match="broken.png"):
        summary = degrade_folder(data["model"], hr, tmp_path / "lr", samples=1, progress=False)
    assert summary["failed"] == 1 and "broken.png" in summary["failures"][0]
    assert summary["written"] == 6 and summary["images"] == 7


def test_inputs_that_would_share_an_output_are_refused(data, tmp_path):
    hr = tmp_path / "hr"
    write_image(hr / "x.png", np.zeros((8, 8, 3), np.float32))
    shutil.copy(hr / "x.png", hr / "x.PNG.png")
    (hr / "x.PNG.png").rename(hr / "x.bmp")
    with pytest.raises(ValueError, match="would both be written"):
        degrade_folder(data["model"], hr, tmp_path / "lr", progress=False)


# ------------------------------------------------------------------------------------------------------------ tiles
@pytest.mark.parametrize("overlap", [16, 32])
def test_tiles_match_the_whole_image(overlap):
    G = tiny_generator()
    hr = torch.rand(1, 3, 72, 104, generator=torch.Generator().manual_seed(1))
    for mode in ("mean", "random"):
        whole = degrade_image(G, hr, scale=4, samples=2, seed=5, mode=mode)
        tiled = degrade_image(G, hr, scale=4, samples=2, seed=5, mode=mode, tile=32, overlap=overlap)
        assert torch.allclose(whole, tiled, atol=1e-5), mode
    again = degrade_image(G, hr, scale=4, samples=2, seed=5, tile=32, overlap=overlap)
    assert torch.equal(tiled, again)
    net = DeResnet(num_feat=8, num_blocks=2, scale=4).eval()  # a plain deterministic net
    assert torch.allclose(degrade_image(net, hr, scale=4), degrade_image(net, hr, scale=4, tile=24, overlap=16),
                          atol=1e-5)


def test_noise_statistics_do_not_change_at_tile_borders():
    G = tiny_generator()
    gen = torch.Generator().manual_seed(2)
    hr = (0.5 + 0.1 * torch.rand(1, 3, 128, 256, generator=gen))
    tile = 32  # LR tile borders at every 8th column
    mean = degrade_image(G, hr, scale=4, mode="mean", tile=tile, overlap=16)
    residual = degrade_image(G, hr, scale=4, samples=6, seed=0, tile=tile, overlap=16) - mean
    spread = residual.std(dim=(0, 1, 2))  # per LR column
    border = torch.zeros(spread.shape[0], dtype=torch.bool)
    border[tile // 4::tile // 4] = True
    border[tile // 4 - 1::tile // 4] = True
    ratio = spread[border].mean() / spread[~border].mean()
    assert spread.min() > 0 and 0.85 < ratio < 1.15, ratio
    # Neighbouring samples are as correlated across a border as inside a tile (the noise does not restart).
    step = (residual[..., 1:] - residual[..., :-1]).abs().mean(dim=(0, 1, 2))
    across = border[1:] & border[:-1]
    assert 0.8 < step[across].mean() / step[~across].mean() < 1.25
    # The mean-mode part is smooth across borders: jumps there are like jumps elsewhere.
    jump = (mean[..., 1:] - mean[..., :-1]).abs().mean(dim=(0, 1, 2))
    assert jump[across].mean() < 1.5 * jump[~across].mean()


@pytest.mark.parametrize("sigma,noise", [("channel", "shared"), ("conditional", "shared"),
                                         ("channel", "per_channel"), ("conditional", "per_channel")])
def test_the_position_keyed_noise_is_the_layers_noise_source(sigma, noise):
    # The field only replaces each layer's i.i.d. draw: the layer's own formula (fused or not) does the rest.
    torch.manual_seed(0)
    G = probabilistic_deresnet(num_feat=8, num_blocks=2, scale=4, sigma=sigma, noise=noise,
                               mean_shift=sigma == "conditional")
    randomise_injections(G, scale=3.0)
    G.eval()
    hr = torch.rand(2, 3, 40, 48, generator=torch.Generator().manual_seed(3))
    seeds = [sample_seed(0, "x", 0), sample_seed(0, "x", 1)]
    field = NoiseField(list(G.injections), seeds)
    field.window = (0, 0, 40, 48)
    G.sampling.noise = field
    with torch.no_grad():
        native = G(hr).clamp(0, 1)
        eps = field(G.injections[0], hr, (2, 1 if noise == "shared" else 8, 40, 48))
    G.sampling.noise = None
    assert torch.allclose(degrade_batch(G, hr, seeds, scale=4), native, atol=1e-6)
    assert not torch.allclose(degrade_batch(G, hr, seeds, scale=4, mode="mean"), native, atol=1e-3)
    assert eps.shape[1] == (1 if noise == "shared" else 8) and abs(eps.std().item() - 1) < 0.1
    assert G.sampling.noise is None and G.sampling.mode == "random"  # degrade_batch restores the context


def test_bad_tiles_and_inputs_are_refused():
    G = tiny_generator()
    hr = torch.rand(1, 3, 32, 32)
    with pytest.raises(ValueError, match="multiple of the scale"):
        degrade_image(G, hr, scale=4, tile=30)
    with pytest.raises(ValueError, match="overlap"):
        degrade_image(G, hr, scale=4, tile=16, overlap=6)
    with pytest.raises(ValueError, match="one image"):
        degrade_image(G, torch.rand(2, 3, 32, 32), scale=4)
    with pytest.raises(ValueError, match="mode"):
        degrade_image(G, hr, scale=4, mode="typo")
    assert infer_scale(G) == 4 and infer_scale(torch.nn.AvgPool2d(2)) == 2
    assert sample_seed(0, "a.png", 0) == sample_seed(0, "a.png", 0) != sample_seed(0, "a.png", 1)


# ------------------------------------------------------------------------------------------------------------ grid, CLI
def test_sample_grid_has_one_row_per_image():
    G = tiny_generator()
    images = [torch.rand(3, 48, 64), torch.rand(1, 3, 32, 40)]
    grid = sample_grid(G, images, samples=3, seed=0, scale=4)
    # bicubic, 3 samples, 2 difference maps, and the heat maps' colour scale ending the first row
    assert grid.shape == (2 * (GRID_LABEL_HEIGHT + 48), 7 * 64, 3) and grid.dtype == np.float32
    assert 0 <= grid.min() and grid.max() <= 1
    cell = grid[GRID_LABEL_HEIGHT:GRID_LABEL_HEIGHT + 48]
    assert cell[:, 4 * 64:].max() > 0  # a difference map is not all black


def test_cli_writes_the_dataset_and_the_grid(data, tmp_path, capsys):
    out, grid = tmp_path / "lr", tmp_path / "grid.png"
    code = main(["degrade", "--model", str(data["model"]), "--input", str(data["hr"]), "--output", str(out),
                 "--samples", "2", "--batch", "2", "--device", "cpu", "--grid", str(grid), "--grid-images", "2",
                 "--no-progress"])
    assert code == 0
    line = capsys.readouterr().out.strip()
    assert "\n" not in line and "12 written, 0 skipped, 0 failed" in line and str(out) in line
    assert read_image(grid).shape == (2 * (GRID_LABEL_HEIGHT + 48), 7 * 48, 3)  # a.png and b.png, 3 samples, scale
    (data["root"] / "bad").mkdir(exist_ok=True)
    shutil.copytree(data["hr"] / "sub", data["root"] / "bad" / "sub", dirs_exist_ok=True)
    (data["root"] / "bad" / "zero.png").write_bytes(b"")
    assert main(["degrade", "--model", str(data["model"]), "--input", str(data["root"] / "bad"), "--output",
                 str(tmp_path / "lr2"), "--no-progress"]) == 1
    captured = capsys.readouterr()
    assert "zero.png" in captured.err and "1 failed" in captured.out


def test_cli_jpeg_auto_finds_the_real_lr_blocking_and_needs_the_real_lr(data, tmp_path, capsys):
    from probdeg.jpeg import compress

    real = tmp_path / "real"
    for k in range(3):  # real LR compressed at quality 40: blocky
        yy, xx = np.mgrid[0:64, 0:64] / 9.0
        image = 0.5 + 0.3 * np.sin(yy[..., None] * (1 + k) + xx[..., None] * np.array([1.0, 0.6, 0.3]))
        image += np.random.default_rng(k).normal(0, 0.02, image.shape)
        write_image(real / f"r{k}.png", compress(np.clip(image, 0, 1), 40))
    args = ["degrade", "--model", str(data["model"]), "--input", str(data["hr"]), "--no-progress", "--jpeg", "auto"]
    assert main([*args, "--output", str(tmp_path / "lr"), "--real-lr", str(real)]) == 0
    low, high = map(int, re.search(r"JPEG blocking: quality (\d+)-(\d+)", capsys.readouterr().out).groups())
    assert 1 <= low <= high <= 100  # how close the range comes: tests/test_jpeg.py, on larger images
    assert len(list((tmp_path / "lr").rglob("*.png"))) == len(HR_SIZES)
    assert main([*args, "--output", str(tmp_path / "lr2")]) == 2
    assert "--jpeg auto needs --real-lr" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse's own usage error
        main([*args[:-1], "40:x", "--output", str(tmp_path / "lr3")])
    assert "expected LOW:HIGH" in capsys.readouterr().err


def test_cli_errors_are_one_line(data, tmp_path, capsys):
    missing = tmp_path / "nowhere"
    assert main(["degrade", "--model", str(data["model"]), "--input", str(missing), "--output",
                 str(tmp_path / "lr")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("probdeg degrade: error:") and str(missing) in err and err.count("\n") == 1
    assert main(["degrade", "--model", str(tmp_path / "G.pth"), "--input", str(data["hr"]), "--output",
                 str(tmp_path / "lr")]) == 2
    assert "checkpoint not found" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "lr")


def test_samples_run_in_chunks_of_batch_with_the_same_outputs(files, tmp_path, monkeypatch):
    import probdeg.degrade as degrade

    sizes = []
    real = degrade.degrade_batch

    def spy(G, hr, seeds, **kwargs):
        sizes.append(hr.shape[0])
        return real(G, hr, seeds, **kwargs)

    monkeypatch.setattr(degrade, "degrade_batch", spy)
    source = tmp_path / "hr"
    write_image(source / "a.png", smooth_image(48, 48))
    outputs = {}
    for batch in (2, 8):
        sizes.clear()
        out = tmp_path / f"batch{batch}"
        assert main(folder_args("degrade", files["G"], source, out, "--samples", "8", "--batch", str(batch))) == 0
        assert max(sizes) == batch and sum(sizes) == 8
        outputs[batch] = folder_pngs(out)
    assert len(outputs[2]) == 8 and outputs[2] == outputs[8]  # bit-identical files


def test_outputs_of_overflowing_weights_are_not_written_each_image_named_with_the_model(data, tmp_path, capsys):
    G = tiny_generator()
    with torch.no_grad():
        for weight in G.parameters():
            weight.mul_(1e20)  # finite weights whose activations overflow: NaN or Inf out
    model = tmp_path / "blown.pth"
    save_checkpoint(model, G, {"type": "Probabilistic", "net": NET})
    assert main(["degrade", "--model", str(model), "--input", str(data["hr"]), "--output", str(tmp_path / "lr"),
                 "--samples", "2", "--device", "cpu", "--no-progress"]) == 1
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if "skipped" in line]
    assert len(lines) == len(HR_SIZES) and all(repr(str(model)) in line and "NaN or infinite" in line for line in lines)
    assert all(any(repr(str(data["hr"] / name)) in line for line in lines) for name in HR_SIZES)
    assert f"0 written, 0 skipped, {len(HR_SIZES)} failed" in captured.out and not outputs(tmp_path / "lr")


def test_real_lr_without_jpeg_auto_is_refused_not_ignored(data, tmp_path, capsys):
    assert main(["degrade", "--model", str(data["model"]), "--input", str(data["hr"]), "--output", str(tmp_path / "lr"),
                 "--real-lr", str(data["hr"]), "--no-progress"]) == 2
    assert "--real-lr is read by --jpeg auto only" in capsys.readouterr().err
    assert not (tmp_path / "lr").exists()
