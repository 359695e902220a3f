"""A small unpaired real-world SR task built from scikit-image's bundled colour photos (no download).

- Clean HR domain: the left three quarters of four photos.
- "Real" LR domain: five OTHER photos, degraded by :data:`camera_degradation`, a stochastic camera-like process
  that no probdeg model is told about (blur, x``scale`` downscale, signal-dependent noise, JPEG), with random
  amounts per image. :class:`CameraDegradation` changes the amounts; any ``f(hr, scale, rng) -> lr`` can replace it.
- Validation: the held-out right quarters of the HR photos (``val_hr``), each degraded by :data:`VAL_DRAWS` draws of
  the same degradation (``val_lr``), so validation PSNR has a ground truth.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import importlib.util
import math
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable, Optional, Union

import numpy as np

from .errors import UserError
from .io import write_image
from .jpeg import compress

VAL_DRAWS = 3
"""Validation pairs per held-out quarter of the sample task (each with its own degradation draw)."""

HR_PHOTOS = ("astronaut", "coffee", "rocket", "stereo_motorcycle")
REAL_LR_PHOTOS = ("chelsea", "immunohistochemistry", "hubble_deep_field", "retina", "stereo_motorcycle_right")

TrueDegradation = Callable[[np.ndarray, int, np.random.Generator], np.ndarray]
"""The task's hand-made "real" degradation, ``f(hr, scale, rng) -> lr`` on HWC float RGB in [0, 1]: the ground truth
that the learned degradation generators never see (not to be confused with them)."""


@dataclass(frozen=True)
class CameraDegradation:
    """A camera-like degradation with random amounts per image: Gaussian blur, area downscale by ``scale``,
    signal-dependent Poisson-Gaussian noise (variance ``a * x + b``) and JPEG compression.

    Each field is the (low, high) range its amount is drawn from, uniformly, per image. A range of (0, 0) turns
    blur or noise off; ``jpeg=None`` turns compression off.

    Attributes:
        blur: Gaussian blur sigma in HR pixels.
        noise_a: the signal-dependent (shot) noise variance per unit of intensity.
        noise_b: the constant (read) noise variance.
        jpeg: JPEG quality, integers from 1 to 100 (both ends included).
    """

    blur: tuple[float, float] = (0.6, 1.6)
    noise_a: tuple[float, float] = (0.002, 0.01)
    noise_b: tuple[float, float] = (1e-5, 1e-4)
    jpeg: Optional[tuple[int, int]] = (50, 90)

    def __post_init__(self) -> None:
        for name in ("blur", "noise_a", "noise_b", "jpeg"):
            value = getattr(self, name)
            if value is None and name == "jpeg":
                continue
            if len(value) != 2 or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in value) \
                    or value[0] < 0 or value[0] > value[1]:
                raise UserError(f"degradation {name}: expected a range low:high with 0 <= low <= high, got {value}")
        if self.jpeg is not None and not (1 <= self.jpeg[0] and self.jpeg[1] <= 100):
            raise UserError(f"degradation jpeg: quality must lie in 1..100, got {self.jpeg[0]}:{self.jpeg[1]}")

    def __call__(self, image: np.ndarray, scale: int, rng: np.random.Generator) -> np.ndarray:
        """Degrade one image.

        Args:
            image: HWC float RGB in [0, 1]; height and width multiples of ``scale``.
            scale: downscaling factor.
            rng: source of the random amounts and of the noise.

        Returns:
            The LR image, HWC float32 in [0, 1], ``1/scale`` of the input size.
        """
        import cv2

        image = image.astype(np.float32)
        sigma = rng.uniform(*self.blur)
        if sigma > 0:
            image = cv2.GaussianBlur(image, (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REFLECT)
        h, w = image.shape[:2]
        small = cv2.resize(image, (w // scale, h // scale), interpolation=cv2.INTER_AREA)
        a, b = rng.uniform(*self.noise_a), rng.uniform(*self.noise_b)
        noisy = small + rng.standard_normal(small.shape).astype(np.float32) * np.sqrt(a * np.clip(small, 0, 1) + b)
        noisy = np.clip(noisy, 0, 1)
        if self.jpeg is None:
            return noisy.astype(np.float32)
        return compress(noisy, int(rng.integers(self.jpeg[0], self.jpeg[1] + 1)))

    def describe(self) -> str:
        """The settings as :func:`load_true_degradation` reads them back."""
        jpeg = "none" if self.jpeg is None else f"{self.jpeg[0]}:{self.jpeg[1]}"
        return (f"blur={self.blur[0]:g}:{self.blur[1]:g},noise_a={self.noise_a[0]:g}:{self.noise_a[1]:g},"
                f"noise_b={self.noise_b[0]:g}:{self.noise_b[1]:g},jpeg={jpeg}")


camera_degradation = CameraDegradation()


def _parse_settings(spec: str) -> CameraDegradation:
    settings: dict[str, Any] = {}
    names = [f.name for f in fields(CameraDegradation)]
    for item in filter(None, (part.strip() for part in spec.split(","))):
        key, _, value = item.partition("=")
        key = key.strip()
        if key not in names:
            close = difflib.get_close_matches(key, names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UserError(f"degradation {spec!r}: unknown setting {key!r}{hint}; known: {', '.join(names)}")
        if key == "jpeg" and value.strip().lower() == "none":
            settings[key] = None
            continue
        try:
            ends = [float(v) for v in value.split(":")]
        except ValueError:
            ends = []
        if len(ends) not in (1, 2):
            raise UserError(f"degradation {spec!r}: {key} needs low:high numbers (or one number), got {value!r}")
        settings[key] = (int(ends[0]), int(ends[-1])) if key == "jpeg" else (ends[0], ends[-1])
    return CameraDegradation(**settings)


def _import_callable(spec: str) -> TrueDegradation:
    module_name, _, attr = spec.rpartition(":")
    if not module_name or not attr:
        raise UserError(f"degradation {spec!r}: expected key=low:high settings, module:function or file.py:function")
    try:
        if module_name.endswith(".py"):
            location = Path(module_name)
            if not location.is_file():
                raise FileNotFoundError(f"degradation {spec!r}: no such file {str(location)!r}")
            module_spec = importlib.util.spec_from_file_location(location.stem, location)
            module = importlib.util.module_from_spec(module_spec)
            module_spec.loader.exec_module(module)  # the user's own code, named by the user
        else:
            module = importlib.import_module(module_name)
        function = getattr(module, attr)
    except (ImportError, AttributeError) as err:
        raise UserError(f"degradation {spec!r}: cannot import {attr!r} from {module_name!r} ({err})") from None
    if not callable(function):
        raise UserError(f"degradation {spec!r}: {attr!r} is not callable")
    return function


def load_true_degradation(spec: Optional[str]) -> TrueDegradation:
    """The degradation a ``--degradation`` value names.

    Args:
        spec: ``None`` or ``""`` for :data:`camera_degradation`; ``key=low:high,...`` to change the ranges of a
            :class:`CameraDegradation` (keys ``blur``, ``noise_a``, ``noise_b``, ``jpeg``; ``jpeg=none`` turns it off,
            one number means a fixed amount); or ``module:function`` / ``path/to/file.py:function``, a callable
            ``f(hr, scale, rng) -> lr`` on HWC float RGB arrays in [0, 1].

    Raises:
        ValueError: a malformed spec, an unknown key, or a name that does not import to a callable.
        FileNotFoundError: a ``file.py`` that does not exist.
    """
    if not spec:
        return camera_degradation
    return _parse_settings(spec) if "=" in spec else _import_callable(spec)


def describe_true_degradation(degradation: TrueDegradation) -> str:
    """A one-line description: the settings of a :class:`CameraDegradation`, else the callable's import name."""
    if isinstance(degradation, CameraDegradation):
        return degradation.describe()
    module = getattr(degradation, "__module__", None) or "?"
    return f"{module}:{getattr(degradation, '__qualname__', type(degradation).__name__)}"


def apply_true_degradation(degradation: TrueDegradation, hr: np.ndarray, scale: int, rng: np.random.Generator,
                    name: str) -> np.ndarray:
    """Run a (possibly user-supplied) degradation and check its output: HWC RGB, ``1/scale`` of ``hr``.

    Returns:
        The LR image, float32 clipped to [0, 1].

    Raises:
        ValueError: a wrong output, naming ``name`` (the image) and what was expected.
    """
    lr = degradation(hr, scale, rng)
    expected = (hr.shape[0] // scale, hr.shape[1] // scale, 3)
    if not isinstance(lr, np.ndarray) or lr.shape != expected:
        got = lr.shape if isinstance(lr, np.ndarray) else type(lr).__name__
        raise UserError(f"the degradation {describe_true_degradation(degradation)} returned {got} for {name}; "
                         f"expected an array of shape {expected} (HWC RGB, 1/{scale} of the HR image)")
    return np.clip(lr.astype(np.float32), 0, 1)


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
                     degradation: TrueDegradation = camera_degradation, val_draws: int = VAL_DRAWS) -> dict[str, Path]:
    """Write ``train_hr``, ``train_lr`` (real, unpaired), ``val_hr`` and ``val_lr`` (paired) under ``out``.

    Existing files are overwritten atomically; the result is the same for the same ``seed``.

    Args:
        out: output folder.
        scale: LR = HR / scale.
        seed: seed of the random degradation amounts and noise.
        degradation: ``degradation(hr, scale, rng) -> lr``; default :data:`camera_degradation`.
        val_draws: validation pairs per held-out quarter, each with its own draw of the degradation's amounts
            (``<photo>_d<k>.png`` in both folders): more pairs, less noise in the validation figures.

    Returns:
        The four folders by role.
    """
    out = Path(out)
    folders = {role: out / role for role in ("train_hr", "train_lr", "val_hr", "val_lr")}
    rng = np.random.default_rng(seed)
    held_out = []

    def validation_pair(name: str, image: np.ndarray, draw: int) -> None:
        write_image(folders["val_hr"] / f"{name}_d{draw}.png", image)
        write_image(folders["val_lr"] / f"{name}_d{draw}.png",
                    apply_true_degradation(degradation, image, scale, rng, name))

    for name in HR_PHOTOS:
        image = _fit(_photo(name), 4 * scale)
        split = image.shape[1] * 3 // 4 // (4 * scale) * (4 * scale)
        write_image(folders["train_hr"] / f"{name}.png", image[:, :split])
        held_out.append((name, _fit(image[:, split:], scale)))
        validation_pair(name, held_out[-1][1], 0)
    for name in REAL_LR_PHOTOS:
        image = _fit(_photo(name), scale)
        write_image(folders["train_lr"] / f"{name}.png", apply_true_degradation(degradation, image, scale, rng, name))
    for draw in range(1, val_draws):  # drawn after the rest, which keeps the first draw's task as it was
        for name, image in held_out:
            validation_pair(name, image, draw)
    return folders


@contextlib.contextmanager
def temporary_sample_task(*, scale: int = 4, seed: int = 0) -> Iterator[dict[str, Path]]:
    """:func:`make_sample_data` in a temporary folder, deleted when the block ends (about half a second to make)."""
    with tempfile.TemporaryDirectory(prefix="probdeg-sample-") as tmp:
        yield make_sample_data(tmp, scale=scale, seed=seed)
