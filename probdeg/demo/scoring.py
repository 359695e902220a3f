"""The demo's numbers: PSNR / SSIM of every method on the validation pairs, the generators' LR realism, and the
robustness sweep. Each comes from probdeg's own ``sr`` / ``eval`` functions, so the report can give the command."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from ..integrations.basicsr import resolve_arch
from ..io import image_to_tensor, list_images, read_image, write_image
from ..metrics.robustness import noise_sweep, write_sweep
from ..metrics.scorecard import score_generators, write_scorecard
from ..metrics.sr_scores import evaluate_folders
from ..progress import progress_bar
from ..sr import sr_folder, super_resolve
from .plan import GENERATORS, ROWS, Row
from .stages import Records
from .task import SCALE, DemoData

if TYPE_CHECKING:
    from ..metrics.sr_scores import Evaluation

SIGMAS = (0.0, 5.0, 10.0, 15.0)  # LR noise of the robustness sweep, 8-bit units (MSSR's Figure 7)
GENERATOR_SAMPLES = 4
CROP_BORDER = SCALE


class BicubicUpsampler(nn.Module):
    """Bicubic upscaling as an SR "network", so it goes through the same scoring and sweep as the trained ones."""

    def __init__(self, scale: int = SCALE) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False).clamp(0, 1)


def _quote(words: list[str]) -> str:
    return " ".join(shlex.quote(str(w)) for w in words)


def present_rows(records: Records) -> list[Row]:
    """The rows whose run was trained (the oracle only on the built-in task), and bicubic upscaling."""
    return [row for row in ROWS if row.run is None or records.has_sr(row.run)]


def row_models(row: Row, records: Records) -> list[str]:
    """The checkpoints behind a row: a run's models (the ensemble) or one of them; none for bicubic."""
    if row.run is None:
        return []
    models = records.sr(row.run).model_paths
    return models if row.model is None else [models[row.model]]


def _bicubic_folder(lr_dir: Path, out_dir: Path) -> None:
    net = BicubicUpsampler()
    for path in list_images(lr_dir):
        sr = super_resolve(net, image_to_tensor(read_image(path)))
        write_image(out_dir / path.relative_to(lr_dir).with_suffix(".png"), sr)


def _evaluate(sr_dir: Path, data: DemoData) -> Evaluation:
    return evaluate_folders(sr_dir, data.val_hr, crop_border=CROP_BORDER, lpips=False)


def score_models(models: list[str], data: DemoData, sr_dir: Path) -> Evaluation:
    """Super-resolve the validation LR with ``models`` (their ensemble) into a fresh ``sr_dir`` and score it against
    the validation HR (PSNR / SSIM, :data:`CROP_BORDER`). The folder is remade every time: the models may have been
    retrained since it was written."""
    if sr_dir.exists():
        shutil.rmtree(sr_dir)
    sr_folder(models, data.val_lr, sr_dir, progress=False, resolve=resolve_arch)
    return _evaluate(sr_dir, data)


def score_methods(out: Path, data: DemoData, records: Records, *,
                  progress: bool) -> dict[str, dict[str, Any]]:
    """Super-resolve the validation LR with every row's model(s) into ``out/sr/<row>`` and score against the GT.

    Returns:
        Per row key: ``label``, ``psnr``, ``ssim`` (means), ``per_image`` PSNR, ``models`` and ``commands``.
    """
    scores = {}
    for row in progress_bar(present_rows(records), desc="score", unit="method", enabled=progress):
        sr_dir = out / "sr" / row.key
        models = row_models(row, records)
        if models:
            evaluation = score_models(models, data, sr_dir)
            commands = [_quote(["probdeg", "sr", "--model", ",".join(models), "--input", data.val_lr,
                                "--output", sr_dir])]
        else:
            if sr_dir.exists():
                shutil.rmtree(sr_dir)
            _bicubic_folder(data.val_lr, sr_dir)
            evaluation = _evaluate(sr_dir, data)
            commands = ["(bicubic: torch.nn.functional.interpolate, mode='bicubic', align_corners=False)"]
        if not evaluation.complete:
            raise ValueError(f"scoring {row.label}: " + "; ".join(evaluation.matching.problems("SR")
                                                                   + evaluation.failures))
        commands.append(_quote(["probdeg", "eval", "--sr", sr_dir, "--gt", data.val_hr, "--no-lpips"]))
        scores[row.key] = {"label": row.label, "psnr": evaluation.mean["psnr"], "ssim": evaluation.mean["ssim"],
                           "per_image": {r["image"]: r["psnr"] for r in evaluation.rows}, "models": models,
                           "commands": commands, "sr_dir": str(sr_dir)}
    return scores


def demo_scorecard(out: Path, data: DemoData, generators: dict[str, Path], *, seed: int) -> dict[str, Any]:
    """The generator scorecard (:mod:`probdeg.metrics.scorecard`, as ``probdeg score-generator`` makes it) of the demo's
    generators, on the validation HR images against the real LR training images (unpaired), with the paired
    validation LR for the PSNR column; writes ``out/generators/`` (tables, noise-level histograms, Figure-3 grids).

    Returns:
        ``rows`` (by generator key, plus ``bicubic`` and ``bicubic_noise``: the scorecard's figures and ``label``),
        ``samples``, ``real_noise_level``, ``histogram``, ``grids`` (by key) and ``command``.
    """
    card, nets = score_generators([generators[run.key] for run in GENERATORS], data.val_hr, data.train_lr,
                           paired_lr_dir=data.val_lr, samples=GENERATOR_SAMPLES, seed=seed, progress=False,
                           labels=[run.label for run in GENERATORS])
    paths = write_scorecard(card, out / "generators", generators=nets)
    keys = ["bicubic", "bicubic_noise"] + [run.key for run in GENERATORS]
    labels = ["Bicubic", "Bicubic + noise at the real LR's level"] + [run.label for run in GENERATORS]
    rows = {}
    for key, label, row in zip(keys, labels, card.rows):
        figures = {k: v for k, v in vars(row).items() if k not in ("patch_noise_levels", "label", "checkpoint")}
        rows[key] = {"label": label, **figures}
    words = ["probdeg", "score-generator", "--model", ",".join(str(generators[run.key]) for run in GENERATORS),
             "--hr", data.val_hr, "--real-lr", data.train_lr, "--paired-lr", data.val_lr, "--samples",
             GENERATOR_SAMPLES, "--seed", seed, "--out", out / "generators"]
    return {"rows": rows, "samples": GENERATOR_SAMPLES, "real_noise_level": card.real_noise_level,
            "histogram": str(paths["histogram"]),
            "grids": {run.key: str(paths[f"grid:{run.label}"]) for run in GENERATORS},
            "command": _quote(words)}


def robustness(out: Path, data: DemoData, records: Records, *, seed: int,
               progress: bool) -> dict[str, Any]:
    """PSNR of every row as Gaussian noise is added to the validation LR (MSSR's Figure 7); writes
    ``out/robustness/robustness.{csv,json,png}``."""
    rows = present_rows(records)
    models = [row_models(row, records) or BicubicUpsampler() for row in rows]
    sweep = noise_sweep(models, data.val_lr, data.val_hr, sigmas=list(SIGMAS), labels=[row.label for row in rows],
                        seed=seed, crop_border=CROP_BORDER, progress=progress, resolve=resolve_arch)
    csv_path, json_path, png_path = write_sweep(sweep, out / "robustness")
    words = ["probdeg", "eval", "--noise-sigmas", ",".join(f"{s:g}" for s in SIGMAS), "--lr", data.val_lr,
             "--gt", data.val_hr, "--out", out / "robustness", "--seed", seed]
    for row, group in zip(rows, models):
        if isinstance(group, list):
            words += ["--model", ",".join(group), "--label", row.label]
    return {"sigmas": list(SIGMAS), "psnr": sweep.psnr, "png": str(png_path), "csv": str(csv_path),
            "json": str(json_path), "command": _quote(words) + "   # bicubic is the demo's own curve"}
