"""What every example shares: its command-line flags, the unpaired folders it trains on, and the sampling check.

The training loop itself is in ``plain_pytorch_loop.py``, the example written for readers of other codebases.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Optional

import torch
from torch import Tensor, nn


def parse_args(doc: Optional[str], *, steps: int, argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """The flags of every example; ``steps`` is the default number of training steps.

    Args:
        doc: the example's module docstring; its first line describes the script in ``--help``.
        steps: default of ``--steps``, chosen so that the script runs in well under a minute on 2 CPU cores.
        argv: arguments (default ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(description=doc.strip().splitlines()[0] if doc else None)
    parser.add_argument("--steps", type=int, default=steps, help=f"training steps (default {steps})")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights, crops and samples (default 0)")
    parser.add_argument("--hr", type=Path, help="folder of clean HR images (default: probdeg's sample data, made "
                                                "in a temporary folder)")
    parser.add_argument("--lr", type=Path, help="folder of real LR images, unpaired with --hr")
    parser.add_argument("--crop", type=int, default=64, help="HR crop size; the LR crop is a quarter (default 64)")
    parser.add_argument("--batch-size", type=int, default=8, help="crops per step (default 8)")
    args = parser.parse_args(argv)
    if (args.hr is None) != (args.lr is None):
        parser.error("give both --hr and --lr, or neither (for the sample data)")
    if args.steps < 1:
        parser.error(f"--steps must be at least 1, got {args.steps}")
    return args


@contextlib.contextmanager
def unpaired_folders(args: argparse.Namespace) -> Iterator[tuple[Path, Path]]:
    """Yield ``(hr_folder, real_lr_folder)``: ``--hr`` / ``--lr``, or probdeg's sample task written to a temporary
    folder (clean HR photos and other photos through a random camera-like degradation; about half a second)."""
    if args.hr is not None:
        yield args.hr, args.lr
        return
    from probdeg.sample_task import make_sample_data

    with tempfile.TemporaryDirectory(prefix="probdeg-example-") as tmp:
        folders = make_sample_data(tmp, scale=4, seed=args.seed)
        yield folders["train_hr"], folders["train_lr"]


@torch.no_grad()
def check_sampling(G: nn.Module, inputs: Tensor, *, seed: int = 0) -> float:
    """Print and check the two sampling promises: two samples of the same input differ; the mean mode is
    deterministic.

    Args:
        G: a trained :class:`probdeg.Probabilistic` generator.
        inputs: (B, C, H, W) inputs of ``G`` (HR crops, or their bicubic downscale for same-size generators).
        seed: seed of the two samples.

    Returns:
        The mean absolute difference between two samples of the same input.

    Raises:
        RuntimeError: the samples are identical, or two mean-mode calls are not.
    """
    G.eval()  # sampling stays random in eval mode; eval only freezes e.g. BatchNorm statistics
    samples = G(inputs, n_samples=2, seed=seed)  # (B, 2, C, h, w)
    spread = (samples[:, 0] - samples[:, 1]).abs().mean().item()
    deterministic = torch.equal(G(inputs, mode="mean"), G(inputs, mode="mean"))
    print(f"two samples of the same HR image differ: mean |sample 1 - sample 2| = {spread:.3e} "
          f"(LR shape {tuple(samples.shape[2:])})")
    print(f"mean mode is deterministic: {deterministic}")
    if not spread > 0:
        raise RuntimeError("the two samples are identical: the latents did not become active")
    if not deterministic:
        raise RuntimeError("two mean-mode calls gave different outputs")
    return spread
