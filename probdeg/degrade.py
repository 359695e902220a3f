"""Degrade HR images with a trained generator: a batch, an image, a folder (``probdeg degrade``), a sample grid.

Probabilistic generators draw their latents from the position-keyed noise of :mod:`probdeg.noise_field`, so an
output depends only on ``(seed, the image's key, sample index)``: not on the batch, the tiles or the device. Tiles
(:mod:`probdeg.tiling`) bound the memory of large images; for DeResnet an overlap of 32 HR pixels makes the tiled
output equal the untiled one. Nets with global pooling or attention (StridedHAN's channel attention) see only their
tile: run them untiled when you can.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Protocol, Union, runtime_checkable

import numpy as np
import torch
from torch import Tensor, nn

from .checkpoint import file_digest, load_network
from .checks import is_count
from .defaults import TILE_OVERLAP
from .errors import ImageReadError, UserError
from .figures import sample_grid_figure
from .filters import bicubic_downscale
from .folders import FolderJob, plan_outputs
from .injection import NoiseInjection
from .io import image_to_tensor, list_images, read_image, write_image
from .jpeg import compress, estimate_quality_range, is_quality_range
from .noise_field import Window, position_keyed_noise, sample_seed, stable_seed
from .registry import Resolve
from .tiling import OutputCheck, count_tiles, memory_hint, run_tiled

PathLike = Union[str, os.PathLike]

DEFAULT_OVERLAP = TILE_OVERLAP
"""HR pixels of context around each tile when none is given (covers DeResnet's receptive field)."""


@runtime_checkable
class SeededDegradation(Protocol):
    """A degradation that draws from per-image seeds itself instead of latent layers: a hand-made pipeline
    (``probdeg.integrations.basicsr.handmade``). Every function here takes one where it takes a generator; it runs
    on whole images (no tiles: it resizes, filters and compresses an image as one)."""

    scale: int

    def settings(self) -> dict[str, Any]:
        """What makes its outputs (a folder's manifest records it)."""

    def degrade_seeded(self, hr: Tensor, seeds: Sequence[int]) -> Tensor:
        """LR of each image from its seed alone: (B, 3, H, W) -> (B, 3, H / scale, W / scale)."""


def refuse_tiles(G: nn.Module, tile: Optional[int]) -> None:
    if tile is not None and isinstance(G, SeededDegradation):
        raise UserError("a hand-made degradation runs on whole images (it resizes, filters and compresses each as "
                        f"one); leave the tile unset (got {tile})")


def infer_scale(G: nn.Module, *, size: int = 64, check: bool = False) -> int:
    """The generator's down-sampling factor: its ``scale`` attribute (or its wrapped net's), else a probe run.

    ``check``: run the probe even when there is an attribute, and refuse a net whose output is not its input
    ``scale`` times smaller (an SR net has a ``scale`` attribute too).
    """
    for module in (G, getattr(G, "net", None)):
        scale = getattr(module, "scale", None)
        if is_count(scale):
            break
    else:
        scale = None
    if scale is not None and not check:
        return scale
    param = next(G.parameters(), None)
    x = torch.zeros(1, 3, size, size, device=param.device if param is not None else "cpu",
                    dtype=param.dtype if param is not None else torch.float32)
    with torch.inference_mode(), position_keyed_noise(G, [0], mode="mean") as noise:
        noise.window = Window(0, 0, size, size)
        out = G(x)
    if not isinstance(out, Tensor) or out.dim() != 4 or out.shape[-1] == 0 or size % out.shape[-1] or \
            scale is not None and out.shape[-1] * scale != size:
        raise UserError(f"cannot infer the scale of {type(G).__name__}: a {size}x{size} input gave "
                        f"{tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__}; is it a "
                        "degradation generator?")
    return size // out.shape[-1]


def is_stochastic(G: nn.Module) -> bool:
    """Whether ``G`` draws: a :class:`SeededDegradation`, or latent layers whose noise is not switched off (some noise
    scale is non-zero)."""
    return isinstance(G, SeededDegradation) or any(
        isinstance(m, NoiseInjection) and bool(m.weight.detach().abs().sum() > 0) for m in G.modules())


def crop_to_scale(hr: Tensor, scale: int) -> Tensor:
    """Drop the last rows and columns of ``hr`` so that its height and width are multiples of ``scale``.

    Shape:
        (..., H, W) -> (..., H - H % scale, W - W % scale).
    """
    h, w = hr.shape[-2:]
    return hr[..., : h - h % scale, : w - w % scale]


def check_tiling(scale: int, tile: Optional[int], overlap: int) -> None:
    """Raise UserError unless ``tile`` (or ``None``) and ``overlap`` are multiples of ``scale``."""
    if not is_count(scale):
        raise UserError(f"scale must be a positive integer, got {scale!r}")
    if tile is not None and (not is_count(tile, scale) or tile % scale):
        raise UserError(f"tile must be a positive multiple of the scale ({scale}), got {tile!r}")
    if not is_count(overlap, 0) or overlap % scale:
        raise UserError(f"tile overlap must be a multiple of the scale ({scale}) and >= 0, got {overlap!r}")


def degrade_batch(
    G: nn.Module, hr: Tensor, seeds: Sequence[int], *, scale: int, tile: Optional[int] = None,
    overlap: int = DEFAULT_OVERLAP, mode: str = "random", on_tile: Optional[Callable[[], None]] = None,
    check: Optional[OutputCheck] = None,
) -> Tensor:
    """Run ``G`` on a batch of HR images, item ``i`` with the noise of ``seeds[i]``, tiled when asked.

    Args:
        G: the generator (probabilistic or not) or a :class:`SeededDegradation`, on ``hr``'s device.
        hr: HR images in [0, 1] whose height and width are multiples of ``scale``.
        seeds: one sample seed per item (see :func:`probdeg.noise_field.sample_seed`).
        scale: the generator's down-sampling factor.
        tile: tile side in HR pixels (a multiple of ``scale``); ``None`` runs the whole image at once.
        overlap: HR pixels of context on every side of a tile (a multiple of ``scale``).
        mode: ``"random"`` samples the latents, ``"mean"`` uses their means (eps = 0).
        on_tile: called after each tile (progress inside a large image).
        check: counts, per image, the output values that are NaN, infinite or far outside [0, 1] before the clamp
            (see :class:`probdeg.tiling.OutputCheck`).

    Returns:
        The LR images, clamped to [0, 1].

    Shape:
        hr (B, C, H, W) -> (B, C_out, H / scale, W / scale).
    """
    check_tiling(scale, tile, overlap)
    if hr.dim() != 4:
        raise ValueError(f"expected a (B, C, H, W) batch, got shape {tuple(hr.shape)}")
    if len(seeds) != hr.shape[0]:
        raise ValueError(f"got {len(seeds)} seeds for a batch of {hr.shape[0]}")
    height, width = hr.shape[-2:]
    if height % scale or width % scale or height == 0 or width == 0:
        raise UserError(f"HR size {height}x{width} is not a positive multiple of the scale {scale}: crop_to_scale it")
    if isinstance(G, SeededDegradation):
        refuse_tiles(G, tile)
        with torch.inference_mode():
            out = G.degrade_seeded(hr, list(seeds))
            if check is not None:
                check.add(out)
            return out.clamp_(0, 1)
    with torch.inference_mode(), position_keyed_noise(G, seeds, mode=mode) as noise:
        def forward(piece: Tensor, window: Window) -> Tensor:
            noise.window = window
            out = G(piece)
            expected = (piece.shape[0], piece.shape[1], piece.shape[2] // scale, piece.shape[3] // scale)
            if not isinstance(out, Tensor) or tuple(out.shape) != expected:
                got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
                raise UserError(f"the generator mapped an input of shape {tuple(piece.shape)} to {got}; expected "
                                f"{expected} for scale {scale}")
            return out

        return run_tiled(forward, hr, tile=tile, overlap=overlap, down=scale, on_tile=on_tile,
                         check=check).clamp_(0, 1)


def degrade_image(
    G: nn.Module, hr: Tensor, *, scale: int, samples: int = 1, seed: int = 0, tile: Optional[int] = None,
    overlap: int = DEFAULT_OVERLAP, mode: str = "random", key: str = "",
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
    if not is_count(samples):
        raise UserError(f"samples must be a positive integer, got {samples!r}")
    hr = crop_to_scale(hr, scale)
    seeds = [sample_seed(seed, key, k) for k in range(samples)]
    return degrade_batch(G, hr.expand(samples, -1, -1, -1), seeds, scale=scale, tile=tile, overlap=overlap,
                         mode=mode)


def centre_box(height: int, width: int, side: int, multiple: int) -> tuple[int, int, int, int]:
    """``(top, left, height, width)`` of the centre ``side`` x ``side`` crop of an image (less when it is smaller),
    every number a multiple of ``multiple``, so that the same crop of an image ``multiple`` times smaller is the box
    divided by ``multiple``."""
    h, w = min(height, side), min(width, side)
    h, w = h - h % multiple, w - w % multiple
    return (height - h) // 2 // multiple * multiple, (width - w) // 2 // multiple * multiple, h, w


def centre_crop(image: Tensor, side: int, multiple: int) -> Tensor:
    """The centre crop :func:`centre_box` describes, of a (C, H, W) image."""
    top, left, h, w = centre_box(image.shape[-2], image.shape[-1], side, multiple)
    return image[..., top:top + h, left:left + w]


def sample_grid(
    G: nn.Module, hr_images: Sequence[Tensor], *, samples: int = 3, seed: int = 0, scale: int,
    crop: Optional[int] = 256,
) -> np.ndarray:
    """A figure of the generator's diversity, like MSSR's Figure 3 (see :func:`probdeg.figures.sample_grid_figure`).

    Args:
        G: the generator; the images are moved to its device.
        hr_images: HR images in [0, 1], (C, H, W) or (1, C, H, W), any sizes.
        samples: LR samples per image (at least 1).
        seed: seed of the samples; image ``i`` uses the key ``"grid/{i}"``.
        scale: the generator's down-sampling factor.
        crop: the centre crop of each HR image to show, at most ``crop`` x ``crop`` pixels; ``None``: whole images.

    Returns:
        An RGB float image in [0, 1], one row per image.
    """
    if not hr_images:
        raise ValueError("sample_grid needs at least one HR image")
    if not is_count(samples):
        raise UserError(f"samples must be a positive integer, got {samples!r}")
    param = next(G.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    rows = []
    for index, image in enumerate(hr_images):
        image = image[0] if image.dim() == 4 else image
        if image.dim() != 3:
            raise ValueError(f"expected (C, H, W) HR images, got shape {tuple(image.shape)}")
        hr = (centre_crop(image, crop, scale) if crop is not None else crop_to_scale(image, scale)).to(device)
        lr = degrade_image(G, hr, scale=scale, samples=samples, seed=seed, key=f"grid/{index}")
        rows.append((bicubic_downscale(hr[None], scale)[0], lr))
    return sample_grid_figure(rows, scale=scale)


# ------------------------------------------------------------------------------------------------------------ folders
@dataclass
class _Pending:
    key: str
    path: Path
    image: Tensor  # (3, H, W), cropped to the scale
    outputs: list[tuple[int, Path]] = field(default_factory=list)  # (sample index, file) still to write


def read_hr(path: Path, scale: int) -> Tensor:
    """An HR image file as a (3, H, W) tensor cropped to the scale.

    Raises:
        ImageReadError: unreadable, or smaller than the scale.
    """
    image = crop_to_scale(image_to_tensor(read_image(path)), scale)
    if image.shape[-1] == 0 or image.shape[-2] == 0:
        raise ImageReadError(path, f"it is smaller than the scale ({scale} pixels)")
    return image


def matching_jpeg(model_path: PathLike, hr_dir: PathLike, real_lr_dir: PathLike, *, seed: int = 0, images: int = 8,
                  resolve: Optional[Resolve] = None) -> Optional[tuple[int, int]]:
    """The JPEG quality range that gives a generator's LR the blocking of the real LR (:mod:`probdeg.jpeg`), or
    ``None`` when the real LR shows none; from one uncompressed sample of each of the first ``images`` HR images and
    the first 64 real LR images.

    Args:
        model_path: a generator checkpoint.
        hr_dir: HR images (the ones the LR will be made from).
        real_lr_dir: the real LR images, whole (JPEG's grid starts at their corner).
        seed: the samples' seed.
        images: at most this many HR images are degraded for the match.
        resolve: finds arch types outside probdeg's own.
    """
    def readable(paths: list[Path], read: Callable[[Path], Any], limit: int) -> list[tuple[Path, Any]]:
        found = []  # unreadable files are skipped here: the stages that use them name them
        for path in paths:
            with contextlib.suppress(ImageReadError):
                found.append((path, read(path)))
            if len(found) == limit:
                break
        return found

    G = load_network(model_path, resolve=resolve)
    scale = infer_scale(G)
    real = [image for _, image in readable(list_images(real_lr_dir), read_image, 64)]  # enough for a range
    hr = readable(list_images(hr_dir), lambda path: read_hr(path, scale), images)
    if not real or not hr:
        raise UserError(f"matching JPEG needs readable real LR images in {real_lr_dir} and HR images in {hr_dir}")
    with torch.no_grad():
        generated = [degrade_image(G, image, scale=scale, seed=seed, key=path.name)[0].permute(1, 2, 0).numpy()
                     for path, image in hr]
    try:
        return estimate_quality_range(real, generated)
    except ValueError as err:
        raise UserError(f"matching JPEG to {real_lr_dir}: {err}") from None


def _jpeg_quality(seed: int, key: str, index: int, qualities: tuple[int, int]) -> int:
    """The JPEG quality of sample ``index`` of image ``key``: uniform over ``qualities``, fixed by the run's seed."""
    return int(np.random.default_rng(stable_seed("probdeg.jpeg", int(seed), key, int(index)))
               .integers(qualities[0], qualities[1] + 1))


def degrade_folder(
    model_path: Union[PathLike, SeededDegradation],
    input_dir: PathLike,
    output_dir: PathLike,
    *,
    samples: int = 1,
    seed: int = 0,
    batch: int = 1,
    tile: Optional[int] = None,
    overlap: int = DEFAULT_OVERLAP,
    device: Union[str, torch.device] = "cpu",
    progress: bool = True,
    grid: Optional[PathLike] = None,
    grid_images: int = 4,
    resolve: Optional[Resolve] = None,
    overwrite: bool = False,
    jpeg: Optional[tuple[int, int]] = None,
) -> dict[str, Any]:
    """Degrade every HR image of a folder (recursively) into ``samples`` LR images, resumably.

    ``OUT/<dir>/<stem>_s{k}.png`` (``<stem>.png`` when ``samples == 1``) is written for each input
    ``IN/<dir>/<stem>.<ext>``, atomically, as 8-bit PNG. The output of an image depends only on ``(seed, its relative
    path, sample index)`` (see :mod:`probdeg.noise_field`), not on ``batch``, ``tile`` or which images were skipped.
    Up to ``batch`` same-size images, or samples of one image, go through the net in one forward pass. An output
    folder inside the input folder is left out of the inputs. Unreadable images are skipped with a warning naming the
    file and counted as failed.

    The output folder records what made it (the checkpoint's SHA-256, seed, samples, tiling, probdeg version; see
    :class:`probdeg.folders.FolderJob`): a rerun with the same settings skips the images that exist, so an
    interrupted run resumes; a rerun with other settings is refused, unless ``overwrite``.

    Args:
        model_path: a generator checkpoint (see :func:`probdeg.checkpoint.save_checkpoint`), or a
            :class:`SeededDegradation` (a hand-made pipeline; the manifest records its settings, not a digest).
        input_dir: the HR images.
        output_dir: where the LR images go; must not be, or contain, ``input_dir``.
        samples: LR samples per HR image.
        seed: the run's seed.
        batch: images (or samples) per forward pass.
        tile: tile side in HR pixels (a multiple of the scale), for images too large for memory; ``None``: no tiles.
        overlap: context in HR pixels around each tile (a multiple of the scale).
        device: where the net runs (the noise is drawn on the CPU, so results do not depend on it).
        progress: show a progress bar (on a terminal).
        grid: also write a :func:`sample_grid` PNG of the first ``grid_images`` readable inputs here.
        grid_images: rows of the grid.
        resolve: finds arch types outside probdeg's own (see :func:`probdeg.checkpoint.load_network`).
        overwrite: replace the outputs of other settings in ``output_dir`` instead of refusing.
        jpeg: compress every LR sample by JPEG at a quality drawn from this range (both ends included), per sample
            from its seed: the blocking a generator cannot learn (see :mod:`probdeg.jpeg`); ``None``: none.

    Returns:
        A summary (see :meth:`probdeg.folders.FolderJob.summary`) with ``scale`` and ``grid`` (its path or ``None``).

    Raises:
        FileNotFoundError: the model or the input folder does not exist.
        UserError: no images, bad options, outputs that would collide, land outside the output folder or were made
            with other settings, or an image too large for memory (the message suggests ``tile``).
    """
    for name, value in (("samples", samples), ("batch", batch), ("grid_images", grid_images)):
        if not is_count(value):
            raise UserError(f"{name} must be a positive integer, got {value!r}")
    if grid is not None and Path(grid).suffix.lower() != ".png":
        raise UserError(f"the grid {str(grid)!r} is written as PNG: its name should end in '.png'")
    plan = plan_outputs(input_dir, output_dir, samples)
    if isinstance(model_path, SeededDegradation):
        G, scale, made_by = model_path.to(device), model_path.scale, {"handmade": model_path.settings()}
        refuse_tiles(G, tile)
    else:
        G = load_network(model_path, resolve=resolve, device=device)
        try:  # a probe run: a checkpoint of another kind (an SR net) is named before any image is read
            scale = infer_scale(G, check=True)
        except UserError as err:
            raise UserError(f"{model_path}: {err}") from None
        made_by = {"model_sha256": file_digest(model_path)}
    check_tiling(scale, tile, overlap)
    if samples > 1 and not is_stochastic(G):
        warnings.warn(f"{model_path} is a deterministic generator: its {samples} samples per image are identical",
                      stacklevel=2)
    if jpeg is not None and not is_quality_range(tuple(jpeg)):
        raise UserError(f"jpeg: expected a quality range low:high with 1 <= low <= high <= 100, got {jpeg}")
    settings = {**made_by, "seed": seed, "samples": samples, "tile": tile,
                "overlap": overlap if tile else None}
    if jpeg is not None:  # only when set: folders made before the option keep their settings
        settings["jpeg"] = [int(jpeg[0]), int(jpeg[1])]
    pending: dict[tuple[int, int], list[_Pending]] = {}
    failed: set[str] = set()  # inputs whose output was not usable: none of their samples is kept

    with FolderJob(plan, output_dir, command="degrade", settings=settings, overwrite=overwrite,
                   progress=progress) as job:
        def run(group: list[_Pending]) -> None:
            items = [(entry, k, target) for entry in group for k, target in entry.outputs]
            height, width = group[0].image.shape[-2:]
            what = group[0].key if len(group) == 1 else f"{len(group)} images of {width}x{height}"
            on_tile = job.tiles(count_tiles(height, width, tile) * -(-len(items) // batch))
            for start in range(0, len(items), batch):  # at most `batch` images or samples per forward
                chunk = items[start:start + batch]
                hr = torch.stack([entry.image for entry, _, _ in chunk]).to(device)
                check = OutputCheck()
                with memory_hint(f"{what} ({width}x{height} HR pixels)", tile):
                    lr = degrade_batch(G, hr, [sample_seed(seed, entry.key, k) for entry, k, _ in chunk], scale=scale,
                                       tile=tile, overlap=overlap, on_tile=on_tile, check=check)
                for (entry, k, target), image, problem in zip(chunk, lr, check.problems()):
                    if entry.key in failed:
                        continue
                    if problem is not None:  # none of its samples is kept: remove those written already
                        failed.add(entry.key)
                        done = [path for _, path in entry.outputs if path.is_file()]
                        for path in done:
                            path.unlink()
                        job.wrote(-len(done))
                        job.fail(entry.path, f"the model {str(model_path)!r} gave {problem} (overflowing weights?); "
                                             "nothing written for it")
                        continue
                    if jpeg is not None:
                        image = compress(image.permute(1, 2, 0).cpu().numpy(), _jpeg_quality(seed, entry.key, k, jpeg))
                    write_image(target, image)
                    job.wrote(1)
            job.advance(len(group))

        for item, missing in job.pending():
            image = job.read(item, lambda path: read_hr(path, scale))
            if image is None:
                continue
            size = (image.shape[-2], image.shape[-1])
            group = pending.setdefault(size, [])
            group.append(_Pending(item.key, item.path, image, missing))
            if len(group) >= batch:
                run(pending.pop(size))
            elif sum(len(g) for g in pending.values()) > 4 * batch:
                run(pending.pop(next(iter(pending))))  # bound the images held in memory: flush the oldest size
        for group in pending.values():
            run(group)

    grid_path = None
    if grid is not None:
        images = []
        for item in plan:
            if len(images) == grid_images:
                break
            with contextlib.suppress(ImageReadError, OSError):
                images.append(read_hr(item.path, scale))
        if images:
            write_image(grid, sample_grid(G, images, seed=seed, scale=scale))
            grid_path = Path(grid)
    return job.summary(scale=scale, grid=grid_path)
