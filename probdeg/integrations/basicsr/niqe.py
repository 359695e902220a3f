"""NIQE (Mittal et al. 2013) as BasicSR computes it: ``basicsr.metrics.niqe.calculate_niqe`` with its bundled
pristine-image parameters, on the Y channel, on the CPU."""

from __future__ import annotations

import math

import numpy as np

from .compat import import_basicsr

NIQE_BLOCK = 96
"""BasicSR's NIQE block side: an image needs at least two whole blocks (e.g. 96 x 192) for the fit to exist."""


def niqe(image: np.ndarray, *, crop_border: int = 0) -> float:
    """NIQE of an 8-bit RGB image (lower looks more natural); NaN when the image holds fewer than two blocks.

    Args:
        image: uint8 RGB pixels.
        crop_border: pixels left out on every side first.

    Returns:
        The score, or NaN for an image too small (fewer than two :data:`NIQE_BLOCK` blocks after the crop).

    Shape:
        image: (H, W, 3).
    """
    import_basicsr()
    from basicsr.metrics.niqe import calculate_niqe

    height, width = image.shape[0] - 2 * crop_border, image.shape[1] - 2 * crop_border
    if height < 0 or width < 0 or (height // NIQE_BLOCK) * (width // NIQE_BLOCK) < 2:
        return math.nan
    bgr = np.ascontiguousarray(image[:, :, ::-1])  # BasicSR's Y channel is computed from BGR
    return float(calculate_niqe(bgr, crop_border, input_order="HWC", convert_to="y"))
