"""Figures for judging a degradation generator: fidelity, realism without weights, diversity, bicubic collapse."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Union

import torch
import torch.nn.functional as F
from torch import Tensor

from .filters import gaussian_kernel2d


def psnr(x: Tensor, y: Tensor, max_value: float = 1.0) -> Tensor:
    """Peak signal-to-noise ratio per image, in dB (inputs are clamped to [0, max_value]).

    Shape:
        x, y: (B, C, H, W) -> (B,).
    """
    mse = (x.clamp(0, max_value) - y.clamp(0, max_value)).float().pow(2).flatten(1).mean(1)
    return 10 * torch.log10(max_value**2 / mse.clamp_min(1e-12))


def sample_diversity(samples: Tensor) -> Tensor:
    """Mean pairwise L1 distance between the samples of each image: 0 for a deterministic generator.

    Shape:
        samples: (B, n, C, H, W) with n >= 2 -> scalar.
    """
    if samples.dim() != 5 or samples.shape[1] < 2:
        raise ValueError(f"sample_diversity needs (B, n>=2, C, H, W) samples, got {tuple(samples.shape)}")
    pairs = itertools.combinations(range(samples.shape[1]), 2)
    return torch.stack([(samples[:, i] - samples[:, j]).abs().mean() for i, j in pairs]).mean()


def high_frequency_residual(x: Tensor, kernel_size: int = 5) -> Tensor:
    """``x - gaussian_blur(x)`` on the valid region: noise and fine texture, no colour.

    Shape:
        (B, C, H, W) -> (B, C, H - k + 1, W - k + 1).
    """
    kernel = gaussian_kernel2d(kernel_size, dtype=x.dtype).to(x.device)
    c = x.shape[1]
    blurred = F.conv2d(x, kernel.expand(c, 1, kernel_size, kernel_size), groups=c)
    pad = kernel_size // 2
    return x[..., pad:x.shape[-2] - pad, pad:x.shape[-1] - pad] - blurred


def _residual_values(images: Union[Tensor, Sequence[Tensor]], channel: int) -> Tensor:
    batch = [images] if isinstance(images, Tensor) else list(images)
    values = torch.cat([high_frequency_residual(x[:, channel:channel + 1].float()).flatten() for x in batch])
    return values[:: max(1, values.numel() // 2**20)]  # torch.quantile's input size limit


def high_frequency_distance(generated: Union[Tensor, Sequence[Tensor]], real: Union[Tensor, Sequence[Tensor]],
                            quantiles: int = 64) -> Tensor:
    """A weight-free realism figure: how far the high-frequency statistics of generated LR are from real LR.

    The mean over colour channels of two terms: the absolute log-ratio of the residuals' standard deviations (noise
    level), and the 1-Wasserstein distance between the residuals' value distributions divided by the real
    residual's std (noise shape: Gaussian, heavy-tailed, clipped). 0 when the statistics match; inputs are unpaired
    and may be lists of differently sized batches.

    Shape:
        generated: (B1, C, H1, W1) or a list of such, real: likewise -> scalar.
    """
    first = generated if isinstance(generated, Tensor) else generated[0]
    q = torch.linspace(0.005, 0.995, quantiles)
    total = torch.zeros(())
    for c in range(first.shape[1]):
        g, r = _residual_values(generated, c).cpu(), _residual_values(real, c).cpu()
        g_std, r_std = g.std().clamp_min(1e-6), r.std().clamp_min(1e-6)
        level = (g_std.log() - r_std.log()).abs()
        shape = (torch.quantile(g, q) - torch.quantile(r, q)).abs().mean() / r_std
        total = total + level + shape
    return total / first.shape[1]
