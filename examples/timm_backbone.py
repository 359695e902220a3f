"""A generator built on a timm backbone, wrapped by a predicate on module names.

    python examples/timm_backbone.py [--steps 200] [--hr CLEAN_HR_DIR --lr REAL_LR_DIR]

The backbone is timm's ``resnet18`` as a feature extractor (``features_only=True``, no pretrained weights, nothing
downloaded), cut at its stride-4 feature map: the LR resolution of a x4 degradation. A small head turns that map
into a residual on the bicubic downscale. The module names come from timm, so the injection points are chosen by a
predicate ``(name, module) -> bool``: before every residual block of the backbone (timm's ResNets name them
``layer<i>.<j>``; other families differ, e.g. ``blocks.<i>.<j>``, so adapt the pattern), and before the head's last
conv, which outputs the image. With ``resnet18`` cut at stride 4, the blocks are the two of ``layer1``, all three
latents at the LR resolution.
"""

from __future__ import annotations

import argparse
import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

import timm
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from probdeg import Probabilistic
from probdeg.sample_task import temporary_sample_task
from probdeg.stage1 import GeneratorLossWeights, train_degradation

STEPS = 200


BLOCK_NAME = re.compile(r"backbone\.layer\d+\.\d+")


def at_residual_blocks(name: str, module: nn.Module) -> bool:
    """The injection points: every residual block of the backbone, and the conv that outputs the image."""
    return BLOCK_NAME.fullmatch(name) is not None or name == "head.2"


class TimmDownscaler(nn.Module):
    """A timm backbone's stride-``scale`` feature map -> Conv3x3, PReLU, Conv3x3 -> residual on the bicubic image.

    Args:
        backbone: a timm model name whose second feature map (``out_indices=(1,)``) has stride ``scale``.
        scale: the downscaling factor.
        head_feat: width of the head.

    Shape:
        (B, 3, H, W) -> (B, 3, H / scale, W / scale).
    """

    def __init__(self, backbone: str = "resnet18", scale: int = 4, head_feat: int = 64) -> None:
        super().__init__()
        self.backbone = timm.create_model(backbone, pretrained=False, features_only=True, out_indices=(1,))
        stride = self.backbone.feature_info.reduction()[-1]
        if stride != scale:
            raise ValueError(f"{backbone}'s feature map 1 has stride {stride}, not {scale}: pick another out_indices")
        channels = self.backbone.feature_info.channels()[-1]
        self.head = nn.Sequential(nn.Conv2d(channels, head_feat, 3, padding=1), nn.PReLU(),
                                  nn.Conv2d(head_feat, 3, 3, padding=1))

    def forward(self, x: Tensor) -> Tensor:
        (feature,) = self.backbone(x)
        base = F.interpolate(x, size=feature.shape[-2:], mode="bicubic", align_corners=False, antialias=True)
        return base + self.head(feature)


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
    G = Probabilistic(TimmDownscaler("resnet18"), at=at_residual_blocks)
    print(G.summary())
    with unpaired_folders(args) as (hr, lr):
        gan = train_degradation(G, hr, lr, steps=args.steps, crop=args.crop, batch_size=args.batch_size,
                                seed=args.seed, lr=2e-4, injection_lr=1e-2, weights=GeneratorLossWeights(gan=0.01))
    check_sampling(gan.G, torch.rand(4, 3, args.crop, args.crop), seed=args.seed)


if __name__ == "__main__":
    main()
