"""Stage-1 losses and figures: colour loss, LPIPS loading offline, PSNR, diversity, high-frequency statistics."""

import pytest
import torch

from probdeg.losses import ALEXNET_FILE, ColorLoss, LPIPSLoss, alexnet_weights_path
from probdeg.metrics.degradation import high_frequency_distance, sample_diversity
from probdeg.metrics.image import psnr_float


@pytest.mark.parametrize("kind", ["wavelet", "avg_pool", "gau"])
def test_color_loss_ignores_high_frequencies_and_sees_colour(kind):
    torch.manual_seed(0)
    reference = torch.rand(2, 3, 32, 32) * 0.5 + 0.25
    loss = ColorLoss(kind)
    checker = (torch.arange(32).view(1, 32) + torch.arange(32).view(32, 1)) % 2 * 0.1 - 0.05  # Nyquist texture
    assert loss(reference, reference) == 0
    assert loss(reference + checker, reference) < 0.02  # removed by the low-pass (mostly: its support is small)
    assert loss(reference + 0.1, reference) == pytest.approx(0.1, abs=1e-5)  # a colour shift is seen in full


def test_psnr_and_diversity_figures():
    x = torch.zeros(1, 3, 8, 8)
    assert psnr_float(x, x + 0.1).item() == pytest.approx(20.0, abs=1e-4)
    same = torch.rand(2, 1, 3, 8, 8).expand(2, 3, 3, 8, 8)
    assert sample_diversity(same) == 0
    samples = torch.stack([torch.zeros(3, 4, 4), torch.ones(3, 4, 4), torch.full((3, 4, 4), 0.5)]).unsqueeze(0)
    assert sample_diversity(samples).item() == pytest.approx((1 + 0.5 + 0.5) / 3)
    with pytest.raises(ValueError, match="n>=2"):
        sample_diversity(torch.rand(1, 1, 3, 4, 4))


def test_high_frequency_distance_tells_noise_levels_apart_without_weights():
    gen = torch.Generator().manual_seed(0)
    base = torch.full((4, 3, 48, 48), 0.5)
    real = base + 0.05 * torch.randn(base.shape, generator=gen)
    same_noise = base + 0.05 * torch.randn(base.shape, generator=gen)
    too_clean = base + 0.01 * torch.randn(base.shape, generator=gen)
    salt = base + 0.05 * torch.randn(base.shape, generator=gen).sign() * torch.rand(base.shape, generator=gen).lt(0.2)
    close = high_frequency_distance(same_noise, real)
    assert close < 0.1
    assert high_frequency_distance(too_clean, real) > 10 * close
    assert high_frequency_distance(salt, real) > 5 * close
    assert high_frequency_distance([same_noise[:2], same_noise[2:, :, :32, :40]], real) < 0.15  # lists of sizes


def test_lpips_loads_alexnet_from_the_hub_cache_or_a_path_and_never_downloads(tmp_path, monkeypatch):
    torchvision = pytest.importorskip("torchvision")
    pytest.importorskip("lpips")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    expected = tmp_path / "torch_home" / "hub" / "checkpoints" / ALEXNET_FILE
    assert alexnet_weights_path() == expected
    with pytest.raises(FileNotFoundError) as missing:
        LPIPSLoss()
    assert ALEXNET_FILE in str(missing.value) and str(expected) in str(missing.value)
    torch.manual_seed(0)
    expected.parent.mkdir(parents=True)
    torch.save(torchvision.models.alexnet().state_dict(), expected)  # random weights stand in for ImageNet ones
    lpips_loss = LPIPSLoss()
    x = torch.rand(1, 3, 64, 64)
    assert lpips_loss(x, x).item() == pytest.approx(0.0, abs=1e-6)
    assert lpips_loss(x, torch.rand(1, 3, 64, 64)) > 0
    trunk = torchvision.models.alexnet().state_dict()
    saved = torch.load(expected, weights_only=True)
    assert torch.equal(getattr(lpips_loss.model.net.slice1, "0").weight, saved["features.0.weight"])
    other = tmp_path / "elsewhere.pth"
    torch.save(trunk, other)
    assert torch.equal(getattr(LPIPSLoss(weights=other).model.net.slice5, "10").weight, trunk["features.10.weight"])
    bad = tmp_path / "bad.pth"
    torch.save({"conv.weight": torch.zeros(1)}, bad)
    with pytest.raises(ValueError, match="not torchvision's AlexNet"):
        LPIPSLoss(weights=bad)
