"""A CycleGAN-style ResNet generator with a strided downsampling tail, wrapped by module type.

    python examples/cyclegan_resnet.py [--steps 60] [--hr CLEAN_HR_DIR --lr REAL_LR_DIR]

CycleGAN's ``ResnetGenerator`` (Zhu et al. 2017), the usual generator of unpaired image translation, is a 7x7
head, two stride-2 convs, residual blocks with instance norm and reflection padding, two transposed convs and a 7x7
image tail with tanh. To map HR to LR x4, the residual blocks here run at full resolution and the two stride-2 convs
form the tail, in place of the transposed convs; the tanh output becomes a residual on the bicubic downscale (the
instance norm after the head removes the image's global colour, which the net could not give back otherwise). The
net is written without probdeg in mind; latents go in by class name:

- ``"type:ResnetBlock"``: before every residual block, at HR resolution. Noise there passes the blocks' identity
  paths and two strided convs, so it reaches the LR image filtered: spatially correlated, grain-like noise;
- ``"after:type:Downsample"``: after each strided layer, at 1/2 and 1/4 (LR) resolution: pixel-level noise.

``sigma="conditional"`` makes each latent's strength a function of the feature (Eq. 2-3 of the MSSR paper), so the
noise can depend on the content, as sensor noise does on brightness.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from probdeg import Probabilistic
from probdeg.sample_task import temporary_sample_task
from probdeg.stage1 import GeneratorLossWeights, train_degradation

STEPS = 60


class ResnetBlock(nn.Module):
    """CycleGAN's residual block: (reflection pad, Conv3x3, InstanceNorm, ReLU) x 2 without the last ReLU, plus x."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), nn.InstanceNorm2d(channels), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), nn.InstanceNorm2d(channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv_block(x)


class Downsample(nn.Module):
    """Conv3x3 with stride 2 doubling the channels, InstanceNorm, ReLU: CycleGAN's downsampling layer."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, 2 * channels, 3, stride=2, padding=1),
                                  nn.InstanceNorm2d(2 * channels), nn.ReLU(True))

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


class ResnetDownscaler(nn.Module):
    """CycleGAN's ResnetGenerator with a strided downsampling tail instead of its upsampling one, and its tanh
    output added to the bicubic downscale of the input.

    Shape:
        (B, 3, H, W) in [0, 1] -> (B, 3, H / 2**n_down, W / 2**n_down).
    """

    def __init__(self, ngf: int = 32, n_blocks: int = 6, n_down: int = 2) -> None:
        super().__init__()
        self.head = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(3, ngf, 7), nn.InstanceNorm2d(ngf), nn.ReLU(True))
        self.blocks = nn.Sequential(*[ResnetBlock(ngf) for _ in range(n_blocks)])
        self.tail = nn.Sequential(*[Downsample(ngf * 2**i) for i in range(n_down)])
        self.out = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(ngf * 2**n_down, 3, 7), nn.Tanh())

    def forward(self, x: Tensor) -> Tensor:
        residual = self.out(self.tail(self.blocks(self.head(2 * x - 1))))  # CycleGAN works on [-1, 1] images
        base = F.interpolate(x, size=residual.shape[-2:], mode="bicubic", align_corners=False, antialias=True)
        return base + 0.5 * residual


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
    G = Probabilistic(ResnetDownscaler(), at=["type:ResnetBlock", "after:type:Downsample"], sigma="conditional")
    print(G.summary())
    with unpaired_folders(args) as (hr, lr):
        gan = train_degradation(G, hr, lr, steps=args.steps, crop=args.crop, batch_size=args.batch_size,
                                seed=args.seed, lr=2e-4, injection_lr=1e-2, weights=GeneratorLossWeights(gan=0.01))
    check_sampling(gan.G, torch.rand(4, 3, args.crop, args.crop), seed=args.seed)


if __name__ == "__main__":
    main()
