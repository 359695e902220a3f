"""Figures for judging a degradation generator without pretrained weights and without pairs: fidelity, noise level,
realism of the high frequencies, diversity of the samples, and how much of its latents it uses.

Realism and diversity are read in the high-frequency band where sensor noise, JPEG blocks and demosaicing live:

- :func:`noise_level`: the noise standard deviation of an image, from the finest diagonal wavelet band of its
  flattest blocks (the MAD estimator): the same figure for real LR and generated LR;
- :func:`sample_spread` and :func:`diversity_ratio`: how much the samples of one HR image differ in that band,
  against the real LR's noise level (0: the latents are ignored; about 1: the spread of real noise);
- :func:`patch_distance`: a sliced Wasserstein distance between small high-pass patches of generated and real LR,
  which sees spatial structure (blocks, correlated noise), not only the values' distribution;
- :func:`latent_strengths`: each latent's learned noise strength.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any, Optional, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import ImageReadError
from ..filters import HighPass, gaussian_kernel2d, haar_dwt
from ..injection import NoiseInjection
from ..io import image_to_tensor, list_images, read_image


def sample_diversity(samples: Tensor) -> Tensor:
    """Mean pairwise L1 distance between the samples of each image: 0 for a deterministic generator.

    Shape:
        samples: (B, n, C, H, W) with n >= 2 -> scalar.
    """
    if samples.dim() != 5 or samples.shape[1] < 2:
        raise ValueError(f"sample_diversity needs (B, n>=2, C, H, W) samples, got {tuple(samples.shape)}")
    pairs = itertools.combinations(range(samples.shape[1]), 2)
    return torch.stack([(samples[:, i] - samples[:, j]).abs().mean() for i, j in pairs]).mean()


def _residual_values(images: Union[Tensor, Sequence[Tensor]], channel: int) -> Tensor:
    batch = [images] if isinstance(images, Tensor) else list(images)
    high_pass = HighPass("gau", 5, padding="valid")
    values = torch.cat([high_pass.residual(x[:, channel:channel + 1].float()).flatten() for x in batch])
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


MAD_TO_STD = 0.6745
"""median(|x|) / MAD_TO_STD estimates the standard deviation of zero-mean Gaussian values x."""

Images = Union[Tensor, Sequence[Tensor]]


def _batches(images: Images) -> list[Tensor]:
    batch = [images] if isinstance(images, Tensor) else list(images)
    return [x[None] if x.dim() == 3 else x for x in batch]


def noise_level(images: Tensor, *, block: int = 8, flat_fraction: float = 0.5) -> Tensor:
    """A robust noise standard deviation per image: the wavelet MAD estimator on its flattest blocks.

    The finest diagonal Haar band (HH) holds white noise at its full standard deviation and little of a smooth
    image. The image is cut into ``block`` x ``block`` blocks of that band; the ``flat_fraction`` of blocks with the
    least horizontal and vertical detail (LH, HL: edges and texture) are kept, and ``median(|HH|) / 0.6745`` over
    them estimates sigma per channel; the channels' estimates are averaged. For white Gaussian noise on a smooth
    image it is within a few percent of the true sigma; JPEG and blur lower it, as they lower the noise itself.

    Args:
        images: a batch in [0, 1] (any value range works: the estimate is in the same units).
        block: block side, in coefficients of the half-resolution band (``2 * block`` pixels).
        flat_fraction: share of blocks kept, the flattest first.

    Returns:
        The estimate per image.

    Shape:
        (B, C, H, W) -> (B,); H and W at least ``2 * block``.
    """
    if images.dim() != 4:
        raise ValueError(f"noise_level expects a (B, C, H, W) batch, got shape {tuple(images.shape)}")
    if not 0 < flat_fraction <= 1:
        raise ValueError(f"flat_fraction must be in (0, 1], got {flat_fraction}")
    _, lh, hl, hh = haar_dwt(images.float())
    b, c, h, w = hh.shape
    if h < block or w < block:
        raise ValueError(f"noise_level needs images of at least {2 * block}x{2 * block} pixels, got "
                         f"{images.shape[-1]}x{images.shape[-2]}")
    h, w = h - h % block, w - w % block

    def blocks(band: Tensor) -> Tensor:  # (B, C, blocks, block * block)
        return band[..., :h, :w].unfold(2, block, block).unfold(3, block, block).reshape(b, c, -1, block * block)

    activity = (blocks(lh).abs() + blocks(hl).abs()).mean(-1)
    keep = max(1, int(round(activity.shape[-1] * flat_fraction)))
    flat = activity.topk(keep, dim=-1, largest=False).indices
    chosen = blocks(hh).abs().gather(2, flat[..., None].expand(-1, -1, -1, block * block))
    return (chosen.flatten(2).median(dim=-1).values / MAD_TO_STD).mean(dim=1)


def sample_spread(samples: Tensor) -> Tensor:
    """How much the samples of each image differ in the finest diagonal band: the root mean (over pixels and channels)
    of the per-pixel unbiased variance across samples. Two independent draws of white noise of standard deviation
    sigma give sigma; a deterministic generator gives 0.

    Shape:
        samples: (B, n, C, H, W) with n >= 2 -> (B,).
    """
    if samples.dim() != 5 or samples.shape[1] < 2:
        raise ValueError(f"sample_spread needs (B, n>=2, C, H, W) samples, got {tuple(samples.shape)}")
    b, n = samples.shape[:2]
    hh = haar_dwt(samples.float().flatten(0, 1))[3].unflatten(0, (b, n))
    return hh.var(dim=1, unbiased=True).flatten(1).mean(1).sqrt()


def diversity_ratio(samples: Tensor, real_noise_level: Union[float, Tensor]) -> Tensor:
    """rho: the spread of the samples (:func:`sample_spread`) over the real LR's noise level (:func:`noise_level`).

    0 means the latents are ignored; about 1 means one HR image's samples differ as much as two draws of the real
    noise would. It measures the amount of variation, not its realism (see :func:`patch_distance` for that).

    Shape:
        samples: (B, n, C, H, W) -> scalar (the mean over the batch).
    """
    level = torch.as_tensor(real_noise_level, dtype=torch.float32)
    return sample_spread(samples).mean() / level.clamp_min(1e-8)


def _high_pass_patches(images: Images, patch: int, count: int, generator: torch.Generator,
                       flat_fraction: float) -> Tensor:
    """``count`` random ``patch`` x ``patch`` patches of the images' Gaussian high-pass residual, flattened, drawn
    from the ``flat_fraction`` of each image's patches whose blurred content varies least (texture and edges would
    otherwise outweigh the degradation)."""
    kernel = gaussian_kernel2d(5)[None, None]
    pools = []
    for x in _batches(images):
        x = x.float().cpu()
        c = x.shape[1]
        blurred = F.conv2d(x, kernel.expand(c, 1, 5, 5), groups=c)
        residual = x[..., 2:-2, 2:-2] - blurred
        if residual.shape[-1] < patch + 1 or residual.shape[-2] < patch + 1:
            continue
        gradient = (blurred[..., 1:, :-1] - blurred[..., :-1, :-1]).abs() + \
            (blurred[..., :-1, 1:] - blurred[..., :-1, :-1]).abs()
        activity = F.avg_pool2d(gradient.mean(1, keepdim=True), patch, stride=1).flatten(1)  # (B, positions)
        patches = residual[..., :-1, :-1].unfold(2, patch, 1).unfold(3, patch, 1).permute(0, 2, 3, 1, 4, 5)
        patches = patches.reshape(x.shape[0], -1, c * patch * patch)
        keep = max(1, int(activity.shape[1] * flat_fraction))
        flat = activity.topk(keep, dim=1, largest=False).indices
        pools.append(patches.gather(1, flat[..., None].expand(-1, -1, patches.shape[-1])).flatten(0, 1))
    if not pools:
        raise ValueError(f"patch_distance: no image is larger than {patch + 5}x{patch + 5} pixels")
    everything = torch.cat(pools)
    pick = torch.randperm(everything.shape[0], generator=generator)[:count]
    return everything[pick]


def patch_distance(generated: Images, real: Images, *, patch: int = 7, count: int = 8192, projections: int = 64,
                   flat_fraction: float = 0.25, seed: int = 0) -> Tensor:
    """Distance between the distributions of small high-pass patches of generated and real LR (unpaired).

    Patches of the Gaussian high-pass residual (``x - blur(x)``, 5x5 kernel) see what a marginal histogram misses:
    noise correlated between neighbouring pixels (demosaicing), 8x8 JPEG blocks, ringing. Both sets of up to
    ``count`` random patches are projected on ``projections`` random directions (seeded); the figure is the mean over
    directions of the 1-Wasserstein distance between the projected values, divided by the real values' standard
    deviation in that direction (a sliced Wasserstein distance, scale-free).

    0 means the same distribution. Measured on 128-pixel crops of scikit-image's photos with noise of sigma 0.02:
    the same noise on other content gives 0.02-0.03 (sampling noise), sigma 1.2x too large 0.14, spatially
    correlated noise of the same strength 0.3, no noise at all 0.5, sigma 2x too large 0.75. Compare figures
    computed against the same real images.

    Args:
        generated, real: batches in [0, 1], or lists of differently sized batches.
        patch: patch side in LR pixels.
        count: patches drawn per set.
        projections: random directions.
        flat_fraction: share of each image's patches eligible, those whose (blurred) content varies least: the
            figure then speaks of the degradation more than of the content, which differs between unpaired sets.
        seed: seed of the patches and the directions.

    Returns:
        A scalar.
    """
    generator = torch.Generator().manual_seed(seed)
    g = _high_pass_patches(generated, patch, count, generator, flat_fraction)
    r = _high_pass_patches(real, patch, count, generator, flat_fraction)
    directions = F.normalize(torch.randn(g.shape[1], projections, generator=generator), dim=0)
    pg, pr = g @ directions, r @ directions
    q = torch.linspace(0.0, 1.0, 201)
    distance = (torch.quantile(pg, q, dim=0) - torch.quantile(pr, q, dim=0)).abs().mean(0)
    return (distance / pr.std(dim=0).clamp_min(1e-8)).mean()


def latent_strengths(G: torch.nn.Module, example: Optional[Tensor] = None) -> list[dict[str, Any]]:
    """Each latent's learned noise strength, so that one sees whether the latents are used.

    Args:
        G: a generator with latent layers (:class:`probdeg.Probabilistic`, wrapped in DDP or not).
        example: an input of ``G``; with it, ``conditional`` layers also report the mean of their sigma map.

    Returns:
        One row per latent: ``name``, ``sigma_type``, ``std``, ``strength`` (mean over channels of |weight| x std,
        the noise's standard deviation for ``channel`` sigma) and ``max_strength``; with ``example``,
        ``sigma_map_mean`` (mean softplus(conv(h)) for ``conditional``, 1 for ``channel``) and ``effective`` (the mean
        noise standard deviation the layer adds: strength x sigma map).
    """
    layers = [m for m in G.modules() if isinstance(m, NoiseInjection)]
    rows = []
    for layer in layers:
        scale = layer.weight.detach().abs().flatten() * layer.std
        rows.append({"name": layer.name, "sigma_type": layer.sigma_type, "std": layer.std,
                     "strength": float(scale.mean()), "max_strength": float(scale.max())})
    if example is not None and layers:
        maps: dict[int, float] = {}
        handles = [layer.register_forward_pre_hook(
            lambda module, args: maps.__setitem__(id(module), float(module.sigma_map(args[0]).mean()))
            if module.sigma_conv is not None else None) for layer in layers]
        try:
            with torch.no_grad():
                G(example)
        finally:
            for handle in handles:
                handle.remove()
        for row, layer in zip(rows, layers):
            row["sigma_map_mean"] = maps.get(id(layer), 1.0)
            row["effective"] = row["strength"] * row["sigma_map_mean"]
    return rows


def mean_strength(rows: Sequence[dict[str, Any]]) -> float:
    """The mean ``effective`` (else ``strength``) of :func:`latent_strengths` rows; 0 without latents."""
    values = [row.get("effective", row["strength"]) for row in rows]
    return float(sum(values) / len(values)) if values else 0.0


def gaussian_pair_distance(noise_std: float, high_pass: torch.nn.Module, *, size: int = 128, seed: int = 0) -> float:
    """The mean |HP(a) - HP(b)| of two independent white-noise images of standard deviation ``noise_std``, through
    ``high_pass``: the spread two samples of a generator with the real noise level would show there (the diversity
    term's default bound)."""
    if not math.isfinite(noise_std) or noise_std < 0:
        raise ValueError(f"noise_std must be a finite number >= 0, got {noise_std}")
    generator = torch.Generator().manual_seed(seed)
    a, b = (torch.randn(1, 3, size, size, generator=generator) * noise_std + 0.5 for _ in range(2))
    with torch.no_grad():
        return float((high_pass(a) - high_pass(b)).abs().mean())


def folder_noise_level(folders: Any, *, max_images: int = 32) -> float:
    """The median :func:`noise_level` of (up to ``max_images`` of) a folder's images, e.g. the real LR's.

    Images are taken evenly spread over the sorted list; unreadable and too small ones are left out.

    Raises:
        ValueError: no image could be used.
    """
    paths = list_images(folders)
    step = max(1, len(paths) // max_images)
    levels = []
    for path in paths[::step][:max_images]:
        try:
            image = image_to_tensor(read_image(path))[None]
            levels.append(float(noise_level(image)))
        except (ImageReadError, OSError, ValueError):
            continue
    if not levels:
        raise ValueError(f"no image of {folders} could be read to estimate its noise level (16x16 pixels at least)")
    return float(torch.tensor(levels).median())
