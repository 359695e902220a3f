"""Latent-injection layers: the reparameterised Gaussian step of Eq. 2-3 applied to a feature map.

A layer maps a feature ``h`` to ``mu(h) + sigma(h) * eps`` with ``eps ~ N(0, I)``. Two parametrisations:

- ``channel`` (the released MSSR code): ``sigma = weight * std``, a learned per-channel scale times a fixed std;
  ``mu(h) = h``.
- ``conditional`` (the paper's Eq. 2-3): ``sigma(h) = weight * std * softplus(conv1x1(h))`` depends on the feature
  (one C -> 1 map per position, scaled per channel),
  and ``mu(h) = h + conv1x1(h)`` when ``mean_shift`` is on.

Every parameter that scales the noise or shifts the mean starts at zero, so a freshly wrapped net is exactly the
bare net. How to sample (random or mean, temperature, generator) is read from a shared :class:`SamplingContext`
that :class:`probdeg.Probabilistic` sets for the duration of one forward call.
"""

from __future__ import annotations

import difflib
import inspect
import math
from dataclasses import dataclass
from typing import Any, Callable, Literal, Optional, TypedDict

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .fused_noise import SharedNoise

SigmaType = Literal["channel", "conditional"]
NoiseLayout = Literal["shared", "per_channel"]
SampleMode = Literal["random", "mean"]

SIGMA_TYPES = ("channel", "conditional")
NOISE_LAYOUTS = ("shared", "per_channel")
SAMPLE_MODES = ("random", "mean")


NoiseSource = Callable[["NoiseInjection", Tensor, tuple], Tensor]


@dataclass
class SamplingContext:
    """How the injection layers draw eps during the current forward call.

    Attributes:
        mode: ``"random"`` draws eps ~ N(0, I); ``"mean"`` uses eps = 0 (the mean of each latent).
        temperature: eps is multiplied by this factor (1 = the trained distribution).
        generator: optional ``torch.Generator`` for reproducible draws; ``None`` uses the global RNG.
        noise: optional source of eps, ``noise(layer, h, shape) -> eps`` with ``shape`` (B, 1 or C, H, W), used
            instead of i.i.d. draws (e.g. noise keyed by image position, so that tiled synthesis has no seams).
    """

    mode: SampleMode = "random"
    temperature: float = 1.0
    generator: Optional[torch.Generator] = None
    noise: Optional[NoiseSource] = None


class LatentOptions(TypedDict, total=False):
    """The options of a latent layer (:class:`NoiseInjection`'s keywords, defaults there), which
    :class:`probdeg.Probabilistic` and the probabilistic archs pass on to every layer they make."""

    sigma: SigmaType
    std: float
    noise: NoiseLayout
    mean_shift: bool
    init_strength: float


def check_latent_options(options: dict[str, Any], owner: str) -> dict[str, Any]:
    """``options`` with every :class:`LatentOptions` default filled in.

    Raises:
        TypeError: an unknown option, named with the closest accepted one.
    """
    accepted = list(LatentOptions.__annotations__)
    unknown = [key for key in options if key not in accepted]
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key, accepted, n=1)
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise TypeError(f"unknown option(s) for {owner}: {', '.join(hints)}")
    defaults = {name: p.default for name, p in inspect.signature(NoiseInjection.__init__).parameters.items()
                if name in accepted}
    return {**defaults, **options}


def draw_noise(shape: tuple[int, ...], like: Tensor, generator: Optional[torch.Generator]) -> Tensor:
    """Standard normal noise with the dtype and device of ``like``.

    A generator on another device than ``like`` (a CPU generator for a CUDA input) draws on its own device, then
    the noise moves, so a seed gives the same numbers whatever device the net runs on.
    """
    if generator is None:
        return torch.randn(shape, dtype=like.dtype, device=like.device)
    if generator.device != like.device:
        return torch.randn(shape, dtype=like.dtype, device=generator.device, generator=generator).to(like.device)
    return torch.randn(shape, dtype=like.dtype, device=like.device, generator=generator)


class NoiseInjection(nn.Module):
    """One latent variable: ``h -> mu(h) + sigma(h) * temperature * eps``.

    Args:
        channels: number of feature channels C at the injection point.
        sigma: ``"channel"`` (learned per-channel scale times ``std``) or ``"conditional"`` (sigma depends on h).
        std: fixed scale of the noise (0.1 in the published MSSR runs).
        noise: ``"shared"`` draws one spatial map per sample shared by all channels (released code);
            ``"per_channel"`` draws an independent map per channel.
        mean_shift: ``conditional`` only; adds a learned, zero-initialised 1x1-conv shift of the mean.
        init_strength: the initial value of every channel's noise scale ``weight``. 0 (the released code's choice)
            makes a freshly wrapped net exactly the bare net; a positive value starts the latents active, so that
            training need not grow them from nothing (the noise's standard deviation is ``init_strength * std``).
        context: the sampling context shared with the wrapper; a fresh default one when ``None``.
        name: the wrapped module this layer belongs to, shown in ``print``.

    Shape:
        input (B, C, H, W) -> output (B, C, H, W), same dtype, device and memory format.
    """

    def __init__(
        self,
        channels: int,
        *,
        sigma: SigmaType = "channel",
        std: float = 0.1,
        noise: NoiseLayout = "shared",
        mean_shift: bool = False,
        init_strength: float = 0.0,
        context: Optional[SamplingContext] = None,
        name: str = "",
    ) -> None:
        super().__init__()
        if sigma not in SIGMA_TYPES:
            raise ValueError(f"sigma must be one of {SIGMA_TYPES}, got {sigma!r}")
        if noise not in NOISE_LAYOUTS:
            raise ValueError(f"noise must be one of {NOISE_LAYOUTS}, got {noise!r}")
        if mean_shift and sigma != "conditional":
            raise ValueError("mean_shift=True needs sigma='conditional' (the channel type has mu(h) = h)")
        if channels < 1:
            raise ValueError(f"channels must be positive, got {channels}")
        if not math.isfinite(float(std)) or std < 0:
            raise ValueError(f"std must be a finite number >= 0, got {std!r}")
        if not math.isfinite(float(init_strength)):
            raise ValueError(f"init_strength must be a finite number, got {init_strength!r}")
        self.channels = channels
        self.sigma_type = sigma
        self.std = float(std)
        self.noise = noise
        self.name = name
        self.context = context if context is not None else SamplingContext()
        # Zero-initialised strength by default: the wrapped net starts out exactly deterministic (StyleGAN's noise
        # weight), so pretrained deterministic weights keep working.
        self.weight = nn.Parameter(torch.full((1, channels, 1, 1), float(init_strength)))
        self.sigma_conv: Optional[nn.Conv2d] = None
        self.shift_conv: Optional[nn.Conv2d] = None
        if sigma == "conditional":
            # One sigma map per position (C -> 1), scaled per channel by `weight`: signal-dependent noise for the
            # price of a C-wide dot product per pixel, so the layer costs about what the channel type costs.
            self.sigma_conv = nn.Conv2d(channels, 1, 1)
            if mean_shift:
                self.shift_conv = nn.Conv2d(channels, channels, 1)
                nn.init.zeros_(self.shift_conv.weight)
                nn.init.zeros_(self.shift_conv.bias)

    def sigma_map(self, h: Tensor) -> Optional[Tensor]:
        """``conditional`` only: the feature-dependent part of sigma, ``softplus(conv1x1(h))``, shape (B, 1, H, W)."""
        return None if self.sigma_conv is None else F.softplus(self.sigma_conv(h))

    def sigma(self, h: Tensor) -> Tensor:
        """The noise standard deviation at ``h``: (1, C, 1, 1) for ``channel``, (B, C, H, W) for ``conditional``."""
        scale = self.weight.to(h.dtype) * self.std
        spatial = self.sigma_map(h)
        return scale if spatial is None else scale * spatial

    def mean(self, h: Tensor) -> Tensor:
        """mu(h): ``h`` itself, plus the learned shift when ``mean_shift`` is on."""
        return h if self.shift_conv is None else h + self.shift_conv(h)

    def forward(self, h: Tensor) -> Tensor:
        if h.dim() != 4:
            raise ValueError(f"latent injection at {self.name or 'this layer'} expects a (B, C, H, W) feature, "
                             f"got shape {tuple(h.shape)}")
        if h.shape[1] != self.channels:
            raise ValueError(f"latent injection at {self.name or 'this layer'} was built for {self.channels} "
                             f"channels, got {h.shape[1]}")
        ctx = self.context
        mu = self.mean(h)
        if ctx.mode == "mean" or ctx.temperature == 0:
            return mu
        b, c, height, width = h.shape
        shape = (b, 1 if self.noise == "shared" else c, height, width)
        eps = draw_noise(shape, h, ctx.generator) if ctx.noise is None else ctx.noise(self, h, shape)
        if ctx.temperature != 1:
            eps = eps * ctx.temperature
        if self.noise == "shared" and self.shift_conv is None:
            scale = self.weight.to(h.dtype).view(-1) * self.std
            if self.sigma_conv is None:
                return SharedNoise.apply(h, scale, eps, None, None)
            return SharedNoise.apply(h, scale, eps, self.sigma_conv.weight.to(h.dtype).view(-1),
                                     self.sigma_conv.bias.to(h.dtype))
        spatial = self.sigma_map(h)
        if spatial is not None:
            eps = spatial * eps  # on the (B, 1, H, W) maps first: the full-size work stays one fused op
        return torch.addcmul(mu, self.weight.to(h.dtype) * self.std, eps)

    def extra_repr(self) -> str:
        parts = [f"at={self.name!r}" if self.name else "", f"channels={self.channels}", f"sigma={self.sigma_type}",
                 f"std={self.std:g}", f"noise={self.noise}"]
        if self.shift_conv is not None:
            parts.append("mean_shift=True")
        return ", ".join(p for p in parts if p)
