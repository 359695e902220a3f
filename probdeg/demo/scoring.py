"""The demo's numbers: PSNR / SSIM of every method on the validation pairs, the generators' LR realism, and the
robustness sweep. Each comes from probdeg's own ``sr`` / ``eval`` functions, so the report can give the command."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..checkpoint import load_network
from ..degrade import degrade_image
from ..integrations.basicsr import resolve_arch
from ..io import image_to_tensor, list_images, read_image, write_image
from ..metrics import high_frequency_distance, psnr, sample_diversity
from ..noise_field import stable_seed
from ..robustness import noise_sweep, write_sweep
from ..scores import evaluate_folders
from ..sr import sr_folder, super_resolve
from .plan import GENERATORS, ROWS, Row
from .task import SCALE, DemoData, read_pairs

SIGMAS = (0.0, 5.0, 10.0, 15.0)  # LR noise of the robustness sweep, 8-bit units (MSSR's Figure 7)
GENERATOR_SAMPLES = 3
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


def row_models(row: Row, records: dict[str, dict[str, Any]]) -> list[str]:
    """The checkpoints behind a row: a run's models (the ensemble) or one of them; none for bicubic."""
    if row.run is None:
        return []
    models = records[f"sr_{row.run}"]["models"]
    return list(models) if row.model is None else [models[row.model]]


def _bicubic_folder(lr_dir: Path, out_dir: Path) -> None:
    net = BicubicUpsampler()
    for path in list_images(lr_dir):
        sr = super_resolve(net, image_to_tensor(read_image(path)))
        write_image(out_dir / path.relative_to(lr_dir).with_suffix(".png"), sr)


def score_methods(out: Path, data: DemoData, records: dict[str, dict[str, Any]], *,
                  progress: bool) -> dict[str, dict[str, Any]]:
    """Super-resolve the validation LR with every row's model(s) into ``out/sr/<row>`` and score against the GT.

    Returns:
        Per row key: ``label``, ``psnr``, ``ssim`` (means), ``per_image`` PSNR, ``models`` and ``commands``.
    """
    from ..progress import progress_bar

    scores = {}
    for row in progress_bar(ROWS, desc="score", unit="method", enabled=progress):
        sr_dir = out / "sr" / row.key
        if sr_dir.exists():
            shutil.rmtree(sr_dir)  # the models may have been retrained since
        models = row_models(row, records)
        if models:
            sr_folder(models, data.val_lr, sr_dir, progress=False, resolve=resolve_arch)
            commands = [_quote(["probdeg", "sr", "--model", ",".join(models), "--input", data.val_lr,
                                "--output", sr_dir])]
        else:
            _bicubic_folder(data.val_lr, sr_dir)
            commands = ["(bicubic: torch.nn.functional.interpolate, mode='bicubic', align_corners=False)"]
        evaluation = evaluate_folders(sr_dir, data.val_hr, crop_border=CROP_BORDER, lpips=False)
        if not evaluation.complete:
            raise ValueError(f"scoring {row.label}: " + "; ".join(evaluation.matching.problems("SR")
                                                                   + evaluation.failures))
        commands.append(_quote(["probdeg", "eval", "--sr", sr_dir, "--gt", data.val_hr, "--no-lpips"]))
        scores[row.key] = {"label": row.label, "psnr": evaluation.mean["psnr"], "ssim": evaluation.mean["ssim"],
                           "per_image": {r["image"]: r["psnr"] for r in evaluation.rows}, "models": models,
                           "commands": commands, "sr_dir": str(sr_dir)}
    return scores


def score_generators(data: DemoData, generators: dict[str, Path], *, seed: int) -> dict[str, dict[str, Any]]:
    """How close each generator's LR is to the real LR of the validation pairs (MSSR's Figure 4 table, with weight-
    free figures: LPIPS needs AlexNet weights that cannot be downloaded here).

    Per generator, from ``GENERATOR_SAMPLES`` samples of every validation HR: ``psnr_lr`` (mean PSNR against the
    paired real LR), ``realism_hf`` (:func:`probdeg.metrics.high_frequency_distance` to the real LR; 0 = the same
    noise statistics) and ``diversity`` (mean pairwise L1 between samples; 0 = deterministic). Bicubic and bicubic
    plus white Gaussian noise (sigma 20, the paper's WGN row) are scored the same way.
    """
    pairs = [(key, image_to_tensor(hr), image_to_tensor(lr))
             for key, hr, lr in read_pairs(data.val_hr, data.val_lr)]

    def bicubic(hr: torch.Tensor) -> torch.Tensor:
        h, w = hr.shape[-2] // SCALE, hr.shape[-1] // SCALE
        return F.interpolate(hr[None], size=(h, w), mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)

    def wgn(hr: torch.Tensor, key: str) -> torch.Tensor:
        gen = torch.Generator().manual_seed(stable_seed("probdeg.demo.wgn", seed, key))
        clean = bicubic(hr).expand(GENERATOR_SAMPLES, -1, -1, -1)
        return (clean + torch.randn(clean.shape, generator=gen) * 20 / 255).clamp(0, 1)

    makers = {"bicubic": ("Bicubic", lambda hr, key: bicubic(hr)),
              "wgn": ("Bicubic + WGN (sigma = 20)", wgn)}
    for run in GENERATORS:
        G = load_network(generators[run.key])
        makers[run.key] = (run.label, lambda hr, key, G=G: degrade_image(G, hr, scale=SCALE, samples=GENERATOR_SAMPLES,
                                                                         seed=seed, key=key))
    scores = {}
    with torch.inference_mode():
        for name, (label, make) in makers.items():
            generated, real, psnrs, diversities = [], [], [], []
            for key, hr, lr in pairs:
                samples = make(hr, key)
                generated.append(samples)
                real.append(lr[None])
                psnrs.append(float(psnr(samples, lr[None].expand_as(samples)).mean()))
                if samples.shape[0] > 1:
                    diversities.append(float(sample_diversity(samples[None])))
            scores[name] = {"label": label, "psnr_lr": sum(psnrs) / len(psnrs),
                            "realism_hf": float(high_frequency_distance(generated, real)),
                            "diversity": sum(diversities) / len(diversities) if diversities else 0.0}
    return scores


def robustness(out: Path, data: DemoData, records: dict[str, dict[str, Any]], *, seed: int,
               progress: bool) -> dict[str, Any]:
    """PSNR of every row as Gaussian noise is added to the validation LR (MSSR's Figure 7); writes
    ``out/robustness/robustness.{csv,json,png}``."""
    models = [row_models(row, records) or BicubicUpsampler() for row in ROWS]
    sweep = noise_sweep(models, data.val_lr, data.val_hr, sigmas=list(SIGMAS), labels=[row.label for row in ROWS],
                        seed=seed, crop_border=CROP_BORDER, progress=progress, resolve=resolve_arch)
    csv_path, json_path, png_path = write_sweep(sweep, out / "robustness")
    words = ["probdeg", "eval", "--noise-sigmas", ",".join(f"{s:g}" for s in SIGMAS), "--lr", data.val_lr,
             "--gt", data.val_hr, "--out", out / "robustness", "--seed", seed]
    for row, group in zip(ROWS, models):
        if isinstance(group, list):
            words += ["--model", ",".join(group), "--label", row.label]
    return {"sigmas": list(SIGMAS), "psnr": sweep.psnr, "png": str(png_path), "csv": str(csv_path),
            "json": str(json_path), "command": _quote(words) + "   # bicubic is the demo's own curve"}
