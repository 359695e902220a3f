"""One of BasicSR's own networks, made probabilistic purely through YAML options.

    python examples/basicsr_yaml.py [--steps 200] [--hr CLEAN_HR_DIR --lr REAL_LR_DIR]

The options below are what a BasicSR option file holds. ``network_g`` nests BasicSR's ``EDSR`` inside
``type: Probabilistic``; ``probdeg.integrations.basicsr.build_network`` resolves both names through BasicSR's
ARCH_REGISTRY (after ``import probdeg.integrations.basicsr`` has registered probdeg's archs there), with an error
that lists close names for a misspelt type.

BasicSR's networks are super-resolution nets: they upscale or keep the size, none downscales. The trick that turns
one into a x4 downscaler is FSSR's: ``upscale: 1`` makes EDSR a same-size net (its upsampler is then empty), and it
runs on the bicubic-downscaled HR image, so bicubic x1/4 followed by EDSR maps HR to LR. (``MSRResNet`` fails to
build with ``upscale: 1``; ``RRDBNet``'s ``scale: 1`` pixel-unshuffles and upsamples back, so it keeps the size too.)
A tensor cannot be written in YAML, so the points are found with the default 64x64 probe input: the summary shows
64x64 features, while in training EDSR runs on 16x16 bicubic-downscaled crops.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

import torch
import yaml
from torch import Tensor

from probdeg import Probabilistic
from probdeg.filters import bicubic_downscale
from probdeg.integrations.basicsr import build_network
from probdeg.sample_task import temporary_sample_task
from probdeg.stage1 import GeneratorLossWeights, train_degradation

STEPS = 200


OPTIONS = """
network_g:
  type: Probabilistic
  net: {type: EDSR, num_in_ch: 3, num_out_ch: 3, num_feat: 32, num_block: 4, upscale: 1, img_range: 1.0}
  at: [body.*, before:conv_last]   # before each residual block, and before the conv that outputs the image
  sigma: conditional
  mean_shift: true
  std: 0.1

network_d:
  type: FSDiscriminator
  filter: wavelet
  num_feat: 32

train:
  optim_g: {lr: !!float 2e-4, injection_lr: !!float 1e-2}   # latents at a higher lr, to move within a demo
  gan_opt: {loss_weight: 0.01}
"""


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
    opt = yaml.safe_load(OPTIONS)
    G, D = build_network(opt["network_g"]), build_network(opt["network_d"])
    train_opt = opt["train"]
    print(G.summary())
    with unpaired_folders(args) as (hr, lr):
        gan = train_degradation(G, hr, lr, steps=args.steps, crop=args.crop, batch_size=args.batch_size,
                                seed=args.seed, D=D, input_transform=lambda x: bicubic_downscale(x, 4),
                                lr=train_opt["optim_g"]["lr"], injection_lr=train_opt["optim_g"]["injection_lr"],
                                weights=GeneratorLossWeights(gan=train_opt["gan_opt"]["loss_weight"]))
    check_sampling(gan.G, bicubic_downscale(torch.rand(4, 3, args.crop, args.crop), 4), seed=args.seed)


if __name__ == "__main__":
    main()
