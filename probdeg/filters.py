"""Fixed high- and low-pass filters for frequency-separated GAN training.

The discriminator sees only :class:`HighPass` output (texture); the colour loss compares :class:`LowPass`
output of the generated LR image and of its bicubic reference. Both follow DASR's filters
(``codes/DSN/model.py`` and ``codes/DSN/loss.py`` in ShuhangGu/DASR).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from .checks import is_count

__all__ = [
    "FILTER_KINDS",
    "PADDING_MODES",
    "FilterKind",
    "HighPass",
    "LowPass",
    "bicubic_downscale",
    "PaddingMode",
    "gaussian_kernel2d",
    "haar_dwt",
]

FilterKind = Literal["wavelet", "avg_pool", "gau"]
FILTER_KINDS: tuple[str, ...] = ("wavelet", "avg_pool", "gau")
PaddingMode = Literal["same", "valid"]
PADDING_MODES: tuple[str, ...] = ("same", "valid")


def haar_dwt(x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """One-level orthonormal 2-D Haar transform, applied to every channel independently.

    Band order and signs match ``pytorch_wavelets.DWTForward(J=1, wave="haar")`` (what DASR uses), so a
    discriminator trained there sees its channels in the same order. For a 2x2 block ``[[a, b], [c, d]]``
    (rows along H): ``LL = (a+b+c+d)/2``, ``LH = (a+b-c-d)/2``, ``HL = (a-b+c-d)/2``, ``HH = (a-b-c+d)/2``.

    Any height and width: an odd one is cropped, its last row (or column) left out, so every band covers whole
    2x2 blocks (cropping, unlike padding, adds no made-up edge to the detail bands).

    Args:
        x: image or feature batch, at least 2x2.

    Returns:
        ``(LL, LH, HL, HH)``. The transform is orthonormal: the bands hold exactly the energy of the (cropped) input.

    Shape:
        x: (B, C, H, W) -> each band (B, C, H // 2, W // 2).
    """
    if x.dim() != 4:
        raise ValueError(f"haar_dwt expects a (B, C, H, W) tensor, got shape {tuple(x.shape)}")
    h, w = x.shape[-2:]
    if h < 2 or w < 2:
        raise ValueError(f"haar_dwt needs an image of at least 2x2 pixels, got {h}x{w}")
    x = x[..., : h - h % 2, : w - w % 2]
    blocks = rearrange(x, "b c (h p) (w q) -> b c h w p q", p=2, q=2)
    a, b = blocks[..., 0, 0], blocks[..., 0, 1]
    c, d = blocks[..., 1, 0], blocks[..., 1, 1]
    top, bottom = a + b, c + d
    left_minus_right_top, left_minus_right_bottom = a - b, c - d
    ll = (top + bottom) * 0.5
    lh = (top - bottom) * 0.5
    hl = (left_minus_right_top + left_minus_right_bottom) * 0.5
    hh = (left_minus_right_top - left_minus_right_bottom) * 0.5
    return ll, lh, hl, hh


def gaussian_kernel2d(kernel_size: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """Normalised isotropic Gaussian with sigma = kernel_size / 6 (DASR's choice: 5/6 for a 5x5 kernel).

    Returns:
        (kernel_size, kernel_size) tensor summing to 1.
    """
    sigma = kernel_size / 6.0
    coords = torch.arange(kernel_size, dtype=torch.float64) - (kernel_size - 1) / 2.0
    g = torch.exp(-(coords**2) / (2.0 * sigma**2))
    kernel = torch.outer(g, g)
    return (kernel / kernel.sum()).to(dtype)


def _check_args(kind: str, kernel_size: int, padding: str) -> None:
    if kind not in FILTER_KINDS:
        raise ValueError(f"unknown filter kind {kind!r}; valid kinds are {', '.join(FILTER_KINDS)}")
    if padding not in PADDING_MODES:
        raise ValueError(f"unknown padding {padding!r}; valid modes are {', '.join(PADDING_MODES)}")
    if not is_count(kernel_size) or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be a positive odd integer, got {kernel_size!r}")


class _SpatialFilter(nn.Module):
    """Shared set-up and the local low-pass (blur) used by HighPass and LowPass."""

    def __init__(self, kind: FilterKind = "wavelet", kernel_size: int = 5, padding: PaddingMode = "same") -> None:
        super().__init__()
        _check_args(kind, kernel_size, padding)
        self.kind = kind
        self.kernel_size = kernel_size
        self.padding = padding
        if kind == "gau":
            # Non-persistent: a fixed constant has no place in checkpoints.
            self.register_buffer("kernel", gaussian_kernel2d(kernel_size)[None, None], persistent=False)
        else:
            self.register_buffer("kernel", None, persistent=False)

    def extra_repr(self) -> str:
        if self.kind == "wavelet":
            return "kind='wavelet'"
        return f"kind={self.kind!r}, kernel_size={self.kernel_size}, padding={self.padding!r}"

    def _crop(self, x: Tensor) -> Tensor:
        """Crop ``x`` to the area that a "valid" blur returns."""
        if self.padding == "same" or self.kernel_size == 1:
            return x
        r = self.kernel_size // 2
        return x[..., r:-r, r:-r]

    def _blur(self, x: Tensor) -> Tensor:
        k = self.kernel_size
        pad = k // 2 if self.padding == "same" else 0
        if not pad and k > 1 and min(x.shape[-2:]) < k:
            raise ValueError(f"a {k}x{k} {self.kind!r} filter with padding='valid' needs images of at least {k} px a "
                             f"side, got {tuple(x.shape[-2:])}: use larger crops (an LR crop is the HR crop_size / "
                             f"scale) or a smaller kernel_size (network_d:kernel_size)")
        if self.kind == "avg_pool":
            # count_include_pad=False as in DASR: border pixels average only the pixels inside the image.
            return F.avg_pool2d(x, k, stride=1, padding=pad, count_include_pad=False)
        b = x.shape[0]
        kernel = self.kernel.to(dtype=x.dtype, device=x.device)
        flat = rearrange(x, "b c h w -> (b c) 1 h w")
        out = F.conv2d(flat, kernel, padding=pad)
        if pad:
            # Renormalise by the kernel mass inside the image: the Gaussian analogue of count_include_pad=False.
            mass = F.conv2d(torch.ones_like(flat[:1]), kernel, padding=pad)
            out = out / mass
        return rearrange(out, "(b c) 1 h w -> b c h w", b=b)


class HighPass(_SpatialFilter):
    """High-frequency part of an image, mapped from [-1, 1] to [0, 1] by ``0.5 * x + 0.5``.

    - ``"wavelet"``: the three Haar detail bands (LH, HL, HH), each mapped, concatenated band-major
      (3C channels at half resolution); an odd H or W loses its last row or column (see :func:`haar_dwt`).
    - ``"avg_pool"``: ``x - AvgPool_k(x)``, mapped.
    - ``"gau"``: ``x - Gaussian_k(x)`` with sigma = k/6, mapped.

    Padding (``avg_pool`` and ``gau``) follows DASR's discriminator filter (``FilterHigh`` in
    ShuhangGu/DASR ``codes/DSN/model.py``): stride 1, padding (k-1)/2, ``count_include_pad=False``, so the output
    has the input's size and border pixels average only over pixels inside the image. DASR's Gaussian ignores
    ``count_include_pad`` and zero-pads, which darkens the border; here the Gaussian is renormalised by its mass
    inside the image instead, so a flat image maps to exactly 0.5 everywhere. ``padding="valid"`` reproduces
    DASR's colour-loss filter (``padding=False``): no padding, output cropped by (k-1)/2 on each side.
    ``padding`` has no effect on ``"wavelet"``.

    Args:
        kind: one of ``FILTER_KINDS``.
        kernel_size: odd window size of ``avg_pool`` / ``gau`` (ignored by ``wavelet``).
        padding: ``"same"`` (default, DASR discriminator) or ``"valid"`` (DASR colour loss).

    Returns:
        The mapped high-pass image; a flat input gives 0.5.

    Shape:
        (B, C, H, W) -> (B, 3C, H // 2, W // 2) for ``wavelet``; (B, C, H, W) for ``same``;
        (B, C, H-k+1, W-k+1) for ``valid``.
    """

    def __init__(self, kind: FilterKind = "wavelet", kernel_size: int = 5, padding: PaddingMode = "same") -> None:
        super().__init__(kind, kernel_size, padding)
        self.out_channels_factor = 3 if kind == "wavelet" else 1

    def out_channels(self, in_channels: int) -> int:
        """Number of channels this filter returns for ``in_channels`` input channels."""
        return in_channels * self.out_channels_factor

    def residual(self, x: Tensor) -> Tensor:
        """The high frequencies themselves, before the mapping to [0, 1] (a flat input gives 0)."""
        if self.kind == "wavelet":
            _, lh, hl, hh = haar_dwt(x)
            return torch.cat((lh, hl, hh), dim=1)
        return self._crop(x) - self._blur(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.residual(x) * 0.5 + 0.5


class LowPass(_SpatialFilter):
    """Low-frequency part of an image, on the same grid as :class:`HighPass` with the same arguments.

    - ``"wavelet"``: Haar LL band * 0.5, i.e. the mean of each 2x2 block (half resolution).
    - ``"avg_pool"``: ``AvgPool_k(x)``.
    - ``"gau"``: Gaussian blur with sigma = k/6.

    Border handling is that of :class:`HighPass` (see there), so for ``avg_pool`` and ``gau``
    ``2 * (HighPass(x) - 0.5) + LowPass(x)`` gives back ``x`` (cropped when ``padding="valid"``), and a flat
    image is returned unchanged.

    Args:
        kind: one of ``FILTER_KINDS``.
        kernel_size: odd window size of ``avg_pool`` / ``gau`` (ignored by ``wavelet``).
        padding: ``"same"`` (default) or ``"valid"`` (DASR's colour loss; drops the border).

    Returns:
        The low-pass image, in the input's value range.

    Shape:
        (B, C, H, W) -> (B, C, H // 2, W // 2) for ``wavelet`` (an odd last row / column left out);
        (B, C, H, W) for ``same``;
        (B, C, H-k+1, W-k+1) for ``valid``.
    """

    def forward(self, x: Tensor) -> Tensor:
        if self.kind == "wavelet":
            return haar_dwt(x)[0] * 0.5
        return self._blur(x)


def bicubic_downscale(images: Tensor, scale: int) -> Tensor:
    """Antialiased bicubic downscaling (``F.interpolate``), clamped to [0, 1]: a generator collapsed to bicubic, and
    the content reference of a plain-PyTorch stage 1. Inside the image it equals BasicSR's MATLAB-style ``imresize``
    (the BasicSR path's reference, ``probdeg.integrations.basicsr.datasets.matlab_bicubic``) to 3e-7; the outer 2 LR
    pixels differ by up to 0.05, as the two treat the border differently (renormalised weights vs a mirror).

    Shape:
        (B, C, H, W) -> (B, C, H // scale, W // scale).
    """
    h, w = images.shape[-2] // scale, images.shape[-1] // scale
    return F.interpolate(images, size=(h, w), mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)
