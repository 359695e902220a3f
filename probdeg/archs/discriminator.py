"""Frequency-separation discriminator (FSSR/DASR "FSD") that judges only high frequencies."""

from __future__ import annotations

from torch import Tensor, nn

from probdeg.archs.checks import check_arguments
from probdeg.filters import FilterKind, HighPass

__all__ = ["FSDiscriminator"]


class FSDiscriminator(nn.Module):
    """Per-pixel discriminator on the high-pass part of its input.

    ``self.filter`` (:class:`~probdeg.filters.HighPass`) -> Conv5x5(in' -> F) + LReLU(0.2) ->
    Conv5x5(F -> 2F) + InstanceNorm + LReLU -> Conv5x5(2F -> 4F) + InstanceNorm + LReLU -> Conv1x1(4F -> 1),
    stride 1 and padding 2 throughout. ``in'`` is ``3 * in_channels`` for ``wavelet`` and ``in_channels``
    otherwise. Parameters with the defaults: 1,039,105 (wavelet), 1,029,505 (avg_pool, gau).

    Args:
        in_channels: channels of the image to judge.
        num_feat: width F of the first layer.
        filter: high-pass kind, one of ``probdeg.filters.FILTER_KINDS``.
        kernel_size: window of the ``avg_pool`` / ``gau`` filters.

    Returns:
        Raw logits, one per pixel of the filtered image (the loss applies the sigmoid).

    Shape:
        (B, in_channels, H, W) -> (B, 1, H/2, W/2) for ``wavelet``, (B, 1, H, W) otherwise.
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_feat: int = 64,
        filter: FilterKind = "wavelet",
        kernel_size: int = 5,
    ) -> None:
        super().__init__()
        check_arguments(in_channels=in_channels, num_feat=num_feat)
        self.filter = HighPass(filter, kernel_size=kernel_size)
        nf = num_feat
        self.body = nn.Sequential(
            nn.Conv2d(self.filter.out_channels(in_channels), nf, 5, padding=2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(nf, 2 * nf, 5, padding=2),
            nn.InstanceNorm2d(2 * nf),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(2 * nf, 4 * nf, 5, padding=2),
            nn.InstanceNorm2d(4 * nf),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(4 * nf, 1, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.body(self.filter(x))
