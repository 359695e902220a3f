"""Position-keyed latent noise: a probabilistic generator's samples that do not depend on tiles, batches or devices.

A probabilistic generator's eps is supplied through the layers' noise source (:attr:`probdeg.SamplingContext.noise`):
each :class:`~probdeg.NoiseInjection` keeps its own formula, only its i.i.d. draw is replaced. ``eps`` is a fixed
field over the whole image, made of cells of :data:`NOISE_CELL` x :data:`NOISE_CELL` values (at the layer's
resolution), each cell drawn from a CPU ``torch.Generator`` seeded by a hash of ``(sample seed, layer index, cell row,
cell column)``. The noise at a pixel therefore depends on its position and the sample seed only, never on how the
image is cut into tiles, on the other images of a batch, or on the device, so

- tiles do not restart the noise: a tiled run sees exactly the noise of an untiled one (no seam, no change of
  statistics at tile borders), and with enough overlap the two outputs agree to float rounding;
- each sample's seed is ``sample_seed(seed, key, k)``, a hashlib hash of the user seed, the image's key (its
  relative path in :func:`probdeg.degrade.degrade_folder`) and the sample index: an output depends on nothing else
  (not on the batch, on skipped images, or on how many samples are drawn).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from .injection import SAMPLE_MODES, NoiseInjection

NOISE_CELL = 128
"""Side of one noise cell, in pixels of the layer's own resolution."""

_MASK63 = (1 << 63) - 1


def stable_seed(*parts: Any) -> int:
    """A 63-bit seed from a hash of ``parts`` (their ``str``), the same in every process (unlike ``hash()``)."""
    text = "\x1f".join(str(p) for p in parts).encode("utf-8")
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little") & _MASK63


def sample_seed(seed: int, key: str, index: int) -> int:
    """The seed of sample ``index`` of the image named ``key`` (its relative path) in a run seeded with ``seed``."""
    return stable_seed("probdeg.degrade", int(seed), key, int(index))


class Window(NamedTuple):
    """The part of the image a forward call sees: ``(top, left, height, width)`` in input pixels."""

    top: int
    left: int
    height: int
    width: int


class NoiseField:
    """A noise source for the latent layers: position-keyed eps for a batch of items, one seed each.

    Set :attr:`window` to the part of the image the next forward call sees.

    Args:
        layers: the generator's latent layers, in a fixed order (a layer's index is part of its seed).
        seeds: one sample seed per batch item.
    """

    def __init__(self, layers: Sequence[NoiseInjection], seeds: Sequence[int]) -> None:
        self.index = {id(layer): i for i, layer in enumerate(layers)}
        self.seeds = [int(s) for s in seeds]
        self.window = Window(0, 0, 0, 0)
        self._generator = torch.Generator()

    def _cells(self, seed: int, layer: int, channels: int, y0: int, x0: int, h: int, w: int) -> Tensor:
        """One item's field at one layer over rows [y0, y0 + h) and columns [x0, x0 + w): (channels, h, w)."""
        out = torch.empty(channels, h, w)
        n = NOISE_CELL
        for cy in range(y0 // n, (y0 + h - 1) // n + 1):
            for cx in range(x0 // n, (x0 + w - 1) // n + 1):
                self._generator.manual_seed(stable_seed(seed, layer, cy, cx))
                cell = torch.randn(channels, n, n, generator=self._generator)
                top, bottom = max(y0, cy * n), min(y0 + h, (cy + 1) * n)
                left, right = max(x0, cx * n), min(x0 + w, (cx + 1) * n)
                out[:, top - y0:bottom - y0, left - x0:right - x0] = \
                    cell[:, top - cy * n:bottom - cy * n, left - cx * n:right - cx * n]
        return out

    def __call__(self, layer: NoiseInjection, h: Tensor, shape: tuple) -> Tensor:
        """The noise of the current window at ``layer``: ``shape`` = (B, 1 or C, H_l, W_l)."""
        index = self.index[id(layer)]
        top, left, height, width = self.window
        fh, fw = shape[-2:]
        if height % fh or width % fw or top % (height // fh) or left % (width // fw):
            raise ValueError(f"cannot place the noise of latent {layer.name or index}: its feature is {fh}x{fw} for "
                             f"a {height}x{width} input at ({top}, {left}); only integer down-sampling is supported")
        sy, sx = height // fh, width // fw
        if shape[0] != len(self.seeds):
            raise ValueError(f"latent {layer.name or index} got a batch of {shape[0]}, expected {len(self.seeds)}")
        eps = torch.stack([self._cells(seed, index, shape[1], top // sy, left // sx, fh, fw) for seed in self.seeds])
        return eps.to(device=h.device, dtype=h.dtype)


@contextlib.contextmanager
def position_keyed_noise(G: nn.Module, seeds: Sequence[int], *, mode: str = "random") -> Iterator[NoiseField]:
    """Run ``G``'s latent layers in ``mode`` with a :class:`NoiseField` of ``seeds`` as their noise source."""
    if mode not in SAMPLE_MODES:
        raise ValueError(f"mode must be one of {SAMPLE_MODES}, got {mode!r}")
    layers = [m for m in G.modules() if isinstance(m, NoiseInjection)]
    field = NoiseField(layers, seeds)
    contexts = {id(layer.context): layer.context for layer in layers}
    saved = {key: (ctx.mode, ctx.noise) for key, ctx in contexts.items()}
    try:
        for ctx in contexts.values():
            ctx.mode, ctx.noise = mode, field
        yield field
    finally:
        for key, ctx in contexts.items():
            ctx.mode, ctx.noise = saved[key]
