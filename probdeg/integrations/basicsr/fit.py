"""Fit Real-ESRGAN's hand-made pipeline to a user's real LR (``probdeg fit-degradation``): what its maintainers tell
users to do by eye, done by a seeded random search on unpaired statistics.

Candidates: the base preset first, then random draws of the parameters the fit changes (:data:`FITTED_KEYS`: both
blur ranges, both noise levels, Gaussian or Poisson, the gray-noise shares, both JPEG ranges, the second blur's and
the final sinc's probabilities; the kernel kinds and the resizes keep the preset's). Each candidate degrades the same
tiles of the HR images with the same seeds, and is scored against the real LR by
:func:`probdeg.metrics.lr_match.objective` (noise by brightness, JPEG blocking, edge sharpness, patch distance).

The objective is checked where the truth is known: given LR made from the same HR images by the known degradation
(``known_lr``), the report ranks it among the candidates, on the objective and on each measure, so that one sees which
measures can be trusted on the task.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from torch import Tensor, nn

from ...degrade import degrade_image
from ...errors import UserError
from ...io import image_to_tensor, list_images, read_image
from ...metrics.lr_match import MEASURES, lr_statistics, match_measures, objective
from ...noise_field import sample_seed
from ...progress import progress_bar
from ...tables import csv_text, markdown_table, write_text
from .handmade import RealESRGANDegradation
from .schema import HandmadeOptions
from .sources import HandmadeSource

FITTED_KEYS = ("blur_sigma", "blur_sigma2", "gaussian_noise_prob", "noise_range", "poisson_scale_range",
               "gray_noise_prob", "gaussian_noise_prob2", "noise_range2", "poisson_scale_range2", "gray_noise_prob2",
               "jpeg_range", "jpeg_range2", "second_blur_prob", "final_sinc_prob")
"""The parameters the search draws (Real-ESRGAN's names)."""


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def draw_candidate(rng: np.random.Generator) -> dict[str, Any]:
    """One random setting of :data:`FITTED_KEYS`, within Real-ESRGAN's own ranges or below them (less degradation)."""
    def jpeg() -> list[int]:
        low = int(rng.integers(30, 96))
        return [low, int(min(100, low + rng.integers(0, 31)))]

    return {
        "blur_sigma": [0.2, round(float(rng.uniform(0.3, 3.0)), 3)],
        "blur_sigma2": [0.2, round(float(rng.uniform(0.3, 1.5)), 3)],
        "gaussian_noise_prob": round(float(rng.uniform()), 3),
        "noise_range": [0.0, round(_log_uniform(rng, 0.5, 30), 3)],
        "poisson_scale_range": [0.0, round(_log_uniform(rng, 0.02, 3), 3)],
        "gray_noise_prob": round(float(rng.uniform()), 3),
        "gaussian_noise_prob2": round(float(rng.uniform()), 3),
        "noise_range2": [0.0, round(_log_uniform(rng, 0.5, 25), 3)],
        "poisson_scale_range2": [0.0, round(_log_uniform(rng, 0.02, 2.5), 3)],
        "gray_noise_prob2": round(float(rng.uniform()), 3),
        "jpeg_range": jpeg(), "jpeg_range2": jpeg(),
        "second_blur_prob": round(float(rng.uniform()), 3),
        "final_sinc_prob": round(float(rng.uniform()), 3),
    }


@dataclass
class Candidate:
    """One tried setting: its overrides of the base preset, its measures and its objective."""

    label: str
    overrides: dict[str, Any]
    measures: dict[str, float]
    objective: float


@dataclass
class FitResult:
    """What the search found: every candidate (the base first), the best, the reference rows (generators, the
    known degradation) and the settings."""

    candidates: list[Candidate]
    references: list[Candidate]
    base: str
    options: dict[str, Any]

    @property
    def best(self) -> Candidate:
        return min(self.candidates, key=lambda c: c.objective)

    def fitted_block(self) -> dict[str, Any]:
        """The option block ``degradations:`` and ``probdeg degrade --handmade`` take."""
        return {"handmade": self.base, **self.best.overrides}

    def rank_of(self, row: Candidate, measure: Optional[str] = None) -> int:
        """1 + how many candidates score below ``row`` (on the objective, or on one measure)."""
        value = (lambda c: c.objective) if measure is None else (lambda c: c.measures[measure])
        return 1 + sum(value(c) < value(row) for c in self.candidates if c is not row)


Box = tuple[int, int, int, int]


def _crops(folder: Path, what: str, max_images: int, crop: Optional[int], scale: int, max_crops: int = 10**9
           ) -> list[tuple[str, Tensor, Box]]:
    """``(name, crop, its box)``: the ``crop`` x ``crop`` tiles of the first images of ``folder`` (whole images when
    ``crop`` is ``None``), at most ``max_crops`` spread evenly over them; tiles under 16 LR pixels are left out."""
    found = []
    for path in list_images(folder)[:max_images]:
        image = image_to_tensor(read_image(path))
        height, width = image.shape[-2:]
        side_h, side_w = (height, width) if crop is None else (min(crop, height), min(crop, width))
        side_h, side_w = side_h - side_h % scale, side_w - side_w % scale
        if side_h < 16 * scale or side_w < 16 * scale:
            continue
        for top in range(0, height - side_h + 1, side_h):
            for left in range(0, width - side_w + 1, side_w):
                found.append((path.relative_to(folder).as_posix(),
                              image[:, top:top + side_h, left:left + side_w], (top, left, side_h, side_w)))
    if not found:
        raise UserError(f"{what} {folder}: no readable image of at least {16 * scale}x{16 * scale} pixels")
    if len(found) > max_crops:
        found = [found[int(i)] for i in np.linspace(0, len(found) - 1, max_crops)]
    return found


def _known_crops(folder: Path, hr: list[tuple[str, Tensor, Box]], scale: int) -> list[Tensor]:
    """The crops of the known LR that the HR crops degrade to (paired by name, boxes divided by the scale)."""
    crops = []
    for key, _, box in hr:
        path = folder / key
        if not path.is_file():
            raise UserError(f"known LR folder {folder}: no image {key} (it pairs with the HR images by name)")
        top, left, h, w = (v // scale for v in box)
        crops.append(image_to_tensor(read_image(path))[:, top:top + h, left:left + w])
    return crops


def fit_handmade(hr_dir: Path, real_lr_dir: Path, *, base: str = "realesrgan", scale: int = 4,
                 candidates: int = 64, seconds: Optional[float] = None, seed: int = 0, max_images: int = 16,
                 crop: Optional[int] = 128, max_crops: int = 48, known_lr_dir: Optional[Path] = None,
                 generators: Sequence[tuple[str, nn.Module]] = (), progress: bool = True) -> FitResult:
    """Search the hand-made pipeline's parameters for the setting whose LR of ``hr_dir`` matches ``real_lr_dir``.

    Args:
        hr_dir: clean HR images (their centre crops are degraded).
        real_lr_dir: the real LR images (unpaired), whole.
        base: the preset the search starts from (candidate 0) and whose other keys it keeps.
        scale: the down-sampling factor.
        candidates: settings tried at most, the base included.
        seconds: stop drawing new candidates after this long (``None``: no bound).
        seed: the seed of the draws (the candidates and each crop's degradation).
        max_images: HR, real and known LR images read at most.
        crop: the side of the HR tiles degraded (``None``: whole images).
        max_crops: tiles degraded at most, spread evenly over the images.
        known_lr_dir: LR made from ``hr_dir`` by a known degradation, paired by name: its row shows where the truth
            ranks.
        generators: ``(label, generator)`` rows scored on the same crops.
        progress: show a progress bar.
    """
    if candidates < 1:
        raise UserError(f"candidates must be at least 1, got {candidates}")
    hr = _crops(Path(hr_dir), "HR folder", max_images, crop, scale, max_crops)
    real = [image for _, image, _ in _crops(Path(real_lr_dir), "real LR folder", max_images, None, 1)]
    real_statistics = lr_statistics(real)
    HandmadeSource.read({"handmade": base}, "--base")  # an unknown preset is named before any work

    def score(label: str, overrides: dict[str, Any], lr: list[Tensor]) -> Candidate:
        measures = match_measures(lr, real, seed=seed, real_statistics=real_statistics)
        return Candidate(label, overrides, measures, objective(measures))

    def pipeline_lr(options: HandmadeOptions) -> list[Tensor]:
        pipeline = RealESRGANDegradation(options, scale=scale)
        return [pipeline.degrade(image[None], sample_seed(seed, f"{key}/{box}", 0))[0] for key, image, box in hr]

    rng = np.random.default_rng(seed)
    tried: list[Candidate] = []
    start = time.perf_counter()
    with progress_bar(total=candidates, desc="fit", unit="candidate", enabled=progress) as bar:
        for index in range(candidates):
            if index and seconds is not None and time.perf_counter() - start > seconds:
                break
            overrides = {} if index == 0 else draw_candidate(rng)
            options = HandmadeSource.read({"handmade": base, **overrides}, f"candidate {index}").options
            tried.append(score("default" if index == 0 else f"candidate {index}", overrides, pipeline_lr(options)))
            bar.update(1)
    references = []
    for label, G in generators:
        with torch.no_grad():
            lr = [degrade_image(G, image, scale=scale, seed=seed, key=f"{key}/{box}")[0].cpu()
                  for key, image, box in hr]
        references.append(score(label, {}, lr))
    if known_lr_dir is not None:
        references.append(score("known degradation", {}, _known_crops(Path(known_lr_dir), hr, scale)))
    return FitResult(tried, references, base, {
        "hr_dir": str(hr_dir), "real_lr_dir": str(real_lr_dir), "known_lr_dir": str(known_lr_dir or ""),
        "scale": scale, "seed": seed, "crop": crop, "hr_images": len(hr), "real_images": len(real),
        "candidates": len(tried), "seconds": round(time.perf_counter() - start, 1)})


def fit_table(result: FitResult, shown: int = 10) -> tuple[list[str], list[list[str]]]:
    """The report's rows: the references, the base, the best ``shown`` candidates; each with its rank among the
    candidates on the objective and on every measure."""
    header = ["row", "objective", "rank", *[f"{m} (rank)" for m in MEASURES]]
    base = result.candidates[0]
    best = sorted(result.candidates, key=lambda c: c.objective)[:shown]
    rows = []
    for row in result.references + [base] + [c for c in best if c is not base]:
        rows.append([row.label + (" (fitted)" if row is result.best else ""), f"{row.objective:.2f}",
                     str(result.rank_of(row)),
                     *["-" if np.isnan(row.measures[m]) else f"{row.measures[m]:.3f} ({result.rank_of(row, m)})"
                       for m in MEASURES]])
    return header, rows


def write_fit(result: FitResult, out_dir: Path) -> dict[str, Path]:
    """Write ``handmade_fitted.yml`` (the fitted block), ``fit.md`` and ``fit.csv`` (the table, the known
    degradation's ranks when given), atomically.

    Returns:
        The files by kind (``block``, ``md``, ``csv``).
    """
    import yaml

    out = Path(out_dir)
    paths = {"block": out / "handmade_fitted.yml", "md": out / "fit.md", "csv": out / "fit.csv"}
    best = result.best
    write_text(paths["block"], f"# probdeg fit-degradation: objective {best.objective:.3f} ({best.label} of "
               f"{len(result.candidates)}; the preset's {result.candidates[0].objective:.3f}); seed "
               f"{result.options['seed']}\n" + yaml.safe_dump(result.fitted_block(), sort_keys=False))
    header, rows = fit_table(result)
    lines = [f"Fit of the hand-made pipeline ({result.base}) to {result.options['real_lr_dir']}: "
             f"{result.options['candidates']} candidates in {result.options['seconds']} s, "
             f"{result.options['hr_images']} HR crops, seed {result.options['seed']}. Lower is closer; a rank is 1 + "
             "the candidates that score below the row.", ""]
    known = next((r for r in result.references if r.label == "known degradation"), None)
    if known is not None:
        trusted = [m for m in MEASURES if result.rank_of(known, m) == 1]
        lines += [f"The known degradation ranks {result.rank_of(known)} of {len(result.candidates) + 1} on the "
                  f"objective; the measures that rank it first: {', '.join(trusted) or 'none'}.", ""]
    write_text(paths["md"], "\n".join(lines) + markdown_table(header, rows) + "\n")
    write_text(paths["csv"], csv_text(header, rows))
    return paths
