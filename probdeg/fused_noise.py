"""A fused forward/backward for the common latent layer: one shared noise map, no mean shift.

Autograd's generic backward of ``h + w * softplus(v . h + b) * eps`` makes several full-size temporaries per
injection point; here every reduction over channels or over (batch, pixels) is one matrix product that reads the
feature once, which keeps the wrapper's cost near that of its single elementwise add (benchmarks/bench_wrapper.py).
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor


def channel_dot(x: Tensor, vec: Tensor) -> Tensor:
    """``sum_c x[b, c, h, w] * vec[c]``, as one matrix product.

    Shape:
        x (B, C, H, W), vec (C,) -> (B, 1, H, W).
    """
    # Explicit bmm / mv: `matmul` folds a (1, C) @ (B, C, N) product into a transposed copy of x when an operand
    # requires grad (13x slower here).
    b, c, h, w = x.shape
    if x.is_contiguous():
        return torch.bmm(vec.view(1, 1, c).expand(b, 1, c), x.view(b, c, h * w)).view(b, 1, h, w)
    if x.is_contiguous(memory_format=torch.channels_last):
        return torch.mv(x.permute(0, 2, 3, 1).reshape(b * h * w, c), vec).view(b, 1, h, w)
    return torch.einsum("bchw,c->bhw", x, vec).unsqueeze(1)


def pixel_dot(x: Tensor, m: Tensor) -> Tensor:
    """``sum_{b, h, w} x[b, c, h, w] * m[b, 0, h, w]``, as one batched matrix product.

    Shape:
        x (B, C, H, W), m (B, 1, H, W) -> (C,).
    """
    b, c, h, w = x.shape
    if x.is_contiguous():
        return torch.bmm(x.view(b, c, h * w), m.reshape(b, h * w, 1)).sum(0).view(c)
    if x.is_contiguous(memory_format=torch.channels_last):
        return torch.bmm(m.reshape(b, 1, h * w), x.permute(0, 2, 3, 1).reshape(b, h * w, c)).sum(0).view(c)
    return (x * m).sum(dim=(0, 2, 3))


class SharedNoise(torch.autograd.Function):
    """``h + scale * m`` with ``m = eps`` (channel sigma) or ``m = softplus(v . h + bias) * eps`` (conditional).

    Args (of ``apply``):
        h: feature (B, C, H, W).
        scale: per-channel noise scale (C,), already multiplied by the fixed std.
        eps: one noise map per sample (B, 1, H, W), temperature applied.
        v, bias: the sigma map's 1x1 conv weight (C,) and bias (1,), or both ``None`` for channel sigma.
    """

    @staticmethod
    def forward(ctx, h: Tensor, scale: Tensor, eps: Tensor, v: Optional[Tensor], bias: Optional[Tensor]) -> Tensor:
        if v is None:
            m, gate = eps, None
        else:
            pre = channel_dot(h, v) + bias
            m = F.softplus(pre) * eps
            gate = torch.sigmoid(pre)  # softplus' = sigmoid
        ctx.save_for_backward(h if v is not None else None, scale, eps, m, v, gate)
        return torch.addcmul(h, scale.view(1, -1, 1, 1), m)

    @staticmethod
    def backward(ctx, grad: Tensor):
        h, scale, eps, m, v, gate = ctx.saved_tensors
        grad_scale = pixel_dot(grad, m)
        if v is None:
            return grad, grad_scale, None, None, None
        d_pre = channel_dot(grad, scale) * eps * gate
        grad_h = torch.addcmul(grad, v.view(1, -1, 1, 1), d_pre)
        return grad_h, grad_scale, None, pixel_dot(h, d_pre), d_pre.sum().view(1)
