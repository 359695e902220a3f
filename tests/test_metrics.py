"""The generator figures of probdeg.metrics: noise level, spread and rho, patch distance, latent strengths."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from probdeg import DeResnet, Probabilistic
from probdeg.archs import probabilistic_deresnet
from probdeg.filters import HighPass
from probdeg.metrics.degradation import (
    diversity_ratio,
    gaussian_pair_distance,
    high_frequency_distance,
    latent_strengths,
    mean_strength,
    noise_level,
    patch_distance,
    sample_spread,
)


def smooth(size: int = 128) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    return (0.3 + 0.4 * torch.stack([yy, xx, (yy + xx) / 2]))[None]


def photo() -> torch.Tensor:
    from skimage import data

    return torch.from_numpy(data.astronaut().astype(np.float32) / 255).permute(2, 0, 1)[None]


@pytest.mark.parametrize("sigma", [0.005, 0.01, 0.03, 0.1])
def test_noise_level_recovers_known_gaussian_noise(sigma):
    gen = torch.Generator().manual_seed(0)
    clean = smooth()
    assert noise_level(clean).item() < 1e-6
    noisy = clean + sigma * torch.randn(clean.shape, generator=gen)
    assert noise_level(noisy).item() == pytest.approx(sigma, rel=0.06)


def test_noise_level_on_a_textured_photo_is_led_by_the_noise_not_the_texture():
    pytest.importorskip("skimage")
    gen = torch.Generator().manual_seed(1)
    image = photo()
    base = noise_level(image).item()  # the photo's own grain
    for sigma in (0.02, 0.05):
        noisy = image + sigma * torch.randn(image.shape, generator=gen)
        expected = (sigma**2 + base**2) ** 0.5
        assert noise_level(noisy).item() == pytest.approx(expected, rel=0.15)
    with pytest.raises(ValueError, match="at least 16x16"):
        noise_level(torch.rand(1, 3, 8, 8))


def test_rho_is_zero_for_a_deterministic_net_and_about_one_for_the_real_noise_level():
    gen = torch.Generator().manual_seed(2)
    torch.manual_seed(0)
    G = DeResnet(num_feat=8, num_blocks=2).eval()
    hr = torch.rand(2, 3, 64, 64, generator=gen)
    with torch.no_grad():
        deterministic = torch.stack([G(hr), G(hr), G(hr)], dim=1)
    assert diversity_ratio(deterministic, 0.02).item() == 0.0
    clean = F.avg_pool2d(hr, 4)
    samples = torch.stack([clean + 0.02 * torch.randn(clean.shape, generator=gen) for _ in range(4)], dim=1)
    assert diversity_ratio(samples, 0.02).item() == pytest.approx(1.0, abs=0.1)
    assert sample_spread(samples).shape == (2,)
    with pytest.raises(ValueError, match="n>=2"):
        sample_spread(samples[:, :1])


def test_patch_distance_is_zero_for_identical_sets_and_grows_with_added_noise():
    gen = torch.Generator().manual_seed(3)
    clean = smooth(96) + 0.1 * torch.sin(torch.arange(96) / 3.0)  # some content
    real = clean + 0.02 * torch.randn(clean.shape, generator=gen)
    assert patch_distance(real, real).item() == 0.0
    distances = [patch_distance(clean + s * torch.randn(clean.shape, generator=gen), real).item()
                 for s in (0.02, 0.03, 0.05)]
    assert distances[0] < 0.1 and distances[0] < distances[1] < distances[2]
    assert patch_distance(clean, real).item() > 3 * distances[0]  # noise-free against noisy
    assert patch_distance([real[..., :48, :], real[..., 48:, :60]], real).item() < 0.1  # lists of sizes


def test_latent_strengths_report_each_latent_and_the_conditional_sigma_map():
    G = probabilistic_deresnet(num_feat=8, num_blocks=2, init_strength=0.5, std=0.1)
    rows = latent_strengths(G)
    assert len(rows) == 2 and all(row["strength"] == pytest.approx(0.05) for row in rows)
    assert mean_strength(latent_strengths(probabilistic_deresnet(num_feat=8, num_blocks=2))) == 0.0
    conditional = Probabilistic(DeResnet(num_feat=8, num_blocks=2), sigma="conditional", init_strength=1.0)
    rows = latent_strengths(conditional, torch.rand(1, 3, 32, 32))
    assert all(row["sigma_map_mean"] > 0 and row["effective"] == pytest.approx(0.1 * row["sigma_map_mean"])
               for row in rows)


def test_the_gaussian_pair_distance_matches_the_wavelet_formula():
    # Haar detail bands of white noise keep its sigma; HighPass maps 0.5 * x: mean |0.5 (a - b)| = sigma / sqrt(pi).
    assert gaussian_pair_distance(0.02, HighPass("wavelet")) == pytest.approx(0.02 / np.pi**0.5, rel=0.02)
    assert gaussian_pair_distance(0.0, HighPass("wavelet")) == 0.0


@pytest.mark.parametrize("size", [(67, 71), (64, 39), (39, 64), (53, 53)])
def test_every_figure_takes_odd_and_prime_sizes(size):
    generator = torch.Generator().manual_seed(0)
    clean = F.interpolate(smooth(), size=size, mode="bilinear", align_corners=False)
    noisy = (clean + 0.05 * torch.randn(clean.shape, generator=generator)).clamp(0, 1)
    assert float(noise_level(noisy)) == pytest.approx(0.05, rel=0.2)
    # The odd last row / column is left out, not padded: the figure is that of the even crop.
    even = noisy[..., : size[0] // 2 * 2, : size[1] // 2 * 2]
    assert torch.equal(noise_level(noisy), noise_level(even))
    samples = torch.stack([noisy[0], clean[0]])[None]  # (1, 2, C, H, W)
    assert float(sample_spread(samples)) > 0.02
    assert float(patch_distance([noisy], [noisy])) == 0
    assert float(patch_distance([clean], [noisy])) > 0
    assert torch.isfinite(high_frequency_distance(clean, noisy))
