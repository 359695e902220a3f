"""The robustness sweep of MSSR's Figure 7: PSNR of SR models as Gaussian noise is added to their LR input.

:func:`noise_sweep` adds Gaussian noise of standard deviation ``sigma`` (8-bit units) to every LR image, rounds it to
8 bits as a saved image would be, runs each model (or ensemble) on it and reports the mean PSNR per sigma. One noise
field per image (seeded by the run's seed and the image's path) is scaled by each sigma, so the curves differ by the
noise level only.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import torch
from torch import Tensor, nn

from ..errors import ImageReadError, UserError
from ..figures import plot_curves
from ..folders import Matching, match_images
from ..io import image_to_tensor, read_image
from ..noise_field import stable_seed
from ..progress import progress_bar
from ..registry import Resolve
from ..sr import DEFAULT_TILE_PAD, SRNetInfo, load_ensemble, parse_model_list, probe_sr_net, super_resolve
from ..tables import csv_text, format_table, json_safe, nan_mean, write_text
from .image import psnr_uint8
from .sr_scores import check_pair, read_uint8, to_uint8

PathLike = Union[str, os.PathLike]

SWEEP_CSV = "robustness.csv"
SWEEP_JSON = "robustness.json"
SWEEP_PNG = "robustness.png"


def add_gaussian_noise(lr: Tensor, sigma: float, *, seed: int) -> Tensor:
    """``lr`` plus Gaussian noise of standard deviation ``sigma / 255``, clamped and rounded to 8 bits.

    The noise is ``sigma * eps`` with ``eps`` drawn from a CPU generator seeded by ``seed``, so one seed gives the
    same field at every sigma (and on every device). ``sigma = 0`` returns ``lr`` unchanged.

    Shape:
        lr: (C, H, W) or (B, C, H, W) in [0, 1] -> same.
    """
    if not math.isfinite(sigma) or sigma < 0:
        raise UserError(f"noise sigma must be >= 0 (8-bit units), got {sigma!r}")
    if sigma == 0:
        return lr
    eps = torch.randn(lr.shape, generator=torch.Generator().manual_seed(int(seed)))
    noisy = lr + eps.to(device=lr.device, dtype=lr.dtype) * (sigma / 255.0)
    return noisy.clamp(0, 1).mul(255).round().div(255)


def parse_sigmas(text: Union[str, Sequence[float]]) -> list[float]:
    """``"0,5,10,15"`` (or numbers) -> sorted, distinct noise levels in 8-bit units."""
    items = text.split(",") if isinstance(text, str) else list(text)
    try:
        sigmas = [float(s) for s in items]
    except ValueError as err:
        raise UserError(f"noise sigmas must be comma-separated numbers, like 0,5,10,15; got {text!r}") from err
    if not sigmas or any(not math.isfinite(s) or s < 0 for s in sigmas):
        raise UserError(f"noise sigmas must be numbers >= 0 (8-bit units), got {text!r}")
    return sorted(set(sigmas))


ModelGroup = Union[PathLike, Sequence[PathLike], nn.Module, Sequence[nn.Module]]


@dataclass
class Sweep:
    """PSNR of each model (or ensemble) on noisy LR inputs.

    Attributes:
        sigmas: the noise levels, 8-bit units.
        labels: one per model.
        checkpoints: the checkpoint paths of each model (empty for nets given in memory).
        psnr: label -> mean PSNR (dB) at each sigma.
        per_image: label -> image key -> PSNR at each sigma.
        matching: how the LR files were paired with the GT files.
        failures: messages of pairs that could not be read.
        options: ``lr_dir``, ``gt_dir``, ``seed``, ``crop_border``, ``y_channel``, ``scale``.
    """

    sigmas: list[float]
    labels: list[str]
    checkpoints: list[list[str]]
    psnr: dict[str, list[float]]
    per_image: dict[str, dict[str, list[float]]]
    matching: Matching
    failures: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)

    def table(self) -> str:
        """Mean PSNR: one line per sigma, one column per model."""
        header = ["sigma"] + list(self.labels)
        rows = [[format(s, "g")] + [format(self.psnr[label][i], ".2f") for label in self.labels]
                for i, s in enumerate(self.sigmas)]
        return "mean PSNR (dB)\n" + format_table(header, rows)

    def as_dict(self) -> dict[str, Any]:
        return json_safe({**self.options, "sigmas": self.sigmas, "metric": "psnr",
                           "models": [{"label": label, "checkpoints": ckpts, "psnr": self.psnr[label],
                                       "per_image": self.per_image[label]}
                                      for label, ckpts in zip(self.labels, self.checkpoints)],
                           "missing": [str(p) for p in self.matching.missing],
                           "extra": [str(p) for p in self.matching.extra],
                           "ambiguous": {str(gt): [str(c) for c in c_] for gt, c_ in self.matching.ambiguous},
                           "failures": self.failures})


def _load_group(group: ModelGroup, device: Union[str, torch.device],
                resolve: Optional[Resolve]) -> tuple[list[nn.Module], list[str], list]:
    """(nets, checkpoint paths, each net's SRNetInfo) of one entry of the sweep."""
    if isinstance(group, nn.Module):
        return [group], [], [probe_sr_net(group)]
    if isinstance(group, Sequence) and not isinstance(group, str) and group and \
            all(isinstance(m, nn.Module) for m in group):
        return list(group), [], [probe_sr_net(net) for net in group]
    paths = parse_model_list(group)  # type: ignore[arg-type]
    nets, info = load_ensemble(paths, device=device, resolve=resolve)
    return nets, [str(p) for p in paths], [info]


def _default_label(checkpoints: list[str], index: int) -> str:
    if not checkpoints:
        return f"model {index + 1}"
    return "+".join(Path(p).stem for p in checkpoints)


def noise_sweep(
    models: Sequence[ModelGroup], lr_dir: PathLike, gt_dir: PathLike, *, sigmas: Union[str, Sequence[float]],
    labels: Optional[Sequence[Optional[str]]] = None, seed: int = 0, crop_border: int = 4, y_channel: bool = False,
    tile: Optional[int] = None, tile_pad: Optional[int] = None, device: Union[str, torch.device] = "cpu",
    progress: bool = True, resolve: Optional[Resolve] = None,
) -> Sweep:
    """PSNR of each model against the GT as Gaussian noise is added to the LR images (MSSR's Figure 7).

    Every image is read once; for each sigma its noisy version (see :func:`add_gaussian_noise`, seeded by
    ``stable_seed(seed, image key)``) goes through every model, and the SR output, rounded to 8 bits as a saved image
    would be, is scored with BasicSR's PSNR. A GT image larger than ``scale`` times its LR image by less than
    ``scale`` pixels is cropped to it (as BasicSR's paired datasets do).

    Args:
        models: one entry per curve: checkpoints (``"A.pth,B.pth"`` or a sequence, averaged as an ensemble), or nets.
        lr_dir: the clean LR images.
        gt_dir: their HR ground truth (paired by name, see :func:`match_images`).
        sigmas: noise levels in 8-bit units (``"0,5,10,15"`` or numbers).
        labels: a name per model (``None`` entries, or no list: the checkpoint stems joined by ``+``).
        seed: the noise seed.
        crop_border: pixels left out of PSNR on every side.
        y_channel: PSNR on the Y channel.
        tile: tile side in LR pixels for the nets (see :func:`probdeg.sr.super_resolve`).
        tile_pad: context around each tile (default :data:`probdeg.sr.DEFAULT_TILE_PAD`).
        device: where the nets run.
        progress: show a tqdm progress bar.
        resolve: finds arch types outside probdeg's own (see :func:`probdeg.sr.load_ensemble`).

    Returns:
        The mean and per-image PSNR of every model at every sigma.

    Raises:
        ValueError: no models, labels that do not match the models or repeat, models of different scales, or an
            LR / GT pair whose sizes do not agree with the scale (both files named).
    """
    sigma_list = parse_sigmas(sigmas)
    if not models:
        raise UserError("the noise sweep needs at least one model")
    if labels is not None and len(labels) != len(models):
        raise UserError(f"got {len(labels)} labels for {len(models)} models: give one label per model, or none")
    tile_pad = DEFAULT_TILE_PAD if tile_pad is None else tile_pad
    matching = match_images(lr_dir, gt_dir)
    if not matching.pairs:
        raise UserError(f"no LR image in {str(lr_dir)!r} pairs with a GT image in {str(gt_dir)!r}; "
                         + " ".join(matching.problems("LR")))
    groups, names, infos = [], [], []
    for i, group in enumerate(models):
        nets, checkpoints, group_infos = _load_group(group, device, resolve)
        groups.append((nets, checkpoints))
        given = labels[i] if labels is not None else None
        names.append(given or _default_label(checkpoints, i))
        infos.extend(group_infos)
    if len(set(names)) != len(names):
        raise UserError(f"model labels must differ, got {names}: pass a label per model")
    scales = {info.scale for info in infos}
    if len(scales) > 1:
        raise UserError(f"all models of the sweep must share one scale, got {', '.join(f'x{s}' for s in scales)}")
    info = SRNetInfo(infos[0].scale, max(i.multiple for i in infos))
    scale = info.scale

    per_image: dict[str, dict[str, list[float]]] = {name: {} for name in names}
    failures: list[str] = []
    for key, lr_path, gt_path in progress_bar(matching.pairs, unit="img", desc="sweep", enabled=progress):
        try:
            lr = image_to_tensor(read_image(lr_path))
            gt = read_uint8(gt_path)
        except (ImageReadError, OSError) as err:
            failures.append(str(err))
            continue
        h, w = lr.shape[-2] * scale, lr.shape[-1] * scale
        if not (h <= gt.shape[0] < h + scale and w <= gt.shape[1] < w + scale):
            failures.append(f"size mismatch: LR {str(lr_path)!r} ({lr.shape[-1]}x{lr.shape[-2]}) times {scale} is "
                            f"{w}x{h}, but GT {str(gt_path)!r} is {gt.shape[1]}x{gt.shape[0]}")
            continue
        gt = gt[:h, :w]
        noise_seed = stable_seed("probdeg.noise_sweep", int(seed), key)
        for sigma in sigma_list:
            noisy = add_gaussian_noise(lr, sigma, seed=noise_seed).to(device)
            for name, (nets, _) in zip(names, groups):
                sr = to_uint8(super_resolve(nets, noisy, tile=tile, tile_pad=tile_pad, info=info))
                check_pair(sr, gt, crop_border, f"SR of {str(lr_path)!r} and GT {str(gt_path)!r}")
                value = psnr_uint8(sr, gt, crop_border=crop_border, y_channel=y_channel)
                per_image[name].setdefault(key, []).append(value)
    if not per_image[names[0]]:
        raise UserError(f"no pair could be read: {'; '.join(failures)}")
    psnr = {name: [nan_mean([v[i] for v in per_image[name].values()]) for i in range(len(sigma_list))]
            for name in names}
    return Sweep(sigmas=sigma_list, labels=names, checkpoints=[c for _, c in groups], psnr=psnr,
                 per_image=per_image, matching=matching, failures=failures,
                 options={"lr_dir": str(lr_dir), "gt_dir": str(gt_dir), "seed": seed, "crop_border": crop_border,
                          "y_channel": y_channel, "scale": scale})


def plot_sweep(sweep: Sweep, path: PathLike, *, title: Optional[str] = None) -> Path:
    """Plot PSNR vs noise sigma, one line per model, into a PNG (atomically); infinite PSNRs are left out."""
    return plot_curves(path, sweep.sigmas, {label: sweep.psnr[label] for label in sweep.labels},
                       xlabel="noise sigma on the LR input (8-bit units)",
                       ylabel="PSNR (dB)" + (" on Y" if sweep.options.get("y_channel") else ""),
                       title=title or "Robustness to LR noise")


def write_sweep(sweep: Sweep, out_dir: PathLike) -> tuple[Path, Path, Path]:
    """Write ``robustness.csv`` (one row per sigma, one column per model), ``robustness.json`` and the
    ``robustness.png`` plot into ``out_dir``, atomically.

    Returns:
        The three paths.
    """
    out_dir = Path(out_dir)
    rows = [[format(s, "g")] + [format(sweep.psnr[label][i], ".6f") for label in sweep.labels]
            for i, s in enumerate(sweep.sigmas)]
    csv_path, json_path, png_path = out_dir / SWEEP_CSV, out_dir / SWEEP_JSON, out_dir / SWEEP_PNG
    write_text(csv_path, csv_text(["sigma"] + list(sweep.labels), rows))
    write_text(json_path, json.dumps(sweep.as_dict(), indent=2, allow_nan=False) + "\n")
    plot_sweep(sweep, png_path)
    return csv_path, json_path, png_path
