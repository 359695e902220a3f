"""Synthesise LR datasets from HR images with a trained degradation generator: tiles, reproducible noise, grids.

Noise. A probabilistic generator's eps is supplied here, through the layers' noise source
(:attr:`probdeg.SamplingContext.noise`): each :class:`~probdeg.NoiseInjection` keeps its own formula, only its
i.i.d. draw is replaced. ``eps`` is a fixed field over the whole image, made of cells of :data:`NOISE_CELL` x
:data:`NOISE_CELL` values (at the layer's resolution), each cell drawn from a CPU ``torch.Generator`` seeded by a
hash of ``(sample seed, layer index, cell row, cell column)``. The noise at a pixel therefore depends on its position
and the sample seed only, never on how the image is cut into tiles, on the other images of a batch, or on the device,
so

- tiles do not restart the noise: a tiled run sees exactly the noise of an untiled one (no seam, no change of
  statistics at tile borders), and with enough overlap the two outputs agree to float rounding, for random samples
  as for the mean;
- each sample's seed is ``sample_seed(seed, key, k)``, a hashlib hash of the user seed, the image's key (its
  relative path in :func:`degrade_folder`) and the sample index: an output depends on nothing else (not on
  ``batch``, on skipped images, or on ``samples``: a rerun with more samples adds new ones and keeps the old).

Tiles. The HR image is cut into ``tile`` x ``tile`` squares (the last row and column may be smaller); each runs
with ``overlap`` HR pixels of real image context on every side (less at the image border, where the untiled net
sees zero padding too); the centre of its output is placed in the LR image. For a net without global operations
(DeResnet) and an overlap at least its receptive-field radius, the tiled output equals the untiled one. Nets with
global pooling or attention (StridedHAN's channel attention) see only their tile: run them untiled when you can.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .injection import SAMPLE_MODES, NoiseInjection

PathLike = Union[str, os.PathLike]

NOISE_CELL = 128
"""Side of one noise cell, in pixels of the layer's own resolution."""

GRID_LABEL_HEIGHT = 16
"""Height in pixels of the label band above each row of :func:`sample_grid`."""

GRID_DIFF_GAIN = 4.0
"""Amplification of the |sample 1 - sample j| maps of :func:`sample_grid`."""

_MASK63 = (1 << 63) - 1


def stable_seed(*parts: Any) -> int:
    """A 63-bit seed from a hash of ``parts`` (their ``str``), the same in every process (unlike ``hash()``)."""
    text = "\x1f".join(str(p) for p in parts).encode("utf-8")
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little") & _MASK63


def sample_seed(seed: int, key: str, index: int) -> int:
    """The seed of sample ``index`` of the image named ``key`` (its relative path) in a run seeded with ``seed``."""
    return stable_seed("probdeg.degrade", int(seed), key, int(index))


def infer_scale(G: nn.Module, *, size: int = 64) -> int:
    """The generator's down-sampling factor: its ``scale`` attribute (or its wrapped net's), else a probe run."""
    for module in (G, getattr(G, "net", None)):
        scale = getattr(module, "scale", None)
        if isinstance(scale, int) and not isinstance(scale, bool) and scale >= 1:
            return scale
    param = next(G.parameters(), None)
    x = torch.zeros(1, 3, size, size, device=param.device if param is not None else "cpu",
                    dtype=param.dtype if param is not None else torch.float32)
    with torch.inference_mode(), _noise(G, [0], mode="mean") as noise:
        noise.window = (0, 0, size, size)
        out = G(x)
    if not isinstance(out, Tensor) or out.dim() != 4 or out.shape[-1] == 0 or size % out.shape[-1]:
        raise ValueError(f"cannot infer the scale of {type(G).__name__}: a {size}x{size} input gave "
                         f"{tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__}")
    return size // out.shape[-1]


# ------------------------------------------------------------------------------------------------------------ noise
class _NoiseField:
    """A noise source for the latent layers: position-keyed eps, for a batch of items with one seed each."""

    def __init__(self, layers: list[NoiseInjection], seeds: Sequence[int]) -> None:
        self.index = {id(layer): i for i, layer in enumerate(layers)}  # the layer's number in the seed
        self.seeds = [int(s) for s in seeds]
        self.window = (0, 0, 0, 0)  # (top, left, height, width) of the current input, in HR pixels of the image
        self._generator = torch.Generator()

    def _cells(self, seed: int, layer: int, channels: int, y0: int, x0: int, h: int, w: int) -> Tensor:
        """One item's field at one layer over rows [y0, y0 + h) and columns [x0, x0 + w): (channels, h, w)."""
        out = torch.empty(channels, h, w)
        n = NOISE_CELL
        for cy in range(y0 // n, (y0 + h - 1) // n + 1):
            for cx in range(x0 // n, (x0 + w - 1) // n + 1):
                self._generator.manual_seed(stable_seed(seed, layer, cy, cx))
                cell = torch.randn(channels, n, n, generator=self._generator)
                top, bottom = max(y0, cy * n), min(y0 + h, (cy + 1) * n)
                left, right = max(x0, cx * n), min(x0 + w, (cx + 1) * n)
                out[:, top - y0:bottom - y0, left - x0:right - x0] = \
                    cell[:, top - cy * n:bottom - cy * n, left - cx * n:right - cx * n]
        return out

    def __call__(self, layer: NoiseInjection, h: Tensor, shape: tuple) -> Tensor:
        """The noise of the current window at ``layer``: ``shape`` = (B, 1 or C, H_l, W_l)."""
        index = self.index[id(layer)]
        top, left, height, width = self.window
        fh, fw = shape[-2:]
        if height % fh or width % fw or top % (height // fh) or left % (width // fw):
            raise ValueError(f"cannot place the noise of latent {layer.name or index}: its feature is {fh}x{fw} for "
                             f"a {height}x{width} input at ({top}, {left}); only integer down-sampling is supported")
        sy, sx = height // fh, width // fw
        if shape[0] != len(self.seeds):
            raise ValueError(f"latent {layer.name or index} got a batch of {shape[0]}, expected {len(self.seeds)}")
        eps = torch.stack([self._cells(seed, index, shape[1], top // sy, left // sx, fh, fw) for seed in self.seeds])
        return eps.to(device=h.device, dtype=h.dtype)


@contextlib.contextmanager
def _noise(G: nn.Module, seeds: Sequence[int], *, mode: str = "random") -> Iterator[_NoiseField]:
    """Run ``G``'s latent layers in ``mode`` with :class:`_NoiseField` as their noise source."""
    if mode not in SAMPLE_MODES:
        raise ValueError(f"mode must be one of {SAMPLE_MODES}, got {mode!r}")
    layers = [m for m in G.modules() if isinstance(m, NoiseInjection)]
    field = _NoiseField(layers, seeds)
    contexts = {id(layer.context): layer.context for layer in layers}
    saved = {key: (ctx.mode, ctx.noise) for key, ctx in contexts.items()}
    try:
        for ctx in contexts.values():
            ctx.mode, ctx.noise = mode, field
        yield field
    finally:
        for key, ctx in contexts.items():
            ctx.mode, ctx.noise = saved[key]


def is_stochastic(G: nn.Module) -> bool:
    """Whether ``G`` has latent layers whose noise is not switched off (some noise scale is non-zero)."""
    return any(isinstance(m, NoiseInjection) and bool(m.weight.detach().abs().sum() > 0) for m in G.modules())


# ------------------------------------------------------------------------------------------------------------ images
def crop_to_scale(hr: Tensor, scale: int) -> Tensor:
    """Drop the last rows and columns of ``hr`` so that its height and width are multiples of ``scale``.

    Shape:
        (..., H, W) -> (..., H - H % scale, W - W % scale).
    """
    h, w = hr.shape[-2:]
    return hr[..., : h - h % scale, : w - w % scale]


def _check_tiling(scale: int, tile: Optional[int], overlap: int) -> None:
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale!r}")
    if tile is not None and (isinstance(tile, bool) or not isinstance(tile, int) or tile < scale or tile % scale):
        raise ValueError(f"tile must be a positive multiple of the scale ({scale}), got {tile!r}")
    if isinstance(overlap, bool) or not isinstance(overlap, int) or overlap < 0 or overlap % scale:
        raise ValueError(f"tile overlap must be a multiple of the scale ({scale}) and >= 0, got {overlap!r}")


def _spans(size: int, tile: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """(core start, core end, padded start, padded end) of each tile along one axis."""
    spans = []
    for start in range(0, size, tile):
        end = min(start + tile, size)
        spans.append((start, end, max(0, start - overlap), min(size, end + overlap)))
    return spans


def _forward(G: nn.Module, x: Tensor, scale: int) -> Tensor:
    out = G(x)
    expected = (x.shape[0], x.shape[1], x.shape[2] // scale, x.shape[3] // scale)
    if not isinstance(out, Tensor) or tuple(out.shape) != expected:
        got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise ValueError(f"the generator mapped an input of shape {tuple(x.shape)} to {got}; expected {expected} "
                         f"for scale {scale}")
    return out


def degrade_batch(
    G: nn.Module, hr: Tensor, seeds: Sequence[int], *, scale: int, tile: Optional[int] = None, overlap: int = 32,
    mode: str = "random",
) -> Tensor:
    """Run ``G`` on a batch of HR images, item ``i`` with the noise of ``seeds[i]``, tiled when asked.

    Args:
        G: the generator (probabilistic or not), on ``hr``'s device.
        hr: HR images in [0, 1] whose height and width are multiples of ``scale``.
        seeds: one sample seed per item (see :func:`sample_seed`).
        scale: the generator's down-sampling factor.
        tile: tile side in HR pixels (a multiple of ``scale``); ``None`` runs the whole image at once.
        overlap: HR pixels of context on every side of a tile (a multiple of ``scale``).
        mode: ``"random"`` samples the latents, ``"mean"`` uses their means (eps = 0).

    Returns:
        The LR images, clamped to [0, 1].

    Shape:
        hr (B, C, H, W) -> (B, C_out, H / scale, W / scale).
    """
    _check_tiling(scale, tile, overlap)
    if hr.dim() != 4:
        raise ValueError(f"expected a (B, C, H, W) batch, got shape {tuple(hr.shape)}")
    if len(seeds) != hr.shape[0]:
        raise ValueError(f"got {len(seeds)} seeds for a batch of {hr.shape[0]}")
    height, width = hr.shape[-2:]
    if height % scale or width % scale or height == 0 or width == 0:
        raise ValueError(f"HR size {height}x{width} is not a positive multiple of the scale {scale}: crop_to_scale it")
    with torch.inference_mode(), _noise(G, seeds, mode=mode) as noise:
        if tile is None or (height <= tile and width <= tile):
            noise.window = (0, 0, height, width)
            return _forward(G, hr, scale).clamp_(0, 1)
        out: Optional[Tensor] = None
        for y0, y1, py0, py1 in _spans(height, tile, overlap):
            for x0, x1, px0, px1 in _spans(width, tile, overlap):
                noise.window = (py0, px0, py1 - py0, px1 - px0)
                piece = _forward(G, hr[:, :, py0:py1, px0:px1], scale)
                if out is None:
                    out = piece.new_empty(hr.shape[0], piece.shape[1], height // scale, width // scale)
                out[:, :, y0 // scale:y1 // scale, x0 // scale:x1 // scale] = piece[
                    :, :, (y0 - py0) // scale:(y1 - py0) // scale, (x0 - px0) // scale:(x1 - px0) // scale]
        assert out is not None
        return out.clamp_(0, 1)


def degrade_image(
    G: nn.Module, hr: Tensor, *, scale: int, samples: int = 1, seed: int = 0, tile: Optional[int] = None,
    overlap: int = 32, mode: str = "random", key: str = "",
) -> Tensor:
    """LR samples of one HR image.

    An HR size that is not a multiple of ``scale`` is cropped to one (the last rows and columns are dropped), so
    every LR pixel comes from a full ``scale`` x ``scale`` HR block.

    Args:
        G: the generator, on ``hr``'s device.
        hr: the HR image in [0, 1].
        scale: the generator's down-sampling factor (see :func:`infer_scale`).
        samples: how many LR samples to draw.
        seed: the run's seed; sample ``k`` uses ``sample_seed(seed, key, k)``.
        tile: tile side in HR pixels (a multiple of ``scale``), or ``None`` for no tiling.
        overlap: context in HR pixels around each tile (a multiple of ``scale``, at least the net's receptive
            field radius for seamless tiles; 32 covers DeResnet's).
        mode: ``"random"`` or ``"mean"`` (the same image for every sample).
        key: the image's name in the seed; :func:`degrade_folder` passes the relative path.

    Returns:
        The samples, clamped to [0, 1].

    Shape:
        hr (1, C, H, W) or (C, H, W) -> (samples, C_out, H // scale, W // scale).
    """
    if hr.dim() == 3:
        hr = hr.unsqueeze(0)
    if hr.dim() != 4 or hr.shape[0] != 1:
        raise ValueError(f"degrade_image takes one image, (1, C, H, W) or (C, H, W); got shape {tuple(hr.shape)}")
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ValueError(f"samples must be a positive integer, got {samples!r}")
    hr = crop_to_scale(hr, scale)
    seeds = [sample_seed(seed, key, k) for k in range(samples)]
    return degrade_batch(G, hr.expand(samples, -1, -1, -1), seeds, scale=scale, tile=tile, overlap=overlap,
                         mode=mode)


# ------------------------------------------------------------------------------------------------------------ folders
@dataclass
class _Job:
    key: str
    image: Tensor  # (3, H, W), cropped to the scale
    outputs: list[tuple[int, Path]] = field(default_factory=list)  # (sample index, file) still to write


def output_names(relative: Path, samples: int) -> list[Path]:
    """The output files of an input at ``relative`` (relative to the input folder), relative to the output folder:
    ``<dir>/<stem>.png`` for one sample, ``<dir>/<stem>_s{k}.png`` for several."""
    if samples == 1:
        return [relative.with_name(f"{relative.stem}.png")]
    return [relative.with_name(f"{relative.stem}_s{k}.png") for k in range(samples)]


def _is_within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _require_folder(input_dir: Path) -> None:
    if not input_dir.exists():
        raise FileNotFoundError(f"input folder {str(input_dir)!r} does not exist")
    if not input_dir.is_dir():
        raise ValueError(f"input {str(input_dir)!r} is not a folder")


def list_inputs(input_dir: PathLike, *, exclude: Optional[PathLike] = None) -> list[Path]:
    """The images of ``input_dir`` and its sub-folders, leaving out everything inside the folder ``exclude``.

    An output (or other) folder nested inside the input folder holds no inputs, so a rerun never reads back what
    it wrote. Paths are compared resolved, so a symbolic link into ``exclude`` is left out too.

    Args:
        input_dir: the folder to list (see :func:`probdeg.io.list_images` for what counts as an image).
        exclude: a folder whose images are not inputs; ``None``: keep everything.

    Returns:
        The image files, sorted by their path inside ``input_dir``; may be empty when all are excluded.

    Raises:
        FileNotFoundError: ``input_dir`` does not exist.
        ValueError: ``input_dir`` is not a folder, or holds no image at all.
    """
    from .io import list_images

    input_dir = Path(input_dir)
    _require_folder(input_dir)
    images = list_images(input_dir, recursive=True)
    if exclude is None:
        return images
    in_root, out_root = input_dir.resolve(), Path(exclude).resolve()
    return [path for path in images if not (_is_within(in_root / path.relative_to(input_dir), out_root)
                                            or _is_within(path.resolve(), out_root))]


def _plan(input_dir: Path, output_dir: Path, samples: int,
          what: str = "LR images") -> list[tuple[Path, str, list[Path]]]:
    """(input file, key, output files) of every input image, refusing outputs that could land outside or on inputs.

    ``what`` names the outputs in the messages (``degrade`` writes LR images, ``sr`` SR images)."""
    _require_folder(input_dir)
    out_root = output_dir.resolve()
    if _is_within(input_dir.resolve(), out_root):
        raise ValueError(f"the output folder {str(output_dir)!r} is or contains the input folder {str(input_dir)!r}: "
                         f"write the {what} to a folder of their own (inside the input folder is fine)")
    plan = []
    claimed: dict[Path, Path] = {}
    # An output folder inside the input folder holds no inputs: a rerun must not read back its own outputs.
    for path in list_inputs(input_dir, exclude=output_dir):
        relative = path.relative_to(input_dir)
        outputs = []
        for name in output_names(relative, samples):
            target = output_dir / name
            if not _is_within(target.parent.resolve() / target.name, out_root):
                raise ValueError(f"refusing to write {str(target)!r}: it resolves outside the output folder "
                                 f"{str(output_dir)!r} (a symbolic link?)")
            if target in claimed:
                raise ValueError(f"inputs {str(claimed[target])!r} and {str(path)!r} would both be written to "
                                 f"{str(target)!r}: rename one of them")
            claimed[target] = path
            outputs.append(target)
        plan.append((path, relative.as_posix(), outputs))
    if not plan:
        raise ValueError(f"no images found in {str(input_dir)!r} outside the output folder {str(output_dir)!r}")
    return plan


def _read_hr(path: Path, scale: int) -> Tensor:
    from .io import ImageReadError, image_to_tensor, read_image

    image = crop_to_scale(image_to_tensor(read_image(path)), scale)
    if image.shape[-1] == 0 or image.shape[-2] == 0:
        raise ImageReadError(path, f"it is smaller than the scale ({scale} pixels)")
    return image


def degrade_folder(
    model_path: PathLike,
    input_dir: PathLike,
    output_dir: PathLike,
    *,
    samples: int = 1,
    seed: int = 0,
    batch: int = 1,
    tile: Optional[int] = None,
    overlap: int = 32,
    device: Union[str, torch.device] = "cpu",
    progress: bool = True,
    grid: Optional[PathLike] = None,
    grid_images: int = 4,
) -> dict[str, Any]:
    """Degrade every HR image of a folder (recursively) into ``samples`` LR images, resumably.

    ``OUT/<dir>/<stem>_s{k}.png`` (``<stem>.png`` when ``samples == 1``) is written for each input
    ``IN/<dir>/<stem>.<ext>``, atomically, as 8-bit PNG. Outputs that exist are skipped, so a rerun writes nothing
    new and an interrupted run resumes. The output of an image depends only on ``(seed, its relative path, sample
    index)`` (see the module doc), not on ``batch``, ``tile`` or which images were skipped. Up to ``batch``
    same-size images (times their missing samples) go through the net in one forward pass. An output folder inside
    the input folder is left out of the inputs. Unreadable images are skipped with a warning naming the file and
    counted as failed.

    Args:
        model_path: a generator checkpoint (see :func:`probdeg.checkpoint.save_checkpoint`).
        input_dir: the HR images.
        output_dir: where the LR images go; must not be, or contain, ``input_dir``.
        samples: LR samples per HR image.
        seed: the run's seed.
        batch: images per forward pass.
        tile: tile side in HR pixels (a multiple of the scale), for images too large for memory; ``None``: no tiles.
        overlap: context in HR pixels around each tile (a multiple of the scale).
        device: where the net runs (the noise is drawn on the CPU, so results do not depend on it).
        progress: show a tqdm progress bar.
        grid: also write a :func:`sample_grid` PNG of the first ``grid_images`` readable inputs here.
        grid_images: rows of the grid.

    Returns:
        A summary: ``images`` (inputs found), ``written`` and ``skipped`` (output files), ``failed`` (inputs that
        could not be read) with ``failures`` (their messages), ``output`` (the folder), ``scale``, ``seconds`` and
        ``grid`` (its path or ``None``).

    Raises:
        FileNotFoundError: the model or the input folder does not exist.
        ValueError: no images, bad options, or outputs that would collide or land outside the output folder.
    """
    from tqdm import tqdm

    from .checkpoint import load_generator
    from .io import ImageReadError, write_image

    for name, value, low in (("samples", samples, 1), ("batch", batch, 1), ("grid_images", grid_images, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    start = time.perf_counter()
    input_dir, output_dir = Path(input_dir), Path(output_dir)
    plan = _plan(input_dir, output_dir, samples)
    G = load_generator(model_path, device=device)
    scale = infer_scale(G)
    _check_tiling(scale, tile, overlap)
    if samples > 1 and not is_stochastic(G):
        warnings.warn(f"{model_path} is a deterministic generator: its {samples} samples per image are identical",
                      stacklevel=2)

    summary: dict[str, Any] = {"images": len(plan), "written": 0, "skipped": 0, "failed": 0, "failures": [],
                               "output": output_dir, "scale": scale, "grid": None}
    pending: dict[tuple[int, int], list[_Job]] = {}

    def fail(path: Path, err: Exception) -> None:
        summary["failed"] += 1
        summary["failures"].append(str(err))
        warnings.warn(f"skipped {str(path)!r}: {err.reason if isinstance(err, ImageReadError) else err}",
                      stacklevel=3)

    def run(jobs: list[_Job]) -> None:
        items = [(job, k, target) for job in jobs for k, target in job.outputs]
        hr = torch.stack([job.image for job, _, _ in items]).to(device)
        lr = degrade_batch(G, hr, [sample_seed(seed, job.key, k) for job, k, _ in items], scale=scale, tile=tile,
                           overlap=overlap)
        for (_, _, target), image in zip(items, lr):
            write_image(target, image)
        summary["written"] += len(items)
        bar.update(len(jobs))

    with tqdm(total=len(plan), unit="img", desc="degrade", disable=not progress, dynamic_ncols=True) as bar:
        for path, key, outputs in plan:
            missing = [(k, target) for k, target in enumerate(outputs) if not target.exists()]
            summary["skipped"] += len(outputs) - len(missing)
            if not missing:
                bar.update(1)
                continue
            try:
                image = _read_hr(path, scale)
            except (ImageReadError, OSError) as err:
                fail(path, err)
                bar.update(1)
                continue
            size = (image.shape[-2], image.shape[-1])
            group = pending.setdefault(size, [])
            group.append(_Job(key, image, missing))
            if len(group) >= batch:
                run(pending.pop(size))
            elif sum(len(g) for g in pending.values()) > 4 * batch:
                run(pending.pop(next(iter(pending))))  # bound the images held in memory: flush the oldest size
        for group in pending.values():
            run(group)

    if grid is not None:
        images = []
        for path, _, _ in plan:
            if len(images) == grid_images:
                break
            with contextlib.suppress(ImageReadError, OSError):
                images.append(_read_hr(path, scale))
        if images:
            write_image(grid, sample_grid(G, images, seed=seed, scale=scale))
            summary["grid"] = Path(grid)
    summary["seconds"] = time.perf_counter() - start
    return summary


# ------------------------------------------------------------------------------------------------------------ grid
def label_band(width: int, text: str) -> np.ndarray:
    """A black band with ``text`` in white, HWC float RGB."""
    import cv2

    band = np.zeros((GRID_LABEL_HEIGHT, width, 3), dtype=np.uint8)  # putText draws on 8-bit images only
    cv2.putText(band, text, (3, GRID_LABEL_HEIGHT - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (255, 255, 255), 1,
                cv2.LINE_AA)
    return band.astype(np.float32) / 255.0


def _heat(diff: Tensor) -> np.ndarray:
    """|difference| (C, h, w) -> an inferno heat map, HWC float RGB in [0, 1]."""
    import cv2

    grey = (diff.mean(0) * GRID_DIFF_GAIN).clamp(0, 1).mul(255).round().to(torch.uint8).cpu().numpy()
    return cv2.applyColorMap(grey, cv2.COLORMAP_INFERNO)[:, :, ::-1].astype(np.float32) / 255.0


def sample_grid(
    G: nn.Module, hr_images: Sequence[Tensor], *, samples: int = 3, seed: int = 0, scale: int,
    crop: Optional[int] = 256,
) -> np.ndarray:
    """A figure of the generator's diversity, like MSSR's Figure 3: one row per HR image.

    Columns: the bicubic LR (antialiased ``F.interpolate``), ``samples`` LR samples, then ``|sample 1 - sample j|``
    for j = 2..samples, averaged over channels, amplified by :data:`GRID_DIFF_GAIN` and shown as an inferno heat
    map. LR images are enlarged ``scale`` times with nearest neighbour, so each cell is as large as its HR crop.
    Each row has a :data:`GRID_LABEL_HEIGHT`-pixel label band on top; smaller crops sit top-left in a grey cell.

    Args:
        G: the generator; the images are moved to its device.
        hr_images: HR images in [0, 1], (C, H, W) or (1, C, H, W), any sizes.
        samples: LR samples per image (at least 1).
        seed: seed of the samples; image ``i`` uses the key ``"grid/{i}"``.
        scale: the generator's down-sampling factor.
        crop: the centre crop of each HR image to show, at most ``crop`` x ``crop`` pixels; ``None``: whole images.

    Returns:
        An RGB float image in [0, 1].

    Shape:
        Output: (rows * (GRID_LABEL_HEIGHT + cell_h), (2 * samples) * cell_w, 3), with ``rows = len(hr_images)``
        and ``cell_h`` / ``cell_w`` the largest HR crop's height / width (multiples of ``scale``).
    """
    if not hr_images:
        raise ValueError("sample_grid needs at least one HR image")
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ValueError(f"samples must be a positive integer, got {samples!r}")
    param = next(G.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    crops = []
    for image in hr_images:
        image = image[0] if image.dim() == 4 else image
        if image.dim() != 3:
            raise ValueError(f"expected (C, H, W) HR images, got shape {tuple(image.shape)}")
        if crop is not None:
            side = crop - crop % scale
            h, w = image.shape[-2:]
            top, left = max(0, (h - side) // 2), max(0, (w - side) // 2)
            image = image[:, top:top + side, left:left + side]
        crops.append(crop_to_scale(image, scale))
    cell_h, cell_w = max(c.shape[-2] for c in crops), max(c.shape[-1] for c in crops)
    columns = 2 * samples  # bicubic, the samples, and samples - 1 difference maps
    row_h = GRID_LABEL_HEIGHT + cell_h
    canvas = np.full((len(crops) * row_h, columns * cell_w, 3), 0.25, dtype=np.float32)

    def put(row: int, column: int, picture: np.ndarray, label: str) -> None:
        top, left = row * row_h, column * cell_w
        canvas[top:top + GRID_LABEL_HEIGHT, left:left + cell_w] = label_band(cell_w, label)
        h, w = picture.shape[:2]
        canvas[top + GRID_LABEL_HEIGHT:top + GRID_LABEL_HEIGHT + h, left:left + w] = picture

    def enlarge(lr: Tensor) -> np.ndarray:
        big = lr.repeat_interleave(scale, dim=-2).repeat_interleave(scale, dim=-1)
        return big.clamp(0, 1).permute(1, 2, 0).float().cpu().numpy()

    for row, hr in enumerate(crops):
        hr = hr.to(device).unsqueeze(0)
        h, w = hr.shape[-2] // scale, hr.shape[-1] // scale
        bicubic = F.interpolate(hr, size=(h, w), mode="bicubic", antialias=True, align_corners=False)[0]
        lr = degrade_image(G, hr, scale=scale, samples=samples, seed=seed, key=f"grid/{row}")
        put(row, 0, enlarge(bicubic), f"bicubic x{scale}")
        for k in range(samples):
            put(row, 1 + k, enlarge(lr[k]), f"sample {k + 1}")
        for j in range(1, samples):
            diff = (lr[0] - lr[j]).abs()
            heat = _heat(diff.repeat_interleave(scale, dim=-2).repeat_interleave(scale, dim=-1))
            put(row, samples + j, heat, f"|1-{j + 1}| x{GRID_DIFF_GAIN:g}")
    return canvas

