"""Real-ESRGAN's second-order ("high-order") degradation, in plain probdeg code on BasicSR's own ops: blur, resize,
noise and JPEG twice, then a sinc filter (the chain of ``RealESRNetModel.feed_data``, the kernels of
``RealESRGANDataset.__getitem__``). Its parameters are :class:`~probdeg.integrations.basicsr.schema.HandmadeOptions`
(Real-ESRGAN's key names; x4plus: the preset ``handmade/realesrgan``).

Which draws are per sample and which per batch is the original's. Per sample: the three kernels (kind, odd size,
sigmas, rotation, betas, sinc or not and its cutoff), the Gaussian sigma or Poisson scale, gray or colour noise, both
JPEG qualities. Per batch: each resize's direction, factor and interpolation, Gaussian or Poisson noise (each order),
whether the second blur runs, and the order of the last two steps. Kept quirk (BasicSR's
``generate_gaussian_noise_pt``): gray Gaussian noise is one (h, w) field per batch, scaled by each sample's sigma.

Reproducible: :meth:`RealESRGANDegradation.degrade` seeds Python's, NumPy's and torch's generators (BasicSR's ops draw
from them) from its ``seed`` for the call and restores them afterwards, so its LR is a function of the HR batch and
the seed. :meth:`~RealESRGANDegradation.degrade_seeded` (``probdeg degrade``, ``score-generator``) runs each image
alone with its own seed: an output depends on (seed, image, sample index) only, and the per-batch draws are per image.

Device: tensors follow the input's (DiffJPEG and USMSharp move with the module); no device is hard-coded.

Two departures, where the original fails: JPEG qualities above 99 are compressed at 99 (DiffJPEG divides by zero
at 100); and BasicSR's ``filter2D`` pads by reflection and raises on an image no larger than half the kernel (the
second blur of LR under 11 px: HR crops below about 150 px at x4 after a 0.3 resize). Such an image is first widened
by edge replication, then filtered, then cropped back.
"""

from __future__ import annotations

import contextlib
import math
import random
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from basicsr.data.degradations import (
    circular_lowpass_kernel,
    random_add_gaussian_noise_pt,
    random_add_poisson_noise_pt,
    random_mixed_kernels,
)
from basicsr.utils import DiffJPEG, USMSharp
from basicsr.utils.img_process_util import filter2D
from torch import Tensor, nn

from .schema import HandmadeOptions

KERNEL_SIDE = 21
"""Every kernel is padded to 21 x 21, as in the original."""
RESIZE_MODES = ("area", "bilinear", "bicubic")
MAX_DIFFJPEG_QUALITY = 99.0
"""Qualities above are compressed at 99 (DiffJPEG's tables vanish at 100)."""


@contextlib.contextmanager
def seeded_draws(seed: int, device: torch.device) -> Iterator[None]:
    """Seed Python's, NumPy's and torch's generators (CPU, and ``device``'s when it is a GPU) from ``seed``; restore
    their states on exit, so that the caller's random streams do not move."""
    python_state, numpy_state = random.getstate(), np.random.get_state()
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.default_generator.manual_seed(seed)
        if devices:
            with torch.cuda.device(device):
                torch.cuda.manual_seed(seed)
        try:
            yield
        finally:
            random.setstate(python_state)
            np.random.set_state(numpy_state)


def blur(image: Tensor, kernels: Tensor) -> Tensor:
    """BasicSR's ``filter2D`` (one kernel per sample, reflect padding), also for images too small for its padding.

    Shape:
        image (B, C, H, W), kernels (B, k, k) -> (B, C, H, W).
    """
    pad = kernels.shape[-1] // 2
    short = min(image.shape[-2:])
    image = image.contiguous()  # DiffJPEG's output is channels_last-strided; filter2D calls .view
    if short > pad:
        return filter2D(image, kernels)
    extra = pad - short + 1
    widened = F.pad(image, (extra, extra, extra, extra), mode="replicate")
    return filter2D(widened, kernels)[..., extra:-extra, extra:-extra]


def own_parameters(module: nn.Module) -> nn.Module:
    """``module`` with copies of its parameters, frozen. DiffJPEG's quantisation tables are module-level
    ``nn.Parameter`` objects shared by every instance: moving one instance to a GPU would move them all."""
    for sub in module.modules():
        for name, param in list(sub._parameters.items()):
            if param is not None:
                sub._parameters[name] = nn.Parameter(param.detach().clone(), requires_grad=False)
    return module


class RealESRGANDegradation(nn.Module):
    """HR -> LR by Real-ESRGAN's second-order pipeline (see the module doc).

    Args:
        options: the pipeline's parameters.
        scale: the down-sampling factor (the LR is ``H // scale`` x ``W // scale``).
    """

    def __init__(self, options: HandmadeOptions, *, scale: int = 4) -> None:
        super().__init__()
        self.options, self.scale = options, int(scale)
        self.jpeger = own_parameters(DiffJPEG(differentiable=False))
        self.usm = USMSharp().requires_grad_(False) if options.usm_sharpen else None
        low, high = options.kernel_size_range
        self.kernel_sizes = list(range(low, high + 1, 2))

    def settings(self) -> dict[str, Any]:
        """What makes its outputs, for a folder's manifest."""
        return {"pipeline": "realesrgan", "scale": self.scale, **self.options.as_option()}

    # ------------------------------------------------------------------------------------------------ draws
    def _kernel(self, suffix: str) -> np.ndarray:
        """One sample's blur kernel of order ``suffix`` ("" or "2"), padded to 21 x 21."""
        o = self.options
        size = random.choice(self.kernel_sizes)
        if np.random.uniform() < getattr(o, f"sinc_prob{suffix}"):
            cutoff = np.random.uniform(np.pi / 3, np.pi) if size < 13 else np.random.uniform(np.pi / 5, np.pi)
            kernel = circular_lowpass_kernel(cutoff, size, pad_to=False)
        else:
            sigma = getattr(o, f"blur_sigma{suffix}")
            probabilities = np.asarray(getattr(o, f"kernel_prob{suffix}"), dtype=np.float64)
            kernel = random_mixed_kernels(list(getattr(o, f"kernel_list{suffix}")),
                                          list(probabilities / probabilities.sum()), size, sigma, sigma,
                                          [-math.pi, math.pi], getattr(o, f"betag_range{suffix}"),
                                          getattr(o, f"betap_range{suffix}"), noise_range=None)
        pad = (KERNEL_SIDE - size) // 2
        return np.pad(kernel, ((pad, pad), (pad, pad)))

    def _final_sinc(self) -> np.ndarray:
        if np.random.uniform() < self.options.final_sinc_prob:
            size = random.choice(self.kernel_sizes)
            return circular_lowpass_kernel(np.random.uniform(np.pi / 3, np.pi), size, pad_to=KERNEL_SIDE)
        pulse = np.zeros((KERNEL_SIDE, KERNEL_SIDE))
        pulse[KERNEL_SIDE // 2, KERNEL_SIDE // 2] = 1
        return pulse

    @staticmethod
    def _resize_factor(probabilities: Sequence[float], factors: Sequence[float]) -> float:
        direction = random.choices(["up", "down", "keep"], probabilities)[0]
        if direction == "up":
            return float(np.random.uniform(1, factors[1]))
        return float(np.random.uniform(factors[0], 1)) if direction == "down" else 1.0

    def _noise(self, image: Tensor, suffix: str) -> Tensor:
        o = self.options
        gray = getattr(o, f"gray_noise_prob{suffix}")
        if np.random.uniform() < getattr(o, f"gaussian_noise_prob{suffix}"):
            return random_add_gaussian_noise_pt(image, sigma_range=getattr(o, f"noise_range{suffix}"), clip=True,
                                                rounds=False, gray_prob=gray)
        return random_add_poisson_noise_pt(image, scale_range=getattr(o, f"poisson_scale_range{suffix}"),
                                           gray_prob=gray, clip=True, rounds=False)

    def _jpeg(self, image: Tensor, qualities: Sequence[float]) -> Tensor:
        quality = image.new_zeros(image.shape[0]).uniform_(*qualities)  # per sample; DiffJPEG maps it in place
        # DiffJPEG scales its tables by 2 - q / 50: zero at quality 100, a division by zero (NaN). 99 is the top.
        quality = quality.clamp_(max=MAX_DIFFJPEG_QUALITY)
        return self.jpeger(image.clamp(0, 1), quality=quality).contiguous()

    # ------------------------------------------------------------------------------------------------ the chain
    @torch.no_grad()
    def degrade(self, hr: Tensor, seed: int) -> Tensor:
        """LR of a batch of HR images, every draw from ``seed`` (per-batch draws shared by the batch).

        Args:
            hr: HR images in [0, 1], height and width at least ``scale``.
            seed: the draws' seed.

        Returns:
            8-bit-quantised LR in [0, 1], on ``hr``'s device.

        Shape:
            hr (B, 3, H, W) -> (B, 3, H // scale, W // scale).
        """
        o, scale = self.options, self.scale
        height, width = hr.shape[-2:]
        with seeded_draws(int(seed), hr.device):
            drawn = [(self._kernel(""), self._kernel("2"), self._final_sinc()) for _ in range(hr.shape[0])]
            kernel1, kernel2, sinc = (torch.from_numpy(np.stack(k)).to(hr.device, hr.dtype) for k in zip(*drawn))
            out = blur(self.usm(hr) if self.usm is not None else hr, kernel1)
            factor = self._resize_factor(o.resize_prob, o.resize_range)
            out = F.interpolate(out, scale_factor=factor, mode=random.choice(RESIZE_MODES))
            out = self._jpeg(self._noise(out, ""), o.jpeg_range)
            if np.random.uniform() < o.second_blur_prob:
                out = blur(out, kernel2)
            factor = self._resize_factor(o.resize_prob2, o.resize_range2)
            size = (max(1, int(height / scale * factor)), max(1, int(width / scale * factor)))
            out = self._noise(F.interpolate(out, size=size, mode=random.choice(RESIZE_MODES)), "2")
            target = (height // scale, width // scale)
            if np.random.uniform() < 0.5:  # [resize + sinc] then JPEG, or JPEG then [resize + sinc]
                out = blur(F.interpolate(out, size=target, mode=random.choice(RESIZE_MODES)), sinc)
                out = self._jpeg(out, o.jpeg_range2)
            else:
                out = self._jpeg(out, o.jpeg_range2)
                out = blur(F.interpolate(out, size=target, mode=random.choice(RESIZE_MODES)), sinc)
        return torch.clamp((out * 255.0).round(), 0, 255) / 255.0

    def degrade_seeded(self, hr: Tensor, seeds: Sequence[int]) -> Tensor:
        """Each image alone, with its own seed (its per-batch draws are its own).

        Shape:
            hr (B, 3, H, W), len(seeds) == B -> (B, 3, H // scale, W // scale).
        """
        if len(seeds) != hr.shape[0]:
            raise ValueError(f"got {len(seeds)} seeds for a batch of {hr.shape[0]}")
        return torch.cat([self.degrade(hr[i:i + 1], seed) for i, seed in enumerate(seeds)])

    def forward(self, hr: Tensor, seed: int = 0) -> Tensor:
        return self.degrade(hr, seed)
