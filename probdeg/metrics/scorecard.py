"""The generator scorecard (``probdeg score-generator``): how real and how diverse a degradation generator's LR is,
measured on unpaired data without pretrained weights, beside two reference rows.

Rows: ``bicubic`` (a generator collapsed to bicubic downscaling), ``bicubic + noise`` (bicubic plus white Gaussian
noise at the real LR's estimated level: the simplest "realistic" degradation), then each generator, then each
hand-made pipeline (Real-ESRGAN's), scored alike. Columns
(:mod:`probdeg.metrics.degradation`):

- ``noise ratio``: the generated LR's noise level over the real LR's (1: the same; 0: noise-free);
- ``rho``: how much one HR image's samples differ, over the real noise level (0: deterministic; about 1: like two
  draws of the real noise); ``pairwise L1``: the same spread as the mean |sample i - sample j|;
- ``patch distance``: sliced Wasserstein distance between high-pass patches of generated and real LR (0: the same);
- ``HF distance``: the marginal high-frequency statistics distance (0: the same);
- ``PSNR vs bicubic`` and ``colour L1``: content fidelity against bicubic downscaling (very high PSNR: collapse);
- ``JPEG block-edge``: the luma step across the 8x8 grid over the mean step (:func:`probdeg.jpeg.block_edge_ratio`;
  about 1: no blocking), beside the real LR's (whole images) in the header;
- ``latent strength``: the latents' mean learned noise standard deviation;
- ``PSNR vs paired LR`` when paired LR images are given (mind the trap: see
  :meth:`probdeg.integrations.basicsr.models.degradation_gan.DegradationGANModel.nondist_validation`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import torch
from torch import Tensor, nn

from ..checkpoint import load_network
from ..checks import is_count
from ..degrade import SeededDegradation, centre_box, degrade_image, infer_scale, sample_grid
from ..errors import ImageReadError, UserError
from ..figures import plot_histograms
from ..filters import LowPass, bicubic_downscale
from ..folders import distinct_images, list_inputs
from ..io import image_to_tensor, list_images, read_image, write_image
from ..jpeg import block_edge_ratio
from ..noise_field import stable_seed
from ..progress import progress_bar
from ..registry import Resolve
from ..tables import csv_text, format_table, json_safe, markdown_table, write_text
from .degradation import (
    diversity_ratio,
    high_frequency_distance,
    latent_strengths,
    mean_strength,
    noise_level,
    patch_distance,
    sample_diversity,
)
from .image import psnr_float

PathLike = Union[str, os.PathLike]

MIN_LR_SIDE = 16
"""The smallest LR side the figures take (the noise level's 2x8 blocks; the patch distance's filter and patches)."""
NOISE_PATCH = 32
"""Side (LR pixels) of the patches whose noise levels the histogram shows."""
GRID_IMAGES, GRID_CROP = 3, 128

COLUMNS = (("noise_ratio", "noise ratio", ".2f"), ("rho", "rho", ".2f"), ("pairwise_l1", "pairwise L1", ".4f"),
           ("patch_distance", "patch distance", ".3f"), ("hf_distance", "HF distance", ".3f"),
           ("psnr_vs_bicubic", "PSNR vs bicubic", ".2f"), ("color_l1", "colour L1", ".4f"),
           ("block_edge_ratio", "JPEG block-edge", ".3f"), ("latent_strength", "latent strength", ".4f"),
           ("psnr_lr", "PSNR vs paired LR", ".2f"))
"""(field, header, format) of the table's columns, in order."""


@dataclass
class GeneratorScores:
    """One row of the scorecard (see the module doc for the figures; ``None`` where a figure does not apply)."""

    label: str
    checkpoint: Optional[str]
    noise_level: float
    noise_ratio: float
    rho: float
    pairwise_l1: float
    patch_distance: float
    hf_distance: float
    psnr_vs_bicubic: Optional[float]  # None for the bicubic row itself (identical by construction)
    color_l1: float
    latent_strength: Optional[float] = None
    psnr_lr: Optional[float] = None
    patch_noise_levels: list[float] = field(default_factory=list, repr=False)
    block_edge_ratio: Optional[float] = None  # median over the first samples (about 1: no JPEG blocking)


@dataclass
class Scorecard:
    """The scores of every row, the real LR's noise level and the settings."""

    rows: list[GeneratorScores]
    real_noise_level: float
    real_patch_noise_levels: list[float]
    options: dict[str, Any]
    real_block_edge_ratio: Optional[float] = None

    def cells(self) -> tuple[list[str], list[list[str]]]:
        """The table as text: the header and one row per generator (columns no row has are left out)."""
        used = [c for c in COLUMNS if any(getattr(row, c[0]) is not None for row in self.rows)]
        header = ["generator"] + [title for _, title, _ in used]
        rows = [[row.label] + ["-" if getattr(row, key) is None else format(getattr(row, key), fmt)
                               for key, _, fmt in used] for row in self.rows]
        return header, rows

    def table(self) -> str:
        """A plain-text table, one line per row."""
        return format_table(*self.cells())

    def markdown(self) -> str:
        header, rows = self.cells()
        blocking = f", JPEG block-edge ratio {self.real_block_edge_ratio:.3f}" \
            if self.real_block_edge_ratio is not None else ""
        return (f"Real LR noise level {self.real_noise_level:.4f} (wavelet MAD, median over "
                f"{self.options['real_images']} images){blocking}; {self.options['samples']} samples of each of "
                f"{self.options['hr_images']} HR images, seed {self.options['seed']}.\n\n"
                + markdown_table(header, rows) + "\n")

    def as_dict(self) -> dict[str, Any]:
        rows = [{k: v for k, v in asdict(row).items() if k != "patch_noise_levels"} for row in self.rows]
        return json_safe({**self.options, "real_noise_level": self.real_noise_level,
                          "real_block_edge_ratio": self.real_block_edge_ratio, "rows": rows})

    def row(self, label: str) -> GeneratorScores:
        return next(row for row in self.rows if row.label == label)


def _read_folder(folder: Path, what: str, max_images: int) -> list[tuple[str, Tensor]]:
    images = []
    for path in list_inputs(folder, what=what)[:max_images]:
        try:
            images.append((path.relative_to(folder).with_suffix("").as_posix(), image_to_tensor(read_image(path))))
        except (ImageReadError, OSError):
            continue
    if not images:
        raise UserError(f"no readable image in the {what} {str(folder)!r}")
    return images


def _patch_levels(images: Sequence[Tensor]) -> list[float]:
    levels = []
    for image in images:
        image = image[None] if image.dim() == 3 else image
        h, w = image.shape[-2] // NOISE_PATCH * NOISE_PATCH, image.shape[-1] // NOISE_PATCH * NOISE_PATCH
        if h and w:
            patches = image[..., :h, :w].unfold(2, NOISE_PATCH, NOISE_PATCH).unfold(3, NOISE_PATCH, NOISE_PATCH)
            patches = patches.permute(0, 2, 3, 1, 4, 5).reshape(-1, image.shape[1], NOISE_PATCH, NOISE_PATCH)
            levels += noise_level(patches, block=4).tolist()
    return levels


def _block_edge_ratio(images: Sequence[Tensor]) -> Optional[float]:
    """The median block-edge ratio of (C, H, W) images of 16 px or more each way; ``None`` when none is."""
    ratios = [block_edge_ratio(x.permute(1, 2, 0).numpy()) for x in images if min(x.shape[-2:]) >= 16]
    return _median(ratios) if ratios else None


def _median(values: Sequence[float]) -> float:
    return float(torch.tensor(list(values)).median())


def load_generators(models: Sequence[PathLike], *, device: Union[str, torch.device] = "cpu",
                    resolve: Optional[Resolve] = None) -> list[tuple[str, nn.Module, int]]:
    """``(label, generator, scale)`` of each checkpoint; the label is the file's stem, or its experiment's folder
    name when stems repeat (``net_g_latest.pth`` of several runs).

    Raises:
        UserError: an unreadable checkpoint, or one that is not a degradation generator (it does not make its
            input smaller), naming the file.
    """
    paths = [Path(m) for m in models]
    stems = [p.stem for p in paths]
    loaded = []
    for path in paths:
        label = path.stem if stems.count(path.stem) == 1 else \
            (path.parent.parent.name if path.parent.name == "models" else path.parent.name) + f"/{path.stem}"
        G = load_network(path, resolve=resolve, device=device)
        probe = torch.zeros(1, 3, 64, 64, device=device)
        with torch.inference_mode():
            out = G(probe)
        if not isinstance(out, Tensor) or out.dim() != 4 or out.shape[-1] >= 64:
            got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
            raise UserError(f"{path} is not a degradation generator: it maps a 64x64 image to {got} (an SR net?)")
        loaded.append((label, G, infer_scale(G)))
    return loaded


def score_generators(
    models: Sequence[PathLike], hr_dir: PathLike, real_lr_dir: PathLike, *, paired_lr_dir: Optional[PathLike] = None,
    samples: int = 4, seed: int = 0, max_images: int = 32, crop: Optional[int] = 256,
    device: Union[str, torch.device] = "cpu", progress: bool = True, resolve: Optional[Resolve] = None,
    scale: int = 4, labels: Optional[Sequence[str]] = None, require_scale: bool = False,
    handmade: Sequence[tuple[str, SeededDegradation]] = (),
) -> tuple[Scorecard, dict[str, nn.Module]]:
    """Score degradation generators against unpaired real LR images (see the module doc).

    Args:
        models: generator checkpoints (may be empty: the reference rows only).
        hr_dir: clean HR images to degrade.
        real_lr_dir: real LR images (unpaired).
        paired_lr_dir: optional LR images paired with ``hr_dir`` by name (the true degradation of the HR images),
            for the PSNR column.
        samples: LR samples per HR image (at least 2).
        seed: seed of the samples and of the reference noise.
        max_images: HR and real LR images read at most (the first ones by name).
        crop: centre crop of each HR image (``None``: whole images), to bound the cost; at least
            :data:`MIN_LR_SIDE` LR pixels (``MIN_LR_SIDE * scale``).
        device: where the generators run.
        progress: show a progress bar.
        resolve: finds arch types outside probdeg's own.
        scale: the down-sampling factor when no model is given (else the models').
        labels: one row label per model (default: the checkpoint's stem, or its experiment when stems repeat).
        handmade: ``(label, pipeline)`` rows scored beside the generators, e.g. Real-ESRGAN's
            (``probdeg.integrations.basicsr.handmade``); their ``checkpoint`` column reads ``handmade``.
        require_scale: refuse models of another scale than ``scale`` (instead of taking theirs).

    Returns:
        The scorecard, and the generators by label (for :func:`write_scorecard`'s grids).

    Raises:
        FileNotFoundError / UserError: a missing folder, no readable image, a checkpoint that cannot be read or is
            not a generator, or generators of different scales.
    """
    if not is_count(samples, 2):
        raise UserError(f"samples must be an integer >= 2 (the spread needs two), got {samples!r}")
    if not is_count(scale):
        raise UserError(f"scale must be a positive integer, got {scale!r}")
    generators = load_generators(models, device=device, resolve=resolve)
    if labels is not None:
        if len(labels) != len(generators) or len(set(labels)) != len(labels):
            raise ValueError(f"labels must name each of the {len(generators)} models once, got {list(labels)}")
        generators = [(label, G, s) for label, (_, G, s) in zip(labels, generators)]
    made_by = [str(path) for path in models] + ["handmade"] * len(handmade)
    generators += [(label, pipeline.to(device), pipeline.scale) for label, pipeline in handmade]
    if len({label for label, _, _ in generators}) != len(generators):
        raise UserError(f"every row needs its own label, got {[label for label, _, _ in generators]}")
    scales = {s for _, _, s in generators} or {scale}
    if len(scales) > 1:
        raise UserError(f"the generators must share one scale, got {sorted(scales)}")
    if require_scale and scales != {scale}:
        raise UserError(f"scale {scale} was asked for, but the generators are x{scales.pop()}")
    scale = scales.pop()
    if crop is not None and not is_count(crop, MIN_LR_SIDE * scale):
        raise UserError(f"crop must be at least {MIN_LR_SIDE * scale} HR pixels ({MIN_LR_SIDE} LR pixels at scale "
                        f"{scale}), or 0 / None for whole images, got {crop!r}")
    hr_images = _read_folder(Path(hr_dir), "HR folder", max_images)
    real = [image for _, image in _read_folder(Path(real_lr_dir), "real LR folder", max_images)]
    paired = {}
    if paired_lr_dir is not None:
        paired = dict(_read_folder(Path(paired_lr_dir), "paired LR folder", 10**9))
    crops, boxes = [], {}
    for key, image in hr_images:
        boxes[key] = centre_box(image.shape[-2], image.shape[-1], crop or 10**9, scale)
        top, left, h, w = boxes[key]
        crops.append((key, image[:, top:top + h, left:left + w]))
    real_levels = [float(noise_level(x[None])) for x in real if min(x.shape[-2:]) >= 16]
    if not real_levels:
        raise UserError(f"the real LR images of {str(real_lr_dir)!r} are too small for a noise level (16 px)")
    real_level = _median(real_levels)
    low_pass = LowPass("wavelet")

    def reference(hr: Tensor, key: str, noisy: bool) -> Tensor:
        clean = bicubic_downscale(hr[None].expand(samples, -1, -1, -1), scale)
        if not noisy:
            return clean
        # The seed key keeps the module's old name, so the reference row draws the same noise as before the move.
        generator = torch.Generator().manual_seed(stable_seed("probdeg.scorecard.noise", seed, key))
        return (clean + torch.randn(clean.shape, generator=generator) * real_level).clamp(0, 1)

    makers: list[tuple[str, Optional[str], Any]] = [
        ("bicubic", None, lambda hr, key: reference(hr, key, False)),
        ("bicubic + noise", None, lambda hr, key: reference(hr, key, True))]
    for (label, G, _), path in zip(generators, made_by):
        makers.append((label, path, lambda hr, key, G=G: degrade_image(G, hr.to(device), scale=scale,
                                                                           samples=samples, seed=seed, key=key).cpu()))
    rows = []
    with torch.inference_mode():
        for label, checkpoint, make in progress_bar(makers, desc="score", unit="generator", enabled=progress):
            firsts, spreads, l1s, psnrs, colors, lr_psnrs = [], [], [], [], [], []
            for key, hr in crops:
                lr = make(hr, key)  # (samples, C, h, w)
                bicubic = bicubic_downscale(hr[None], scale)
                firsts.append(lr[:1])
                spreads.append(lr[None])
                l1s.append(float(sample_diversity(lr[None])))
                psnrs.append(float(psnr_float(lr[:1], bicubic)))
                colors.append(float((low_pass(lr[:1]) - low_pass(bicubic)).abs().mean()))
                if key in paired:
                    top, left, h, w = (v // scale for v in boxes[key])
                    target = paired[key][:, top:top + h, left:left + w]
                    if target.shape[-2:] == lr.shape[-2:]:
                        lr_psnrs.append(float(psnr_float(lr[:1], target[None])))
            level = _median([float(noise_level(x)) for x in firsts if min(x.shape[-2:]) >= 16] or [0.0])
            blocking = _block_edge_ratio([x[0] for x in firsts])
            G = next((g for name, g, _ in generators if name == label), None)
            is_bicubic = checkpoint is None and label == "bicubic"  # the reference row: identical by construction
            rows.append(GeneratorScores(
                label=label, checkpoint=checkpoint, noise_level=level, noise_ratio=level / max(real_level, 1e-8),
                rho=float(torch.stack([diversity_ratio(s, real_level) for s in spreads]).mean()),
                pairwise_l1=sum(l1s) / len(l1s), patch_distance=float(patch_distance(firsts, real, seed=seed)),
                hf_distance=float(high_frequency_distance(firsts, [x[None] for x in real])),
                psnr_vs_bicubic=None if is_bicubic else sum(psnrs) / len(psnrs), color_l1=sum(colors) / len(colors),
                latent_strength=mean_strength(latent_strengths(G))
                if G is not None and not isinstance(G, SeededDegradation) else None,
                psnr_lr=sum(lr_psnrs) / len(lr_psnrs) if lr_psnrs else None,
                patch_noise_levels=_patch_levels(firsts), block_edge_ratio=blocking))
    card = Scorecard(rows, real_level, _patch_levels(real),
                     {"hr_dir": str(hr_dir), "real_lr_dir": str(real_lr_dir),
                      "paired_lr_dir": str(paired_lr_dir) if paired_lr_dir else None, "samples": samples,
                      "seed": seed, "crop": crop, "scale": scale, "hr_images": len(crops), "real_images": len(real)},
                     real_block_edge_ratio=_block_edge_ratio(real))
    return card, {label: G for label, G, _ in generators}


def file_label(label: str) -> str:
    """A label as a file-name part (``grid_<label>.png``)."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in label)


def write_scorecard(card: Scorecard, out_dir: PathLike, *,
                    generators: Optional[dict[str, nn.Module]] = None) -> dict[str, Path]:
    """Write ``scorecard.md``, ``.csv`` and ``.json``, ``noise_levels.png`` (per-patch noise levels of the real and
    the generated LR) and, for each generator given, ``grid_<label>.png`` (MSSR's Figure 3), atomically.

    Returns:
        The files by kind (``md``, ``csv``, ``json``, ``histogram``, ``grid:<label>``).
    """
    out = Path(out_dir)
    header, rows = card.cells()
    paths = {"md": out / "scorecard.md", "csv": out / "scorecard.csv", "json": out / "scorecard.json",
             "histogram": out / "noise_levels.png"}
    write_text(paths["md"], card.markdown())
    write_text(paths["csv"], csv_text(header, rows))
    write_text(paths["json"], json.dumps(card.as_dict(), indent=2, allow_nan=False) + "\n")
    plot_histograms(paths["histogram"], {"real LR": card.real_patch_noise_levels,
                                         **{row.label: row.patch_noise_levels for row in card.rows}},
                    xlabel=f"noise level of {NOISE_PATCH}x{NOISE_PATCH} LR patches (wavelet MAD)",
                    title="Noise levels: real vs generated LR")
    if generators:
        hr_paths = list_images(card.options["hr_dir"])
        images = [image_to_tensor(read_image(hr_paths[i])) for i in distinct_images(hr_paths, GRID_IMAGES)]
        for label, G in generators.items():
            path = out / f"grid_{file_label(label)}.png"
            write_image(path, sample_grid(G, images, samples=3, seed=card.options["seed"], scale=card.options["scale"],
                                          crop=GRID_CROP))
            paths[f"grid:{label}"] = path
    return paths
