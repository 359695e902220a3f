"""Train a probabilistic degradation generator in plain PyTorch, without BasicSR.

    python examples/plain_pytorch_loop.py [--steps 100] [--hr CLEAN_HR_DIR --lr REAL_LR_DIR]

For users of other codebases: everything stage 1 needs is a few lines of PyTorch around probdeg's pieces, and
``probdeg.stage1.train_degradation`` is those lines:

- data: ``probdeg.unpaired_data.UnpairedImageDataset`` gives random HR crops, each with a crop of an unrelated real LR
  image;
- generator: any HR -> LR net wrapped in ``probdeg.Probabilistic`` (here probdeg's ``DeResnet``);
- discriminator: ``probdeg.FSDiscriminator``, which judges only high frequencies (a wavelet high-pass);
- losses (``probdeg.stage1``): ``ColorLoss`` ties the low frequencies to the bicubic downscale, a vanilla GAN loss
  pulls the high frequencies towards the real LR images, and the diversity term (on here) rewards two samples of one
  HR crop for differing, up to the spread of the real noise.

Without ``--hr/--lr`` it trains on probdeg's sample task, written to a temporary folder. The last line confirms that
BasicSR was not imported.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

import torch
from torch import Tensor

from probdeg import DeResnet, Probabilistic
from probdeg.filters import HighPass
from probdeg.metrics.degradation import folder_noise_level, gaussian_pair_distance
from probdeg.sample_task import temporary_sample_task
from probdeg.stage1 import GeneratorLossWeights, train_degradation

STEPS = 100


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
    # DeResnet declares its own injection points (before each residual block, as in the released MSSR code).
    G = Probabilistic(DeResnet(scale=4, num_feat=32, num_blocks=4), sigma="channel")
    print(G.summary())
    with unpaired_folders(args) as (hr, lr):
        # The diversity term's bound: how much two draws of the real LR's noise differ in the discriminator's view.
        tau = gaussian_pair_distance(folder_noise_level(lr), HighPass("wavelet"))
        gan = train_degradation(G, hr, lr, steps=args.steps, crop=args.crop, batch_size=args.batch_size,
                                seed=args.seed, lr=2e-4, injection_lr=1e-2, diversity_tau=tau,
                                weights=GeneratorLossWeights(gan=0.01, diversity=1.0))
    check_sampling(gan.G, torch.rand(4, 3, args.crop, args.crop), seed=args.seed)
    print(f"basicsr imported: {'basicsr' in sys.modules}")


if __name__ == "__main__":
    main()
