"""PSNR and SSIM of 8-bit images, computed exactly as BasicSR's ``calculate_psnr`` / ``calculate_ssim`` do.

These are the figures to report: they equal BasicSR's test script to the last bit (``tests`` compares them), work on
8-bit images as saved, and need neither BasicSR nor a GPU. For float tensors during training (a generator's LR
against a reference, no rounding to 8 bits), use :func:`psnr_float`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

SSIM_WINDOW = 11
"""Side of SSIM's Gaussian window: images must be at least this large after the border crop."""

_Y_WEIGHTS_BGR = (24.966, 128.553, 65.481)  # ITU-R BT.601, as BasicSR's bgr2ycbcr (y_only)


def _prepare(image: np.ndarray, crop_border: int, y_channel: bool) -> np.ndarray:
    """Crop the border and, with ``y_channel``, convert to Y the way BasicSR's ``to_y_channel`` does.

    BasicSR reads images in OpenCV's BGR order; the channels are put in that order too, so that every sum runs in
    BasicSR's order and the figures agree to the last bit.
    """
    image = image[..., ::-1]
    if crop_border:
        image = image[crop_border:-crop_border, crop_border:-crop_border, ...]
    if y_channel:
        y = ((np.dot(image.astype(np.float32) / 255.0, _Y_WEIGHTS_BGR) + 16.0) / 255.0).astype(np.float32)
        image = y[..., None] * 255.0
    return image.astype(np.float64)


def psnr_uint8(sr: np.ndarray, gt: np.ndarray, *, crop_border: int = 0, y_channel: bool = False) -> float:
    """PSNR in dB of two 8-bit RGB images, ``crop_border`` pixels left out on every side (``inf`` when identical).

    Shape:
        sr, gt: (H, W, 3) uint8.
    """
    a, b = _prepare(sr, crop_border, y_channel), _prepare(gt, crop_border, y_channel)
    mse = np.mean((a - b) ** 2)
    if mse == 0:
        return float("inf")
    return float(10.0 * np.log10(255.0 * 255.0 / mse))


def _ssim_channel(a: np.ndarray, b: np.ndarray) -> float:
    import cv2

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    kernel = cv2.getGaussianKernel(SSIM_WINDOW, 1.5)
    window = np.outer(kernel, kernel.transpose())
    r = SSIM_WINDOW // 2

    def blur(x: np.ndarray) -> np.ndarray:
        return cv2.filter2D(x, -1, window)[r:-r, r:-r]  # "valid" part only

    mu1, mu2 = blur(a), blur(b)
    mu1_sq, mu2_sq, mu1_mu2 = mu1 ** 2, mu2 ** 2, mu1 * mu2
    sigma1_sq = blur(a ** 2) - mu1_sq
    sigma2_sq = blur(b ** 2) - mu2_sq
    sigma12 = blur(a * b) - mu1_mu2
    ssim_map = ((2 * mu1_mu2 + c1) * (2 * sigma12 + c2)) / ((mu1_sq + mu2_sq + c1) * (sigma1_sq + sigma2_sq + c2))
    return float(ssim_map.mean())


def ssim_uint8(sr: np.ndarray, gt: np.ndarray, *, crop_border: int = 0, y_channel: bool = False) -> float:
    """SSIM of two 8-bit RGB images (Gaussian window 11, sigma 1.5, the mean over channels), border left out.

    Shape:
        sr, gt: (H, W, 3) uint8, at least ``SSIM_WINDOW`` pixels on each side after the crop.
    """
    a, b = _prepare(sr, crop_border, y_channel), _prepare(gt, crop_border, y_channel)
    return float(np.array([_ssim_channel(a[..., i], b[..., i]) for i in range(a.shape[2])]).mean())


def psnr_float(x: Tensor, y: Tensor, max_value: float = 1.0) -> Tensor:
    """Peak signal-to-noise ratio per float image, in dB (inputs are clamped to [0, max_value]), no rounding to 8 bits.

    For figures computed on tensors during training (a generator's LR against a reference). Scores to report (SR
    images against their ground truth) use :func:`psnr_uint8`, BasicSR's PSNR on 8-bit images.

    Shape:
        x, y: (B, C, H, W) -> (B,).
    """
    mse = (x.clamp(0, max_value) - y.clamp(0, max_value)).float().pow(2).flatten(1).mean(1)
    return 10 * torch.log10(max_value**2 / mse.clamp_min(1e-12))
