"""The unpaired LR statistics of the fit's objective: noise by brightness finds the noise added in each band,
sharpness falls with blur, blocking rises with JPEG, and a set matches itself."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from probdeg.jpeg import compress
from probdeg.metrics.lr_match import BRIGHTNESS_EDGES, lr_statistics, match_measures, objective


def _scene(seed: int, size: int = 96) -> torch.Tensor:
    """Flat steps of several brightnesses with sharp edges (gray)."""
    g = torch.Generator().manual_seed(seed)
    levels = torch.rand(size // 16, size // 16, generator=g) * 0.8 + 0.1
    return F.interpolate(levels[None, None], size=(size, size), mode="nearest")[0].expand(3, -1, -1).clone()


def _noisy(image: torch.Tensor, sigma: float, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (image + sigma * torch.randn(image.shape[-2:], generator=g)).clamp(0, 1)  # gray noise


def test_noise_by_brightness_finds_a_band_dependent_noise():
    images = []
    for seed in range(6):
        clean = _scene(seed)
        images.append((clean + (0.01 + 0.04 * clean) * torch.randn(clean.shape[-2:], generator=torch.Generator()
                                                                    .manual_seed(seed))).clamp(0, 1))
    stats = lr_statistics(images)
    centres = [(lo + hi) / 2 for lo, hi in zip(BRIGHTNESS_EDGES[:-1], BRIGHTNESS_EDGES[1:])]
    found = [(c, level) for c, level in zip(centres, stats.noise_by_brightness) if level is not None]
    assert len(found) >= 3
    for centre, level in found:
        assert level == pytest.approx(0.01 + 0.04 * centre, rel=0.3)
    assert found[-1][1] > 1.5 * found[0][1]


def test_sharpness_falls_with_blur_and_blocking_rises_with_jpeg():
    sharp = [_scene(s) for s in range(4)]
    kernel = torch.ones(1, 1, 5, 5) / 25
    blurred = [F.conv2d(x[:, None], kernel, padding=2)[:, 0] for x in sharp]
    assert lr_statistics(sharp).sharpness > lr_statistics(blurred).sharpness + 0.1
    noisy = [_noisy(x, 0.03, s) for s, x in enumerate(sharp)]
    jpeg = [torch.from_numpy(compress(x.permute(1, 2, 0).numpy(), 30)).permute(2, 0, 1) for x in noisy]
    assert lr_statistics(jpeg).blocking > lr_statistics(noisy).blocking + 0.05


def test_a_set_matches_itself_and_a_noisier_set_is_farther():
    real = [_noisy(_scene(s), 0.02, s) for s in range(4)]
    same = match_measures(real, real)
    assert same["noise"] == 0 and same["blocking"] == 0 and same["sharpness"] == 0
    noisier = match_measures([_noisy(_scene(s), 0.06, 10 + s) for s in range(4)], real)
    assert noisier["noise"] == pytest.approx(np.log(3), rel=0.25) and objective(noisier) > objective(same)
