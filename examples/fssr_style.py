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

import argparse
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

import torch
from torch import Tensor, nn

from probdeg import Probabilistic
from probdeg.filters import bicubic_downscale
from probdeg.sample_task import temporary_sample_task
from probdeg.stage1 import GeneratorLossWeights, train_degradation

STEPS = 150



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


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--steps", type=int, default=STEPS, help=f"training steps (default {STEPS})")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights, crops and samples (default 0)")
    parser.add_argument("--hr", type=Path, help="clean HR images (default: probdeg's sample task, made in a "
                        "temporary folder)")
    parser.add_argument("--lr", type=Path, help="real LR images, unpaired with --hr")
    parser.add_argument("--crop", type=int, default=64, help="HR crop side; LR crops are a quarter (default 64)")
    parser.add_argument("--batch-size", type=int, default=8, help="crops per step (default 8)")
    args = parser.parse_args(argv)
    if (args.hr is None) != (args.lr is None):
        parser.error("give both --hr and --lr, or neither (for the sample task)")
    if args.steps < 1:
        parser.error(f"--steps must be at least 1, got {args.steps}")
    return args


@contextlib.contextmanager
def unpaired_folders(args: argparse.Namespace) -> Iterator[tuple[Path, Path]]:
    """--hr and --lr, or probdeg's sample task in a temporary folder."""
    if args.hr is not None:
        yield args.hr, args.lr
        return
    with temporary_sample_task(seed=args.seed) as folders:
        yield folders["train_hr"], folders["train_lr"]


@torch.no_grad()
def check_sampling(G: Probabilistic, inputs: Tensor, seed: int = 0) -> None:
    """Two samples of the same input differ; the mean mode repeats itself."""
    G.eval()  # sampling stays random in eval mode
    samples = G(inputs, n_samples=2, seed=seed)
    spread = (samples[:, 0] - samples[:, 1]).abs().mean().item()
    deterministic = torch.equal(G(inputs, mode="mean"), G(inputs, mode="mean"))
    print(f"two samples of the same HR image differ: mean |sample 1 - sample 2| = {spread:.3e}")
    print(f"mean mode is deterministic: {deterministic}")
    if not (spread > 0 and deterministic):
        raise RuntimeError("the latents did not become active, or the mean mode is not deterministic")


def main(argv: Optional[list[str]] = None) -> None:
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    # The probe runs on a 64x64 image by default; an LR-sized one makes the summary show the sizes met in training.
    G = Probabilistic(DSGANGenerator(), example_input=torch.rand(1, 3, args.crop // 4, args.crop // 4))
    print(G.summary())
    with unpaired_folders(args) as (hr, lr):
        gan = train_degradation(G, hr, lr, steps=args.steps, crop=args.crop, batch_size=args.batch_size, seed=args.seed,
                                input_transform=lambda x: bicubic_downscale(x, 4), lr=2e-4, injection_lr=1e-2,
                                weights=GeneratorLossWeights(gan=0.01))
    check_sampling(gan.G, bicubic_downscale(torch.rand(4, 3, args.crop, args.crop), 4), seed=args.seed)

if __name__ == "__main__":
    main()
