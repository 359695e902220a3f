"""An FSSR/DSGAN-style generator, which never changes the image size, wrapped with automatic injection points.

    python examples/fssr_style.py [--steps 150] [--hr CLEAN_HR_DIR --lr REAL_LR_DIR]

FSSR's DSGAN (Fritsche et al., "Frequency Separation for Real-World Super-Resolution", 2019) does not downscale:
the HR image is bicubic-downscaled first, then a same-size residual net gives it the look of the real LR images.
The net below is written like DSGAN's ``Generator`` and knows nothing of probdeg. ``Probabilistic(net)`` with no
``at=`` finds the injection points by itself, from one probe forward: before every conv whose input is a feature map
(more channels than the image, larger than 1x1), at most 16 of them, evenly spread. Here 17 convs read features
(the 16 of the residual blocks and the output conv), so the cap keeps the 16 inside the blocks; the input conv,
which reads the image, gets none.
"""

from __future__ import annotations

import torch
from _common import parse_args
from plain_pytorch_loop import bicubic_down, train_and_check
from torch import Tensor, nn

from probdeg import Probabilistic


class ResidualBlock(nn.Module):
    """DSGAN's block: Conv3x3 -> PReLU -> Conv3x3, plus the identity."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.prelu = nn.PReLU()
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(self.prelu(self.conv1(x)))


class DSGANGenerator(nn.Module):
    """Same-size generator in the style of FSSR's DSGAN: Conv3x3 + PReLU, residual blocks, Conv3x3, sigmoid.

    Shape:
        (B, 3, h, w) bicubic-downscaled image -> (B, 3, h, w) in (0, 1).
    """

    def __init__(self, num_feat: int = 64, num_blocks: int = 8) -> None:
        super().__init__()
        self.block_input = nn.Sequential(nn.Conv2d(3, num_feat, 3, padding=1), nn.PReLU())
        self.res_blocks = nn.Sequential(*[ResidualBlock(num_feat) for _ in range(num_blocks)])
        self.block_output = nn.Conv2d(num_feat, 3, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return torch.sigmoid(self.block_output(self.res_blocks(self.block_input(x))))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(__doc__, steps=150, argv=argv)
    torch.manual_seed(args.seed)
    # The probe runs on a 64x64 image by default; an LR-sized one makes the summary show the sizes met in training.
    G = Probabilistic(DSGANGenerator(), example_input=torch.rand(1, 3, args.crop // 4, args.crop // 4))
    train_and_check(G, args, to_input=bicubic_down)


if __name__ == "__main__":
    main()
