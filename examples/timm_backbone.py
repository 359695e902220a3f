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

import re

import timm
import torch
import torch.nn.functional as F
from _common import parse_args
from plain_pytorch_loop import train_and_check
from torch import Tensor, nn

from probdeg import Probabilistic

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


def main(argv: list[str] | None = None) -> None:
    args = parse_args(__doc__, steps=200, argv=argv)
    torch.manual_seed(args.seed)
    G = Probabilistic(TimmDownscaler("resnet18"), at=at_residual_blocks)
    train_and_check(G, args)


if __name__ == "__main__":
    main()
