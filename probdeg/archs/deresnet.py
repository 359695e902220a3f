"""DeResnet: DASR's down-sampling generator (HR -> LR)."""

from __future__ import annotations

from torch import Tensor, nn

from .checks import check_arguments

__all__ = ["DeResnet", "ResidualBlock"]

class ResidualBlock(nn.Module):
    """Conv3x3 -> PReLU -> Conv3x3 with an identity skip; no normalisation, no residual scaling.

    Args:
        num_feat: channels in and out.

    Shape:
        (B, num_feat, H, W) -> (B, num_feat, H, W).
    """

    def __init__(self, num_feat: int = 64) -> None:
        super().__init__()
        # conv1 / prelu / conv2 are the names DASR's checkpoints use for these layers.
        self.conv1 = nn.Conv2d(num_feat, num_feat, 3, padding=1)
        self.prelu = nn.PReLU()
        self.conv2 = nn.Conv2d(num_feat, num_feat, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(self.prelu(self.conv1(x)))


class DeResnet(nn.Module):
    """Degradation generator of DASR: maps an HR crop to its LR version, in [0, 1].

    Conv3x3 + PReLU head, ``num_blocks`` :class:`ResidualBlock` at HR resolution, log2(scale) stride-2
    Conv3x3 + PReLU, a Conv3x3 tail and a sigmoid. There is no skip to a bicubic image. Every PReLU has a single
    slope, as in DASR. With the defaults the net has 668,238 parameters (631,309 for ``scale=2``).

    Args:
        in_channels: channels of the HR input.
        out_channels: channels of the LR output.
        num_feat: width of every hidden layer.
        num_blocks: number of residual blocks, kept in ``self.blocks``.
        scale: down-sampling factor, 2 or 4.

    Returns:
        The LR image after a sigmoid, strictly inside (0, 1).

    Shape:
        (B, in_channels, H, W) -> (B, out_channels, ceil(H / scale), ceil(W / scale)).
    """

    # Where `Probabilistic` puts latents by default: the released MSSR code's 8 points, one before each block.
    injection_points = ("before:blocks.*",)

    def __init__(self, in_channels: int = 3, out_channels: int = 3, num_feat: int = 64, num_blocks: int = 8,
                 scale: int = 4) -> None:
        super().__init__()
        check_arguments(in_channels=in_channels, out_channels=out_channels, num_feat=num_feat, num_blocks=num_blocks,
                        scale=scale)
        self.scale = scale
        self.head = nn.Sequential(nn.Conv2d(in_channels, num_feat, 3, padding=1), nn.PReLU())
        self.blocks = nn.Sequential(*[ResidualBlock(num_feat) for _ in range(num_blocks)])
        down: list[nn.Module] = []
        for _ in range(scale.bit_length() - 1):
            down += [nn.Conv2d(num_feat, num_feat, 3, stride=2, padding=1), nn.PReLU()]
        self.down = nn.Sequential(*down)
        self.tail = nn.Conv2d(num_feat, out_channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.tail(self.down(self.blocks(self.head(x)))).sigmoid()
