"""Real-ESRGAN's second-order pipeline as a probdeg source: seeded draws that leave the caller's random streams alone,
per-sample draws inside a batch, each step doing what its parameters say, the preset's values, one-line errors for
bad parameters, and the CUDA path."""

import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F

pytest.importorskip("probdeg.integrations.basicsr")
from probdeg.errors import OptionError, UserError  # noqa: E402
from probdeg.integrations.basicsr.handmade import RealESRGANDegradation, blur  # noqa: E402
from probdeg.integrations.basicsr.schema import HandmadeOptions  # noqa: E402
from probdeg.integrations.basicsr.sources import HandmadeSource, handmade_preset, read_source  # noqa: E402
from probdeg.metrics import noise_level  # noqa: E402
from probdeg.metrics.image import psnr_float  # noqa: E402

# Every step off or fixed: one resize to LR (keep, then the final resize), JPEG at 100, Gaussian noise of the second
# order at 8/255 only, gray (JPEG subsamples the chroma of colour noise).
IDENTITY_STEPS = {"handmade": "realesrgan", "kernel_list": ["iso"], "kernel_prob": [1], "blur_sigma": [0.01, 0.02],
                  "sinc_prob": 0, "resize_prob": [0, 0, 1], "gaussian_noise_prob": 1, "noise_range": [0, 0],
                  "jpeg_range": [100, 100], "second_blur_prob": 0, "resize_prob2": [0, 0, 1],
                  "gaussian_noise_prob2": 1, "noise_range2": [8, 8], "gray_noise_prob2": 1, "jpeg_range2": [100, 100],
                  "final_sinc_prob": 0}


def _smooth(batch: int = 2, size: int = 128, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return F.interpolate(torch.rand(batch, 3, size // 16, size // 16, generator=g), size=(size, size),
                         mode="bicubic", align_corners=False).clamp(0, 1)


def _pipeline(**changes) -> RealESRGANDegradation:
    return read_source({"handmade": "realesrgan", **changes}, "test").degradation(4)


def test_the_preset_holds_real_esrgan_s_x4plus_values():
    options = HandmadeSource.read({"handmade": "realesrgan"}, "x").options
    assert options.kernel_prob == (0.45, 0.25, 0.12, 0.03, 0.12, 0.03) and options.blur_sigma == (0.2, 3.0)
    assert options.resize_prob == (0.2, 0.7, 0.1) and options.resize_range == (0.15, 1.5)
    assert options.noise_range == (1.0, 30.0) and options.poisson_scale_range == (0.05, 3.0)
    assert options.jpeg_range == options.jpeg_range2 == (30.0, 95.0) and options.second_blur_prob == 0.8
    assert options.resize_prob2 == (0.3, 0.4, 0.3) and options.noise_range2 == (1.0, 25.0)
    assert options.final_sinc_prob == 0.8 and options.kernel_size_range == (7, 21)
    assert set(handmade_preset("realesrgan", "x")) == set(HandmadeOptions.checks())  # the preset gives every key


def test_a_seed_fixes_the_lr_and_the_caller_s_random_streams_do_not_move():
    pipeline = _pipeline()
    hr = _smooth()
    random.seed(5)
    np.random.seed(5)
    torch.manual_seed(5)
    states = random.getstate(), np.random.get_state()[1].copy(), torch.get_rng_state()
    first, again, other = pipeline.degrade(hr, 1), pipeline.degrade(hr, 1), pipeline.degrade(hr, 2)
    assert first.shape == (2, 3, 32, 32) and torch.equal(first, again) and not torch.equal(first, other)
    assert random.getstate() == states[0] and np.array_equal(np.random.get_state()[1], states[1])
    assert torch.equal(torch.get_rng_state(), states[2])
    assert torch.equal(first, (first * 255).round() / 255) and 0 <= first.min() and first.max() <= 1  # 8-bit


def test_per_sample_draws_differ_inside_a_batch_and_seeded_images_stand_alone():
    pipeline = _pipeline()
    hr = _smooth(1).expand(4, -1, -1, -1)
    lr = pipeline.degrade(hr, 3)
    assert all(not torch.equal(lr[i], lr[j]) for i in range(4) for j in range(i))  # kernels, noise, JPEG per sample
    seeded = pipeline.degrade_seeded(hr, [7, 8, 9, 10])
    assert torch.equal(seeded[2], pipeline.degrade(hr[:1], 9)[0])  # one image's LR depends on its seed only


def test_with_every_step_fixed_the_lr_is_the_resized_hr_plus_the_second_noise_at_its_sigma():
    hr = _smooth(4, 256)[:, :1].expand(-1, 3, -1, -1)  # gray: JPEG's chroma subsampling loses nothing
    clean = read_source({**IDENTITY_STEPS, "noise_range2": [0, 0]}, "x").degradation(4).degrade(hr, 0)
    resized = [F.interpolate(hr, size=(64, 64), mode=mode) for mode in ("area", "bilinear", "bicubic")]
    assert max(float(psnr_float(clean, r).min()) for r in resized) > 35  # one of the three interpolations
    noisy = read_source(IDENTITY_STEPS, "x").degradation(4).degrade(hr, 0)
    level = float(noise_level(noisy - clean + 0.5).mean())
    assert level == pytest.approx(8 / 255, rel=0.15)


def test_blur_takes_images_smaller_than_its_padding_and_equals_filter2d_elsewhere():
    from basicsr.utils.img_process_util import filter2D

    kernel = torch.zeros(2, 21, 21)
    kernel[:, 10, 9:12] = 1 / 3
    image = torch.rand(2, 3, 24, 24)
    assert torch.equal(blur(image, kernel), filter2D(image, kernel))
    small = torch.rand(2, 3, 6, 5)
    out = blur(small, kernel)
    assert out.shape == small.shape
    torch.testing.assert_close(out[..., 2:4, 1:4], (small[..., 2:4, 0:3] + small[..., 2:4, 1:4] +
                                                   small[..., 2:4, 2:5]) / 3)


def test_each_pipeline_owns_its_jpeg_tables():
    first, second = _pipeline(), _pipeline()
    first.jpeger.double()  # as .to("cuda") would: BasicSR's tables are shared module-level Parameters
    assert all(p.dtype == torch.float32 for p in second.jpeger.parameters())
    assert not any(p.requires_grad for p in first.parameters())


def test_small_crops_and_sharpening_run():
    lr = _pipeline(usm_sharpen=True).degrade(_smooth(2, 32), 0)  # second-order LR down to 2 px
    assert lr.shape == (2, 3, 8, 8) and torch.isfinite(lr).all()


BAD = [({"kernel_list": ["iso", "gausian"], "kernel_prob": [0.5, 0.5]}, "kernel_list", "unknown kernel 'gausian'"),
       ({"kernel_prob": [0.5, 0.25, 0.12, 0.03, 0.12, 0.03]}, "kernel_prob", "sum to 1, got a sum of 1.05"),
       ({"kernel_prob2": [0.5, 0.5]}, "kernel_prob2", "2 probabilities for the 6 kernels"),
       ({"resize_prob": [0.5, 0.5]}, "resize_prob", "a list of 3 probabilities >= 0 that sum to 1"),
       ({"blur_sigma": [3, 0.2]}, "blur_sigma", "low < high"),
       ({"blur_sigma2": [1, 1]}, "blur_sigma2", "low < high"),
       ({"noise_range2": [10, 1]}, "noise_range2", "low <= high"),
       ({"jpeg_range": [30, 101]}, "jpeg_range", "1 <= low <= high <= 100"),
       ({"jpeg_range2": [0, 95]}, "jpeg_range2", "1 <= low <= high <= 100"),
       ({"sinc_prob": 1.5}, "sinc_prob", "a probability in [0, 1]"),
       ({"kernel_size_range": [6, 21]}, "kernel_size_range", "odd kernel sizes"),
       ({"jpeg_rang": [30, 95]}, "jpeg_rang", "did you mean 'jpeg_range'?"),
       ({"jpeg": [30, 95]}, "jpeg", "applies to generator sources only (the hand-made pipeline has jpeg_range"),
       ({"handmade": "realesrgan_x2"}, "handmade", "expected a hand-made preset, one of realesrgan")]


@pytest.mark.parametrize("change, key, message", BAD, ids=[b[1] for b in BAD])
def test_bad_parameters_are_one_line_errors_naming_the_key(change, key, message):
    with pytest.raises(OptionError) as error:
        read_source({"handmade": "realesrgan", **change}, "degradations[1]")
    text = str(error.value)
    assert text.startswith(f"degradations[1]:{key}: ") and message in text and "\n" not in text


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_cuda_the_lr_is_made_there_and_seeded():
    pipeline = _pipeline().to("cuda")
    hr = _smooth().cuda()
    lr = pipeline.degrade(hr, 1)
    assert lr.device.type == "cuda" and torch.equal(lr, pipeline.degrade(hr, 1)) and torch.isfinite(lr).all()
    assert float(psnr_float(lr.cpu(), _pipeline().degrade(hr.cpu(), 1)).min()) > 10  # same draws of kernels and choices


# ------------------------------------------------------------------------------------------------ offline, scorecard
@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    from probdeg.io import write_image

    root = tmp_path_factory.mktemp("handmade")
    for i, name in enumerate(["a.png", "sub/b.png", "c.png"]):
        write_image(root / "hr" / name, _smooth(1, 64, seed=i)[0].permute(1, 2, 0).numpy())
        write_image(root / "real_lr" / name, _smooth(1, 32, seed=10 + i)[0].permute(1, 2, 0).numpy())
    return root


def test_degrade_folder_writes_a_generator_s_layout_records_the_pipeline_and_resumes(folders, tmp_path):
    import json

    from probdeg.degrade import degrade_folder
    from probdeg.io import image_to_tensor, read_image
    from probdeg.noise_field import sample_seed

    pipeline = _pipeline()
    summary = degrade_folder(pipeline, folders / "hr", tmp_path / "lr", samples=2, seed=4, progress=False)
    names = sorted(p.relative_to(tmp_path / "lr").as_posix() for p in (tmp_path / "lr").rglob("*.png"))
    assert names == ["a_s0.png", "a_s1.png", "c_s0.png", "c_s1.png", "sub/b_s0.png", "sub/b_s1.png"]
    assert summary["written"] == 6 and summary["scale"] == 4
    hr = image_to_tensor(read_image(folders / "hr" / "sub" / "b.png"))[None]
    expected = pipeline.degrade(hr, sample_seed(4, "sub/b.png", 1))[0]
    assert torch.equal(image_to_tensor(read_image(tmp_path / "lr" / "sub" / "b_s1.png")), expected)
    manifest = json.loads((tmp_path / "lr" / ".probdeg.json").read_text())
    assert "realesrgan" in json.dumps(manifest) and "model_sha256" not in json.dumps(manifest)
    again = degrade_folder(pipeline, folders / "hr", tmp_path / "lr", samples=2, seed=4, progress=False)
    assert again["written"] == 0 and again["skipped"] == 6  # the same settings resume: every output is there
    with pytest.raises(UserError):
        degrade_folder(_pipeline(jpeg_range=[80, 95]), folders / "hr", tmp_path / "lr", samples=2, seed=4,
                       progress=False)  # other parameters: refused, not mixed in
    with pytest.raises(UserError, match="leave the tile unset"):
        degrade_folder(pipeline, folders / "hr", tmp_path / "tiled", tile=32, progress=False)


def test_the_command_line_degrades_with_a_preset_or_an_option_file_and_names_a_bad_key(folders, tmp_path, capsys):
    from probdeg.cli import main

    assert main(["degrade", "--handmade", "realesrgan", "--input", str(folders / "hr"), "--output",
                 str(tmp_path / "lr"), "--no-progress"]) == 0
    assert len(list((tmp_path / "lr").rglob("*.png"))) == 3
    block = tmp_path / "fitted.yml"
    block.write_text("handmade: realesrgan\nsecond_blur_prob: 0\njpeg_range2: [60, 95]\n")
    assert main(["degrade", "--handmade", str(block), "--input", str(folders / "hr"), "--output",
                 str(tmp_path / "lr_block"), "--no-progress"]) == 0
    block.write_text("handmade: realesrgan\njpeg_range2: [95, 60]\n")
    capsys.readouterr()
    assert main(["degrade", "--handmade", str(block), "--input", str(folders / "hr"), "--output",
                 str(tmp_path / "bad"), "--no-progress"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"probdeg degrade: error: {block}: jpeg_range2: expected [low, high] JPEG qualities")
    assert "\n" not in error


def test_the_scorecard_scores_the_pipeline_beside_the_reference_rows(folders, tmp_path):
    from probdeg.metrics.scorecard import score_generators, write_scorecard

    card, generators = score_generators([], folders / "hr", folders / "real_lr", samples=2, crop=None,
                                        progress=False, handmade=[("handmade:realesrgan", _pipeline())])
    row = card.row("handmade:realesrgan")
    assert row.checkpoint == "handmade" and row.latent_strength is None
    assert row.rho > 0 and row.noise_level > card.row("bicubic").noise_level  # it draws noise, the bicubic none
    assert row.block_edge_ratio is not None and card.real_block_edge_ratio is not None
    paths = write_scorecard(card, tmp_path / "card", generators=generators)
    assert paths["grid:handmade:realesrgan"].is_file() and "JPEG block-edge" in paths["md"].read_text()


def test_score_generator_takes_handmade_on_the_command_line(folders, tmp_path, capsys):
    from probdeg.cli import main

    assert main(["score-generator", "--hr", str(folders / "hr"), "--real-lr", str(folders / "real_lr"), "--handmade",
                 "realesrgan", "--samples", "2", "--crop", "0", "--out", str(tmp_path / "card"), "--no-progress"]) == 0
    assert "handmade:realesrgan" in (tmp_path / "card" / "scorecard.md").read_text()
