"""A small unpaired real-world SR task built from scikit-image's bundled colour photos (no download).

- Clean HR domain: the left three quarters of four photos.
- "Real" LR domain: five OTHER photos, degraded by :func:`camera_degradation`, a stochastic camera-like process
  that no probdeg model is told about (blur, x``scale`` downscale, signal-dependent noise, JPEG), with random
  amounts per image.
- Validation: the held-out right quarters of the HR photos (``val_hr``) and the same degradation applied to them
  (``val_lr``), so validation PSNR has a ground truth.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Union

import numpy as np

from .io import write_image

HR_PHOTOS = ("astronaut", "coffee", "rocket", "stereo_motorcycle")
REAL_LR_PHOTOS = ("chelsea", "immunohistochemistry", "hubble_deep_field", "retina", "stereo_motorcycle_right")

Degradation = Callable[[np.ndarray, int, np.random.Generator], np.ndarray]


def camera_degradation(image: np.ndarray, scale: int, rng: np.random.Generator) -> np.ndarray:
    """A camera-like degradation with random amounts: Gaussian blur (sigma 0.6-1.6 HR px), area downscale by
    ``scale``, signal-dependent Poisson-Gaussian noise (variance ``a * x + b``, ``a`` in [0.002, 0.01], ``b`` in
    [1e-5, 1e-4]) and JPEG compression (quality 50-90).

    Args:
        image: HWC float RGB in [0, 1]; height and width multiples of ``scale``.
        scale: downscaling factor.
        rng: source of the random amounts and of the noise.

    Returns:
        The LR image, HWC float32 in [0, 1], ``1/scale`` of the input size.
    """
    import cv2

    sigma = rng.uniform(0.6, 1.6)
    blurred = cv2.GaussianBlur(image.astype(np.float32), (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REFLECT)
    h, w = image.shape[:2]
    small = cv2.resize(blurred, (w // scale, h // scale), interpolation=cv2.INTER_AREA)
    a, b = rng.uniform(0.002, 0.01), rng.uniform(1e-5, 1e-4)
    noisy = small + rng.standard_normal(small.shape).astype(np.float32) * np.sqrt(a * np.clip(small, 0, 1) + b)
    quality = int(rng.integers(50, 91))
    bgr = cv2.cvtColor((np.clip(noisy, 0, 1) * 255).round().astype(np.uint8), cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
    return cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB).astype(np.float32) / 255


def _photo(name: str) -> np.ndarray:
    from skimage import data

    if name == "stereo_motorcycle_right":
        image = data.stereo_motorcycle()[1]
    elif name == "stereo_motorcycle":
        image = data.stereo_motorcycle()[0]
    else:
        image = getattr(data, name)()
    image = image[..., :3].astype(np.float32) / 255
    if max(image.shape[:2]) > 1000:  # retina is 1411 px: halve it to keep the task small
        import cv2

        image = cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 2), interpolation=cv2.INTER_AREA)
    return image


def _fit(image: np.ndarray, multiple: int) -> np.ndarray:
    h, w = image.shape[:2]
    return image[: h - h % multiple, : w - w % multiple]


def make_sample_data(out: Union[str, Path], *, scale: int = 4, seed: int = 0,
                     degradation: Degradation = camera_degradation) -> dict[str, Path]:
    """Write ``train_hr``, ``train_lr`` (real, unpaired), ``val_hr`` and ``val_lr`` (paired) under ``out``.

    Existing files are overwritten atomically; the result is the same for the same ``seed``.

    Args:
        out: output folder.
        scale: LR = HR / scale.
        seed: seed of the random degradation amounts and noise.
        degradation: ``degradation(hr, scale, rng) -> lr``; default :func:`camera_degradation`.

    Returns:
        The four folders by role.
    """
    out = Path(out)
    folders = {role: out / role for role in ("train_hr", "train_lr", "val_hr", "val_lr")}
    rng = np.random.default_rng(seed)
    for name in HR_PHOTOS:
        image = _fit(_photo(name), 4 * scale)
        split = image.shape[1] * 3 // 4 // (4 * scale) * (4 * scale)
        write_image(folders["train_hr"] / f"{name}.png", image[:, :split])
        held_out = _fit(image[:, split:], scale)
        write_image(folders["val_hr"] / f"{name}.png", held_out)
        write_image(folders["val_lr"] / f"{name}.png", degradation(held_out, scale, rng))
    for name in REAL_LR_PHOTOS:
        write_image(folders["train_lr"] / f"{name}.png", degradation(_fit(_photo(name), scale), scale, rng))
    return folders
