"""Score SR images against their ground truth, and the robustness sweep of MSSR's Figure 7.

PSNR and SSIM are BasicSR's own ``calculate_psnr`` / ``calculate_ssim`` (8-bit images, ``crop_border`` pixels left
out on every side, optionally on the Y channel of YCbCr), so the figures equal those of BasicSR's test script.
LPIPS (AlexNet, :class:`probdeg.losses.LPIPSLoss`) is added when its weights are on disk, on the same crop in RGB;
without them its column is left out with a note. Identical images have a PSNR of ``inf`` (BasicSR's value); in
``metrics.json`` it is written as the string ``"inf"``, since JSON has no infinity.

Matching. An SR file pairs with the GT file of the same relative path without extension (``sub/a.png`` with
``sub/a.jpg``). Failing that, BasicSR's naming ``<stem>_<suffix>.png`` pairs with GT ``<stem>`` (the longest such
stem in the same folder), when it is the only candidate. GT files without an SR file are *missing*, SR files without
a GT file are *extra*, GT files with several candidates are *ambiguous*: all are reported, none stops the run.

Robustness. :func:`noise_sweep` adds Gaussian noise of standard deviation ``sigma`` (8-bit units) to every LR image,
rounds it to 8 bits as a saved image would be, runs each model (or ensemble) on it and reports the mean PSNR per
sigma. One noise field per image (seeded by the run's seed and the image's path) is scaled by each sigma, so the
curves differ by the noise level only.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import torch
from torch import Tensor, nn

PathLike = Union[str, os.PathLike]

METRICS_CSV = "metrics.csv"
METRICS_JSON = "metrics.json"
SWEEP_CSV = "robustness.csv"
SWEEP_JSON = "robustness.json"
SWEEP_PNG = "robustness.png"
SSIM_WINDOW = 11
"""Side of SSIM's Gaussian window: images must be at least this large after ``crop_border``."""
LPIPS_MIN_SIDE = 31
"""Smallest side AlexNet's LPIPS layers accept; smaller images get a NaN LPIPS."""

_FORMATS = {"psnr": ".2f", "ssim": ".4f", "lpips": ".4f"}
_LIST_LIMIT = 20


# ------------------------------------------------------------------------------------------------------------ matching
@dataclass
class Matching:
    """SR (or LR) files paired with GT files by name.

    Attributes:
        pairs: ``(key, file, gt_file)``, the key being the GT's relative path without extension, sorted by key.
        missing: GT files with no candidate.
        extra: files that pair with no GT file.
        ambiguous: ``(gt_file, candidates)`` for GT files with several candidates (none of them is scored).
    """

    pairs: list[tuple[str, Path, Path]]
    missing: list[Path] = field(default_factory=list)
    extra: list[Path] = field(default_factory=list)
    ambiguous: list[tuple[Path, list[Path]]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Every GT file has exactly one partner (extra files aside)."""
        return not self.missing and not self.ambiguous

    def problems(self, what: str = "SR") -> list[str]:
        """Human-readable lines about missing, ambiguous and extra files (at most 20 files listed per kind)."""
        lines = []

        def listing(paths: Sequence[Any]) -> str:
            shown = [str(p) for p in paths[:_LIST_LIMIT]]
            more = f" ... and {len(paths) - _LIST_LIMIT} more" if len(paths) > _LIST_LIMIT else ""
            return ", ".join(shown) + more

        if self.missing:
            lines.append(f"{len(self.missing)} GT image(s) have no {what} image: {listing(self.missing)}")
        if self.ambiguous:
            items = [f"{gt} <- {' | '.join(str(c) for c in cands)}" for gt, cands in self.ambiguous]
            lines.append(f"{len(self.ambiguous)} GT image(s) have several {what} candidates and are left out: "
                         f"{listing(items)}")
        if self.extra:
            lines.append(f"{len(self.extra)} {what} image(s) match no GT image: {listing(self.extra)}")
        return lines


def _key(path: Path, root: Path) -> str:
    return path.relative_to(root).with_suffix("").as_posix()


def _suffix_match(key: str, gt_keys: Mapping[str, Path]) -> Optional[str]:
    """The GT key ``<dir>/<stem>`` of ``<dir>/<stem>_<suffix>``, the longest such stem, or ``None``."""
    folder, _, stem = key.rpartition("/")
    prefix = f"{folder}/" if folder else ""
    for i in range(len(stem) - 1, 0, -1):
        if stem[i] == "_" and f"{prefix}{stem[:i]}" in gt_keys:
            return f"{prefix}{stem[:i]}"
    return None


def match_images(images_dir: PathLike, gt_dir: PathLike) -> Matching:
    """Pair the images of ``images_dir`` with those of ``gt_dir`` by relative path (see the module doc).

    A folder nested in the other one is left out of the other's listing (SR results saved inside the GT folder are
    not GT images).

    Raises:
        FileNotFoundError: a folder does not exist.
        ValueError: a folder holds no image, both are the same folder, or two GT files differ by extension only.
    """
    from .synthesis import list_inputs

    images_dir, gt_dir = Path(images_dir), Path(gt_dir)
    if images_dir.exists() and gt_dir.exists() and images_dir.resolve() == gt_dir.resolve():
        raise ValueError(f"the SR and GT folders are the same folder {str(gt_dir)!r}")
    gt_files = list_inputs(gt_dir, exclude=images_dir)
    files = list_inputs(images_dir, exclude=gt_dir)
    if not gt_files:
        raise ValueError(f"no GT images in {str(gt_dir)!r} outside {str(images_dir)!r}")
    if not files:
        raise ValueError(f"no images in {str(images_dir)!r} outside {str(gt_dir)!r}")
    gt_keys: dict[str, Path] = {}
    for path in gt_files:
        key = _key(path, gt_dir)
        if key in gt_keys:
            raise ValueError(f"GT files {str(gt_keys[key])!r} and {str(path)!r} differ by extension only: keep one")
        gt_keys[key] = path
    exact: dict[str, list[Path]] = {}
    suffixed: dict[str, list[Path]] = {}
    extra = []
    for path in files:
        key = _key(path, images_dir)
        if key in gt_keys:
            exact.setdefault(key, []).append(path)
        elif (stem := _suffix_match(key, gt_keys)) is not None:
            suffixed.setdefault(stem, []).append(path)
        else:
            extra.append(path)
    matching = Matching(pairs=[])
    for key, gt in sorted(gt_keys.items()):
        candidates = exact.get(key) or suffixed.get(key, [])
        if exact.get(key):
            extra.extend(suffixed.get(key, []))  # a.png is a's SR image; a_other.png is then something else
        if len(candidates) == 1:
            matching.pairs.append((key, candidates[0], gt))
        elif candidates:
            matching.ambiguous.append((gt, candidates))
        else:
            matching.missing.append(gt)
    matching.extra = sorted(extra)
    return matching


# ------------------------------------------------------------------------------------------------------------ metrics
def _basicsr_metrics():
    from .integrations.basicsr import import_basicsr

    import_basicsr()  # the glue's torchvision fix must come before basicsr's own imports
    from basicsr.metrics import calculate_psnr, calculate_ssim

    return calculate_psnr, calculate_ssim


def read_uint8(path: PathLike) -> np.ndarray:
    """An image as 8-bit RGB (16-bit and float images are rounded to 8 bits), for the metrics.

    Shape:
        Output: (H, W, 3).
    """
    from .io import read_image

    return np.rint(read_image(path) * 255.0).astype(np.uint8)


def to_uint8(image: Tensor) -> np.ndarray:
    """A (C, H, W) float tensor in [0, 1] as the 8-bit RGB HWC array its PNG would hold."""
    return image.detach().clamp(0, 1).mul(255).round().to("cpu", torch.uint8).permute(1, 2, 0).numpy()


def _check_pair(sr: np.ndarray, gt: np.ndarray, crop_border: int, names: str, min_side: int = 1) -> None:
    if isinstance(crop_border, bool) or not isinstance(crop_border, int) or crop_border < 0:
        raise ValueError(f"crop_border must be an integer >= 0, got {crop_border!r}")
    if sr.shape != gt.shape:
        raise ValueError(f"size mismatch: {names}: {sr.shape[1]}x{sr.shape[0]} vs {gt.shape[1]}x{gt.shape[0]}")
    h, w = sr.shape[0] - 2 * crop_border, sr.shape[1] - 2 * crop_border
    if min(h, w) < min_side:
        need = f"; SSIM needs at least {min_side}x{min_side}" if min_side > 1 else ""
        raise ValueError(f"{names}: {sr.shape[1]}x{sr.shape[0]} leaves {max(w, 0)}x{max(h, 0)} pixels after "
                         f"crop_border={crop_border}{need}")


def psnr_uint8(sr: np.ndarray, gt: np.ndarray, *, crop_border: int = 4, y_channel: bool = False) -> float:
    """BasicSR's PSNR of two 8-bit RGB images, in dB (``inf`` for identical images).

    Shape:
        sr, gt: (H, W, 3) uint8.
    """
    calculate_psnr, _ = _basicsr_metrics()
    _check_pair(sr, gt, crop_border, "the images")
    return float(calculate_psnr(sr[..., ::-1], gt[..., ::-1], crop_border, input_order="HWC",
                                test_y_channel=y_channel))


def image_metrics(sr: np.ndarray, gt: np.ndarray, *, crop_border: int = 4, y_channel: bool = False,
                  lpips: Optional[nn.Module] = None, names: str = "the images") -> dict[str, float]:
    """PSNR, SSIM (BasicSR's) and, with an ``lpips`` module, LPIPS of one SR image against its GT.

    Args:
        sr, gt: 8-bit RGB images (see :func:`read_uint8`).
        crop_border: pixels left out on every side.
        y_channel: PSNR and SSIM on the Y channel of YCbCr (LPIPS stays on RGB).
        lpips: an :class:`probdeg.losses.LPIPSLoss`, or ``None`` for no LPIPS.
        names: how the error messages name the pair.

    Returns:
        ``{"psnr": dB, "ssim": ..., "lpips": ...}`` (``lpips`` only with the module; NaN for images under
        :data:`LPIPS_MIN_SIDE` pixels after the crop).

    Raises:
        ValueError: different sizes, or too small for SSIM after the crop.

    Shape:
        sr, gt: (H, W, 3) uint8.
    """
    _check_pair(sr, gt, crop_border, names, min_side=SSIM_WINDOW)
    calculate_psnr, calculate_ssim = _basicsr_metrics()
    bgr_sr, bgr_gt = sr[..., ::-1], gt[..., ::-1]  # BasicSR's Y channel expects OpenCV's BGR order
    out = {"psnr": float(calculate_psnr(bgr_sr, bgr_gt, crop_border, input_order="HWC", test_y_channel=y_channel)),
           "ssim": float(calculate_ssim(bgr_sr, bgr_gt, crop_border, input_order="HWC", test_y_channel=y_channel))}
    c = crop_border
    h, w = sr.shape[:2]
    if lpips is not None and min(h, w) - 2 * c < LPIPS_MIN_SIDE:
        out["lpips"] = float("nan")
    elif lpips is not None:
        param = next(lpips.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
        x, y = (torch.from_numpy(np.ascontiguousarray(im[c:h - c, c:w - c])).permute(2, 0, 1)[None].float()
                .div(255).to(device) for im in (sr, gt))
        with torch.inference_mode():
            out["lpips"] = float(lpips(x, y))
    return out


def load_lpips(enabled: Optional[bool] = None, *, weights: Optional[PathLike] = None,
               device: Union[str, torch.device] = "cpu") -> tuple[Optional[nn.Module], Optional[str]]:
    """LPIPS for :func:`image_metrics`, or why it is left out.

    Args:
        enabled: ``True``: LPIPS is required (a missing file raises); ``None``: used when its weights exist;
            ``False``: not used.
        weights: AlexNet weights file (default: the torch hub cache, see :func:`probdeg.losses.alexnet_weights_path`).
        device: where LPIPS runs.

    Returns:
        The module (or ``None``) and a one-line note when it was left out for lack of weights (else ``None``).
    """
    if enabled is False:
        return None, None
    from .losses import ALEXNET_FILE, LPIPSLoss, alexnet_weights_path

    try:
        return LPIPSLoss(weights).to(device).eval(), None
    except (FileNotFoundError, ImportError) as err:
        if enabled:
            raise
        if isinstance(err, ImportError):
            return None, f"LPIPS column omitted: the lpips package cannot be imported ({err})"
        return None, (f"LPIPS column omitted: its AlexNet weights {ALEXNET_FILE} are not at "
                      f"{alexnet_weights_path(weights)} (put them there or pass their path)")


@dataclass
class Evaluation:
    """The scores of an SR folder against its GT folder.

    Attributes:
        rows: one dict per scored pair: ``image`` (key), ``sr``, ``gt`` (paths as strings) and each metric.
        metrics: the metric names, in column order (``psnr``, ``ssim`` and maybe ``lpips``).
        mean: the mean of each metric over the scored pairs (``inf`` PSNR stays ``inf``; NaN LPIPS left out).
        matching: how the files were paired (missing, extra, ambiguous).
        failures: messages of pairs that could not be read.
        notes: one-line notes (e.g. why LPIPS is missing).
        options: ``sr_dir``, ``gt_dir``, ``crop_border``, ``y_channel``.
    """

    rows: list[dict[str, Any]]
    metrics: list[str]
    mean: dict[str, float]
    matching: Matching
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """Every GT image was scored."""
        return self.matching.complete and not self.failures

    def table(self) -> str:
        """A plain-text table: one line per image, then the mean."""
        header = ["image"] + [m.upper() for m in self.metrics]
        lines = [[row["image"]] + [format(row[m], _FORMATS[m]) for m in self.metrics] for row in self.rows]
        mean = [f"mean of {len(self.rows)}"] + [format(self.mean[m], _FORMATS[m]) for m in self.metrics]
        return _format_table(header, lines, mean)

    def as_dict(self) -> dict[str, Any]:
        """Plain values for JSON (``inf`` / ``nan`` as strings)."""
        return {**{k: str(v) if isinstance(v, Path) else v for k, v in self.options.items()},
                "metrics": self.metrics, "mean": _json_safe(self.mean), "images": _json_safe(self.rows),
                "missing": [str(p) for p in self.matching.missing], "extra": [str(p) for p in self.matching.extra],
                "ambiguous": {str(gt): [str(c) for c in cands] for gt, cands in self.matching.ambiguous},
                "failures": self.failures, "notes": self.notes}


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # "inf", "-inf", "nan": JSON has no such numbers
    if isinstance(value, Mapping):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def _format_table(header: list[str], rows: list[list[str]], footer: Optional[list[str]] = None) -> str:
    """Left-aligned first column, right-aligned numbers, a rule under the header and above the footer."""
    everything = [header] + rows + ([footer] if footer else [])
    widths = [max(len(r[i]) for r in everything) for i in range(len(header))]

    def line(row: list[str]) -> str:
        return "  ".join([row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])])

    rule = "-" * (sum(widths) + 2 * (len(widths) - 1))
    lines = [line(header), rule] + [line(r) for r in rows]
    if footer:
        lines += [rule, line(footer)]
    return "\n".join(lines)


def _mean(values: Sequence[float]) -> float:
    """The mean, NaN entries (undefined LPIPS) left out; NaN when nothing is left."""
    values = [v for v in values if not math.isnan(v)]
    return float(np.mean(values)) if values else float("nan")


def evaluate_folders(
    sr_dir: PathLike, gt_dir: PathLike, *, crop_border: int = 4, y_channel: bool = False,
    lpips: Optional[bool] = None, lpips_weights: Optional[PathLike] = None,
    device: Union[str, torch.device] = "cpu", progress: bool = False,
) -> Evaluation:
    """Score every SR image of a folder against its GT image (see the module doc for the pairing).

    Args:
        sr_dir: the SR images (searched recursively).
        gt_dir: the ground truth.
        crop_border: pixels left out on every side (BasicSR uses the scale).
        y_channel: PSNR and SSIM on the Y channel.
        lpips: see :func:`load_lpips`.
        lpips_weights: AlexNet weights file for LPIPS.
        device: where LPIPS runs.
        progress: show a tqdm progress bar.

    Returns:
        The scores; unreadable images are in ``failures``, unpaired files in ``matching``.

    Raises:
        FileNotFoundError: a folder does not exist.
        ValueError: no pair at all, a pair of different sizes (both files named), or images too small for SSIM.
    """
    from tqdm import tqdm

    from .io import ImageReadError

    if isinstance(crop_border, bool) or not isinstance(crop_border, int) or crop_border < 0:
        raise ValueError(f"crop_border must be an integer >= 0, got {crop_border!r}")
    matching = match_images(sr_dir, gt_dir)
    if not matching.pairs:
        raise ValueError(f"no SR image in {str(sr_dir)!r} pairs with a GT image in {str(gt_dir)!r}; "
                         + " ".join(matching.problems()))
    lpips_net, note = load_lpips(lpips, weights=lpips_weights, device=device)
    result = Evaluation(rows=[], metrics=["psnr", "ssim"] + (["lpips"] if lpips_net is not None else []), mean={},
                        matching=matching, notes=[note] if note else [],
                        options={"sr_dir": str(sr_dir), "gt_dir": str(gt_dir), "crop_border": crop_border,
                                 "y_channel": y_channel})
    for key, sr_path, gt_path in tqdm(matching.pairs, unit="img", desc="eval", disable=not progress,
                                      dynamic_ncols=True):
        try:
            sr, gt = read_uint8(sr_path), read_uint8(gt_path)
        except (ImageReadError, OSError) as err:
            result.failures.append(str(err))
            continue
        scores = image_metrics(sr, gt, crop_border=crop_border, y_channel=y_channel, lpips=lpips_net,
                               names=f"SR {str(sr_path)!r} and GT {str(gt_path)!r}")
        result.rows.append({"image": key, "sr": str(sr_path), "gt": str(gt_path), **scores})
    if not result.rows:
        raise ValueError(f"no pair could be read: {'; '.join(result.failures)}")
    result.mean = {m: _mean([row[m] for row in result.rows]) for m in result.metrics}
    small = sum(1 for row in result.rows if math.isnan(row.get("lpips", 0.0)))
    if small:
        result.notes.append(f"LPIPS is undefined (NaN, left out of the mean) for {small} image(s) under "
                            f"{LPIPS_MIN_SIDE}x{LPIPS_MIN_SIDE} pixels after the crop")
    return result


def _write_text(path: Path, text: str) -> None:
    from .io import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _csv_text(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def write_metrics(evaluation: Evaluation, out_dir: PathLike) -> tuple[Path, Path]:
    """Write ``metrics.csv`` (one row per image, then ``mean``) and ``metrics.json`` into ``out_dir``, atomically.

    Returns:
        The two paths.
    """
    out_dir = Path(out_dir)
    header = ["image", "sr", "gt"] + evaluation.metrics
    rows = [[row["image"], row["sr"], row["gt"]] + [format(row[m], ".6f") for m in evaluation.metrics]
            for row in evaluation.rows]
    rows.append(["mean", "", ""] + [format(evaluation.mean[m], ".6f") for m in evaluation.metrics])
    csv_path, json_path = out_dir / METRICS_CSV, out_dir / METRICS_JSON
    _write_text(csv_path, _csv_text(header, rows))
    _write_text(json_path, json.dumps(evaluation.as_dict(), indent=2, allow_nan=False) + "\n")
    return csv_path, json_path


# ------------------------------------------------------------------------------------------------------------ sweep
def add_gaussian_noise(lr: Tensor, sigma: float, *, seed: int) -> Tensor:
    """``lr`` plus Gaussian noise of standard deviation ``sigma / 255``, clamped and rounded to 8 bits.

    The noise is ``sigma * eps`` with ``eps`` drawn from a CPU generator seeded by ``seed``, so one seed gives the
    same field at every sigma (and on every device). ``sigma = 0`` returns ``lr`` unchanged.

    Shape:
        lr: (C, H, W) or (B, C, H, W) in [0, 1] -> same.
    """
    if not math.isfinite(sigma) or sigma < 0:
        raise ValueError(f"noise sigma must be >= 0 (8-bit units), got {sigma!r}")
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
        raise ValueError(f"noise sigmas must be comma-separated numbers, like 0,5,10,15; got {text!r}") from err
    if not sigmas or any(not math.isfinite(s) or s < 0 for s in sigmas):
        raise ValueError(f"noise sigmas must be numbers >= 0 (8-bit units), got {text!r}")
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
        return "mean PSNR (dB)\n" + _format_table(header, rows)

    def as_dict(self) -> dict[str, Any]:
        return _json_safe({**self.options, "sigmas": self.sigmas, "metric": "psnr",
                           "models": [{"label": label, "checkpoints": ckpts, "psnr": self.psnr[label],
                                       "per_image": self.per_image[label]}
                                      for label, ckpts in zip(self.labels, self.checkpoints)],
                           "missing": [str(p) for p in self.matching.missing],
                           "extra": [str(p) for p in self.matching.extra],
                           "ambiguous": {str(gt): [str(c) for c in c_] for gt, c_ in self.matching.ambiguous},
                           "failures": self.failures})


def _load_group(group: ModelGroup, device: Union[str, torch.device]) -> tuple[list[nn.Module], list[str], list]:
    """(nets, checkpoint paths, each net's SRNetInfo) of one entry of the sweep."""
    from .inference import load_ensemble, parse_model_list, probe_sr_net

    if isinstance(group, nn.Module):
        return [group], [], [probe_sr_net(group)]
    if isinstance(group, Sequence) and not isinstance(group, str) and group and \
            all(isinstance(m, nn.Module) for m in group):
        return list(group), [], [probe_sr_net(net) for net in group]
    paths = parse_model_list(group)  # type: ignore[arg-type]
    nets, info = load_ensemble(paths, device=device)
    return nets, [str(p) for p in paths], [info]


def _default_label(checkpoints: list[str], index: int) -> str:
    if not checkpoints:
        return f"model {index + 1}"
    return "+".join(Path(p).stem for p in checkpoints)


def noise_sweep(
    models: Sequence[ModelGroup], lr_dir: PathLike, gt_dir: PathLike, *, sigmas: Union[str, Sequence[float]],
    labels: Optional[Sequence[Optional[str]]] = None, seed: int = 0, crop_border: int = 4, y_channel: bool = False,
    tile: Optional[int] = None, tile_pad: Optional[int] = None, device: Union[str, torch.device] = "cpu",
    progress: bool = True,
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
        tile: tile side in LR pixels for the nets (see :func:`probdeg.inference.super_resolve`).
        tile_pad: context around each tile (default :data:`probdeg.inference.DEFAULT_TILE_PAD`).
        device: where the nets run.
        progress: show a tqdm progress bar.

    Returns:
        The mean and per-image PSNR of every model at every sigma.

    Raises:
        ValueError: no models, labels that do not match the models or repeat, models of different scales, or an
            LR / GT pair whose sizes do not agree with the scale (both files named).
    """
    from tqdm import tqdm

    from .inference import DEFAULT_TILE_PAD, SRNetInfo, super_resolve
    from .io import ImageReadError, image_to_tensor, read_image
    from .synthesis import stable_seed

    sigma_list = parse_sigmas(sigmas)
    if not models:
        raise ValueError("the noise sweep needs at least one model")
    if labels is not None and len(labels) != len(models):
        raise ValueError(f"got {len(labels)} labels for {len(models)} models: give one label per model, or none")
    tile_pad = DEFAULT_TILE_PAD if tile_pad is None else tile_pad
    matching = match_images(lr_dir, gt_dir)
    if not matching.pairs:
        raise ValueError(f"no LR image in {str(lr_dir)!r} pairs with a GT image in {str(gt_dir)!r}; "
                         + " ".join(matching.problems("LR")))
    groups, names, infos = [], [], []
    for i, group in enumerate(models):
        nets, checkpoints, group_infos = _load_group(group, device)
        groups.append((nets, checkpoints))
        given = labels[i] if labels is not None else None
        names.append(given or _default_label(checkpoints, i))
        infos.extend(group_infos)
    if len(set(names)) != len(names):
        raise ValueError(f"model labels must differ, got {names}: pass a label per model")
    scales = {info.scale for info in infos}
    if len(scales) > 1:
        raise ValueError(f"all models of the sweep must share one scale, got {', '.join(f'x{s}' for s in scales)}")
    info = SRNetInfo(infos[0].scale, max(i.multiple for i in infos))
    scale = info.scale

    per_image: dict[str, dict[str, list[float]]] = {name: {} for name in names}
    failures: list[str] = []
    for key, lr_path, gt_path in tqdm(matching.pairs, unit="img", desc="sweep", disable=not progress,
                                      dynamic_ncols=True):
        try:
            lr = image_to_tensor(read_image(lr_path))
            gt = read_uint8(gt_path)
        except (ImageReadError, OSError) as err:
            failures.append(str(err))
            continue
        h, w = lr.shape[-2] * scale, lr.shape[-1] * scale
        if not (h <= gt.shape[0] < h + scale and w <= gt.shape[1] < w + scale):
            raise ValueError(f"size mismatch: LR {str(lr_path)!r} ({lr.shape[-1]}x{lr.shape[-2]}) times {scale} is "
                             f"{w}x{h}, but GT {str(gt_path)!r} is {gt.shape[1]}x{gt.shape[0]}")
        gt = gt[:h, :w]
        noise_seed = stable_seed("probdeg.noise_sweep", int(seed), key)
        for sigma in sigma_list:
            noisy = add_gaussian_noise(lr, sigma, seed=noise_seed).to(device)
            for name, (nets, _) in zip(names, groups):
                sr = to_uint8(super_resolve(nets, noisy, tile=tile, tile_pad=tile_pad, info=info))
                value = psnr_uint8(sr, gt, crop_border=crop_border, y_channel=y_channel)
                per_image[name].setdefault(key, []).append(value)
    if not per_image[names[0]]:
        raise ValueError(f"no pair could be read: {'; '.join(failures)}")
    psnr = {name: [_mean([v[i] for v in per_image[name].values()]) for i in range(len(sigma_list))]
            for name in names}
    return Sweep(sigmas=sigma_list, labels=names, checkpoints=[c for _, c in groups], psnr=psnr,
                 per_image=per_image, matching=matching, failures=failures,
                 options={"lr_dir": str(lr_dir), "gt_dir": str(gt_dir), "seed": seed, "crop_border": crop_border,
                          "y_channel": y_channel, "scale": scale})


def plot_sweep(sweep: Sweep, path: PathLike, *, title: Optional[str] = None) -> Path:
    """Plot PSNR vs noise sigma, one line per model, into a PNG (atomically; matplotlib's Agg canvas).

    Infinite PSNRs (identical images) are left out of the lines.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from .io import atomic_path

    path = Path(path)
    figure = Figure(figsize=(5.5, 4.0), dpi=120)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for label in sweep.labels:
        values = [v if math.isfinite(v) else float("nan") for v in sweep.psnr[label]]
        axes.plot(sweep.sigmas, values, marker="o", label=label)
    axes.set_xlabel("noise sigma on the LR input (8-bit units)")
    axes.set_ylabel("PSNR (dB)" + (" on Y" if sweep.options.get("y_channel") else ""))
    axes.set_title(title or "Robustness to LR noise")
    axes.set_xticks(sweep.sigmas)
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png")
    return path


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
    _write_text(csv_path, _csv_text(["sigma"] + list(sweep.labels), rows))
    _write_text(json_path, json.dumps(sweep.as_dict(), indent=2, allow_nan=False) + "\n")
    plot_sweep(sweep, png_path)
    return csv_path, json_path, png_path
