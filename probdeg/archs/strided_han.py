"""Strided HAN: the holistic attention network turned into a degradation generator (MSSR's G2).

Sub-module names mirror the official HAN code (wwlCape/HAN, ``src/model/han.py``) so that HAN/MSSR
state dicts map onto this module without renaming the body's keys.
"""

from __future__ import annotations

import contextlib

import torch
from einops import rearrange
from torch import Tensor, nn

from probdeg.archs.checks import check_arguments

__all__ = ["RCAB", "ChannelAttention", "ChannelSpatialAttention", "LayerAttention", "ResidualGroup", "StridedHAN"]



def _conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1)


class ChannelAttention(nn.Module):
    """Squeeze-and-excitation gate: global average pool -> 1x1 (C -> C/r) -> ReLU -> 1x1 -> sigmoid -> scale.

    Shape:
        (B, C, H, W) -> (B, C, H, W).
    """

    def __init__(self, num_feat: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = num_feat // reduction
        self.conv_du = nn.Sequential(
            nn.Conv2d(num_feat, hidden, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, num_feat, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x * self.conv_du(x.mean(dim=(2, 3), keepdim=True))


class RCAB(nn.Module):
    """Residual channel attention block: Conv3x3 -> ReLU -> Conv3x3 -> channel attention, identity skip.

    Shape:
        (B, C, H, W) -> (B, C, H, W).
    """

    def __init__(self, num_feat: int, reduction: int = 16) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _conv3x3(num_feat, num_feat),
            nn.ReLU(inplace=True),
            _conv3x3(num_feat, num_feat),
            ChannelAttention(num_feat, reduction),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ResidualGroup(nn.Module):
    """``num_blocks`` RCABs and a Conv3x3, with a skip over the whole group.

    Shape:
        (B, C, H, W) -> (B, C, H, W).
    """

    def __init__(self, num_feat: int, num_blocks: int = 20, reduction: int = 16) -> None:
        super().__init__()
        self.body = nn.Sequential(
            *[RCAB(num_feat, reduction) for _ in range(num_blocks)],
            _conv3x3(num_feat, num_feat),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class LayerAttention(nn.Module):
    """HAN's layer attention module (LAM): attention across the N stacked body outputs.

    The N x N correlation of the flattened layers goes through ``softmax(max - energy)`` (HAN's choice, which
    favours the least correlated layers), re-weights the layers, and is added back scaled by ``gamma``. ``gamma``
    starts at 0, so a fresh module only flattens its input.

    Shape:
        (B, N, C, H, W) -> (B, N * C, H, W).
    """

    def __init__(self) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: Tensor) -> Tensor:
        _, _, c, h, w = x.shape
        flat = rearrange(x, "b n c h w -> b n (c h w)")
        # The correlation sums C*H*W products: in float16 it overflows to inf (and max - inf is NaN), so it is
        # computed in float32 whatever autocast says.
        autocast_off = torch.autocast(x.device.type, enabled=False) if x.device.type in ("cpu", "cuda") \
            else contextlib.nullcontext()  # e.g. the meta device, which has no autocast
        with autocast_off:
            wide = flat.float()
            energy = wide @ wide.transpose(1, 2)
            attention = (energy.amax(dim=-1, keepdim=True) - energy).softmax(dim=-1)
        out = self.gamma * (attention.to(flat.dtype) @ flat) + flat
        return rearrange(out, "b n (c h w) -> b (n c) h w", c=c, h=h, w=w)


class ChannelSpatialAttention(nn.Module):
    """HAN's channel-spatial attention module (CSAM): a gate from a 3x3x3 Conv3d over the (C, H, W) volume.

    ``out = x * gamma * sigmoid(conv3d(x))``, plus ``x`` when ``residual`` is True (official HAN). MSSR uses the
    pure gate (``residual=False``), which outputs zeros while ``gamma`` is at its initial value 0.

    Args:
        residual: add the identity term of the official HAN.

    Shape:
        (B, C, H, W) -> (B, C, H, W).
    """

    def __init__(self, residual: bool = False) -> None:
        super().__init__()
        self.residual = residual
        self.conv = nn.Conv3d(1, 1, 3, padding=1)
        self.gamma = nn.Parameter(torch.zeros(1))

    def extra_repr(self) -> str:
        return f"residual={self.residual}"

    def forward(self, x: Tensor) -> Tensor:
        gate = self.conv(rearrange(x, "b c h w -> b 1 c h w")).sigmoid()
        out = x * (self.gamma * rearrange(gate, "b 1 c h w -> b c h w"))
        return out + x if self.residual else out


class StridedHAN(nn.Module):
    """HAN as a degradation generator: strided head, HAN body at LR resolution, one-conv tail.

    head (log2(scale) stride-2 Conv3x3) -> body (``num_groups`` :class:`ResidualGroup` + one Conv3x3) ->
    ``concat(csa(body output), last_conv(la(body outputs)))`` -> ``last`` Conv3x3(2C -> C) -> + head output ->
    tail Conv3x3(C -> out). The layer attention stacks the body outputs newest first, as the official HAN does.
    No mean shift and no output activation (clamp when writing images).

    Parameters: 15,813,249 for ``num_feat=64`` and 63,165,665 for ``num_feat=128`` (MSSR's setting), with the
    other arguments at their defaults.

    Args:
        in_channels: channels of the HR input.
        out_channels: channels of the LR output.
        num_feat: width of the network.
        num_groups: number of residual groups.
        num_blocks: RCABs per residual group.
        reduction: channel reduction of the channel attention (``num_feat // reduction`` hidden channels).
        scale: down-sampling factor, 2 or 4.
        csam_residual: CSAM with the identity term of the official HAN (False: MSSR's pure gate).

    Returns:
        The LR image, unbounded.

    Shape:
        (B, in_channels, H, W) -> (B, out_channels, ceil(H / scale), ceil(W / scale)).
    """

    # Where `Probabilistic` puts latents by default, as in the released MSSR code: after each body module
    # (10 groups + the body conv) and once more before the channel-spatial attention, 12 points.
    injection_points = ("after:body.*", "before:csa")

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        num_feat: int = 64,
        num_groups: int = 10,
        num_blocks: int = 20,
        reduction: int = 16,
        scale: int = 4,
        csam_residual: bool = False,
    ) -> None:
        super().__init__()
        check_arguments(in_channels=in_channels, out_channels=out_channels, num_feat=num_feat, num_groups=num_groups,
                        num_blocks=num_blocks, reduction=reduction, scale=scale)
        if num_feat < reduction:
            raise ValueError(f"num_feat ({num_feat}) must be at least reduction ({reduction})")
        self.scale = scale
        num_down = scale.bit_length() - 1
        self.head = nn.Sequential(
            *[_conv3x3(in_channels if i == 0 else num_feat, num_feat, stride=2) for i in range(num_down)]
        )
        self.body = nn.Sequential(
            *[ResidualGroup(num_feat, num_blocks, reduction) for _ in range(num_groups)],
            _conv3x3(num_feat, num_feat),
        )
        self.csa = ChannelSpatialAttention(residual=csam_residual)
        self.la = LayerAttention()
        self.last_conv = _conv3x3(len(self.body) * num_feat, num_feat)
        self.last = _conv3x3(2 * num_feat, num_feat)
        self.tail = _conv3x3(num_feat, out_channels)

    def forward(self, x: Tensor) -> Tensor:
        skip = self.head(x)
        res = skip
        layers = []
        for module in self.body:
            res = module(res)
            layers.append(res)
        # Newest first, as in the official HAN: keeps pretrained last_conv weights meaningful.
        fused = self.last_conv(self.la(torch.stack(layers[::-1], dim=1)))
        out = self.last(torch.cat((self.csa(res), fused), dim=1))
        return self.tail(out + skip)
