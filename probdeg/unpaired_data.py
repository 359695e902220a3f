"""`UnpairedImageDataset`: random HR crops with unpaired crops of real LR images, in plain PyTorch.

This is the data the degradation generator learns from: it turns an HR crop into an LR one, a discriminator compares
that with crops of REAL low-resolution images, which show other content. The BasicSR glue wraps this class; it
does not import BasicSR.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Literal, Optional, Union

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from .checks import is_count
from .errors import ImageReadError, UserError
from .io import decode_image, image_to_tensor, list_images, to_unit_float

PathLike = Union[str, os.PathLike]
Folders = Union[PathLike, Sequence[PathLike]]
Reference = Callable[[np.ndarray, int], np.ndarray]

_SHOWN = 5  # how many skipped files a warning names


def _size(path: Path) -> tuple[int, int] | ImageReadError:
    try:
        image = decode_image(path)
    except ImageReadError as error:
        return error
    return image.shape[0], image.shape[1]


def _read_sizes(paths: list[Path]) -> list[tuple[int, int] | ImageReadError]:
    # OpenCV releases the GIL while decoding, so threads read a large folder several times faster.
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        return list(pool.map(_size, paths))


def _draw_augment(rng: np.random.Generator) -> tuple[bool, int]:
    # A horizontal flip or not, then 0-3 quarter turns: each of the 8 flips/rotations of a square equally likely.
    return bool(rng.random() < 0.5), int(rng.integers(4))


def _apply_augment(image: np.ndarray, flip_turns: tuple[bool, int]) -> np.ndarray:
    flip, turns = flip_turns
    return np.rot90(image[:, ::-1] if flip else image, turns)


def _augment(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return _apply_augment(image, _draw_augment(rng))


def _samples_by_stem(folders: Folders) -> dict[str, list[Path]]:
    """Files written by `probdeg degrade` (``<stem>.png`` or ``<stem>_s<k>.png``), grouped by the HR stem."""
    groups: dict[str, list[Path]] = {}
    for path in list_images(folders):
        stem, _, k = path.stem.rpartition("_s")
        groups.setdefault(stem if stem and k.isdigit() else path.stem, []).append(path)
    return groups


def _folder_names(folders: Folders) -> str:
    items = [folders] if isinstance(folders, (str, os.PathLike)) else list(folders)
    return ", ".join(repr(str(f)) for f in items)


class UnpairedImageDataset(Dataset):
    """Random HR crops, each with a random crop of a different, randomly chosen real-LR image.

    Item ``i`` crops HR image ``i % len(hr_paths)``. Its real-LR partner is drawn uniformly from the LR images,
    leaving out the HR image itself (the same file, or a file with the same name stem, as in paired folders used
    unpaired) whenever another LR image exists. With ``augment``, each crop gets its own random flip and quarter
    turn (one of the 8, uniformly).

    Image sizes are found at construction by decoding every image once, on up to 8 threads (about 40 ms of one
    core per 2K PNG: a minute or so for DIV2K + Flickr2K on a few cores). This also finds corrupt files before
    training starts. Each item decodes its two images again, whole, and crops them; nothing is cached.

    Randomness: item ``i`` draws from ``np.random.default_rng([seed, t, i])``, where ``t`` is one draw from
    torch's default generator in the process that builds the item. In a DataLoader worker that generator is seeded
    with the loader's base seed + worker id, anew every epoch, so workers never repeat each other's crops (as
    they would with one generator made in ``__init__`` and copied into every worker) and epochs differ. With
    ``num_workers=0`` or not, ``torch.manual_seed`` makes the items reproducible. ``seed`` tells apart datasets
    built under the same torch seed.

    Items can also be asked for by ``(epoch, i)``: item ``i`` then draws from ``np.random.default_rng([seed,
    epoch, i])`` only, whatever process or worker builds it (``accepts_epoch_key``; the BasicSR glue's sampler
    does this, so a DDP run sees the same items as one process and a resumed run the same as an uninterrupted one).

    Args:
        hr_folders: folder(s) of high-resolution images (searched recursively).
        lr_folders: folder(s) of real low-resolution images; may overlap the HR folders.
        crop_size: HR crop side; the LR crop side is ``crop_size // scale``.
        scale: the down-scaling factor; must divide ``crop_size``.
        augment: random flips and 90-degree rotations.
        small_images: images smaller than their crop, or unreadable: ``"skip"`` drops them with one warning,
            ``"error"`` raises on the first.
        length: items per epoch; default ``max(#HR, #LR)`` (the released code uses #LR, the real-LR set being
            the larger one), so every image of the larger set can be visited.
        reference: ``reference(hr_crop, scale)`` makes the content reference of the HR crop (BasicSR's MATLAB
            bicubic ``imresize`` in the glue); its result is returned as ``"hr_bicubic"``, unclamped.
        synthetic_lr: ``{name: folder(s)}`` of LR images synthesised offline from these HR images by
            ``probdeg degrade`` (``<stem>.png`` or ``<stem>_s<k>.png``); each item then also holds ``"lr_<name>"``,
            the crop of one random sample aligned with the HR crop (same flips and turns). HR crops start on
            multiples of ``scale`` for this. HR images without a sample in every folder raise ValueError.
        seed: non-negative integer mixed into every item's random numbers.
        cache_images: keep every decoded image in memory (8-bit or 16-bit, as stored), so that each item crops
            instead of decoding two or more files. For small datasets (the demo's: a few MB): on 2 CPU cores the
            decoding is otherwise a third of a small SR model's training step. Each DataLoader worker holds its own
            cache.

    Returns (per item):
        ``{"hr": Tensor, "real_lr": Tensor, "hr_path": str, "lr_path": str}``, plus ``"hr_bicubic"`` with a
        reference; tensors are float32 RGB in [0, 1].

    Shape:
        hr: (3, crop_size, crop_size). real_lr and hr_bicubic: (3, crop_size // scale, crop_size // scale).
    """

    accepts_epoch_key = True

    def __init__(
        self,
        hr_folders: Folders,
        lr_folders: Folders,
        *,
        crop_size: int = 256,
        scale: int = 4,
        augment: bool = True,
        small_images: Literal["skip", "error"] = "skip",
        length: Optional[int] = None,
        reference: Optional[Reference] = None,
        synthetic_lr: Optional[dict[str, Folders]] = None,
        seed: int = 0,
        cache_images: bool = False,
    ) -> None:
        super().__init__()
        if not is_count(scale):
            raise UserError(f"scale must be a positive integer, got {scale!r}")
        if not is_count(crop_size, scale):
            raise UserError(f"crop_size must be an integer of at least scale={scale}, got {crop_size!r}")
        if crop_size % scale != 0:
            raise UserError(f"crop_size {crop_size} is not a multiple of scale {scale}: the LR crop would not be "
                             f"an exact 1/{scale} of it (try {crop_size - crop_size % scale})")
        if small_images not in ("skip", "error"):
            raise UserError(f"small_images must be 'skip' or 'error', got {small_images!r}")
        if length is not None and not is_count(length):
            raise UserError(f"length must be a positive integer or None, got {length!r}")
        if not is_count(seed, 0):
            raise UserError(f"seed must be a non-negative integer, got {seed!r}")
        self.crop_size = crop_size
        self.lr_crop_size = crop_size // scale
        self.scale = scale
        self.augment = augment
        self.reference = reference
        self.seed = seed
        self._cache: Optional[dict[Path, np.ndarray]] = {} if cache_images else None

        hr_found, lr_found = list_images(hr_folders), list_images(lr_folders)
        sizes = _read_sizes(hr_found + lr_found)
        skipped: list[str] = []
        self.hr_paths = self._usable("HR", hr_found, sizes[:len(hr_found)], crop_size, small_images, skipped)
        self.lr_paths = self._usable("LR", lr_found, sizes[len(hr_found):], self.lr_crop_size, small_images,
                                     skipped)
        if skipped:
            more = f", ... ({len(skipped) - _SHOWN} more)" if len(skipped) > _SHOWN else ""
            warnings.warn(f"UnpairedImageDataset skipped {len(skipped)} of {len(hr_found) + len(lr_found)} images "
                          f"(small_images='skip'): {'; '.join(skipped[:_SHOWN])}{more}", stacklevel=2)
        for role, paths, found, folders, crop in (("HR", self.hr_paths, hr_found, hr_folders, crop_size),
                                                  ("LR", self.lr_paths, lr_found, lr_folders, self.lr_crop_size)):
            if not paths:
                raise UserError(f"no usable {role} images in {_folder_names(folders)}: all {len(found)} found are "
                                 f"unreadable or smaller than the {crop}x{crop} {role} crop")
        self._excluded = self._exclusions()
        self.length = length if length is not None else max(len(self.hr_paths), len(self.lr_paths))
        self.synthetic = {name: _samples_by_stem(folders) for name, folders in (synthetic_lr or {}).items()}
        for name, groups in self.synthetic.items():
            missing = [p.name for p in self.hr_paths if p.stem not in groups]
            if missing:
                raise UserError(f"synthetic_lr {name!r}: no LR sample for {len(missing)} HR image(s), e.g. "
                                 f"{', '.join(missing[:_SHOWN])} (run `probdeg degrade` on the HR folder)")

    @staticmethod
    def _usable(role: str, paths: list[Path], sizes: list, crop: int, mode: str, skipped: list[str]) -> list[Path]:
        usable = []
        for path, size in zip(paths, sizes):
            if isinstance(size, ImageReadError):
                if mode == "error":
                    raise size
                skipped.append(f"{path.name} ({role}, unreadable: {size.reason})")
            elif min(size) < crop:
                height, width = size
                if mode == "error":
                    raise UserError(f"{role} image {str(path)!r} is {width}x{height}, smaller than the {crop}x{crop} "
                                     f"{role} crop (pass small_images='skip' to leave such images out)")
                skipped.append(f"{path.name} ({role}, {width}x{height} < {crop}x{crop})")
            else:
                usable.append(path)
        return usable

    def _exclusions(self) -> list[tuple[int, ...]]:
        """For each HR image, the sorted LR indices it must not be paired with."""
        by_key: dict[object, set[int]] = {}
        for j, path in enumerate(self.lr_paths):
            by_key.setdefault(path.resolve(), set()).add(j)
            by_key.setdefault(path.stem, set()).add(j)
        excluded = []
        alone = []
        for path in self.hr_paths:
            same = by_key.get(path.resolve(), set()) | by_key.get(path.stem, set())
            if len(same) >= len(self.lr_paths):
                alone.append(path.name)  # no other LR image: pairing with itself is the only choice
                same = set()
            excluded.append(tuple(sorted(same)))
        if alone:
            warnings.warn(f"UnpairedImageDataset: {len(alone)} HR image(s) ({', '.join(alone[:_SHOWN])}) have no "
                          "real-LR image other than themselves and will be paired with themselves", stacklevel=3)
        return excluded

    def __len__(self) -> int:
        return self.length

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(hr={len(self.hr_paths)} images, lr={len(self.lr_paths)} images, "
                f"crop_size={self.crop_size}, scale={self.scale}, augment={self.augment}, length={self.length})")

    def _decode(self, path: Path) -> np.ndarray:
        if self._cache is None:
            return decode_image(path)
        if path not in self._cache:
            self._cache[path] = decode_image(path)
        return self._cache[path]

    def _generator(self, index: int, epoch: Optional[int]) -> np.random.Generator:
        if epoch is not None:
            return np.random.default_rng([self.seed, epoch, index])
        draw = int(torch.randint(0, 2**62, (1,)).item())
        return np.random.default_rng([self.seed, draw, index])

    def _partner(self, hr_index: int, rng: np.random.Generator) -> int:
        excluded = self._excluded[hr_index]
        pick = int(rng.integers(len(self.lr_paths) - len(excluded)))
        for j in excluded:  # the pick-th LR index not excluded (ascending order makes one pass enough)
            if pick >= j:
                pick += 1
        return pick

    def _crop(self, path: Path, size: int, rng: np.random.Generator) -> np.ndarray:
        image = self._decode(path)
        height, width = image.shape[:2]
        if min(height, width) < size:
            raise UserError(f"image {str(path)!r} is {width}x{height} now, smaller than the {size}x{size} crop "
                             "(it changed after the dataset was built)")
        top = int(rng.integers(height - size + 1))
        left = int(rng.integers(width - size + 1))
        return to_unit_float(image[top:top + size, left:left + size])

    def _aligned_crops(self, hr_path: Path, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """An HR crop on the ``scale`` grid and the matching crop of one random offline sample per folder."""
        image = self._decode(hr_path)
        s, size, lr_size = self.scale, self.crop_size, self.lr_crop_size
        top = int(rng.integers((image.shape[0] - size) // s + 1)) * s
        left = int(rng.integers((image.shape[1] - size) // s + 1)) * s
        crops = {}
        for name, groups in self.synthetic.items():
            samples = groups[hr_path.stem]
            sample_path = samples[int(rng.integers(len(samples)))]
            lr = self._decode(sample_path)[top // s:top // s + lr_size, left // s:left // s + lr_size]
            if lr.shape[:2] != (lr_size, lr_size):
                raise UserError(f"{sample_path} is too small for 1/{s} of {hr_path.name}: was it made from it?")
            crops[f"lr_{name}"] = to_unit_float(lr)
        return to_unit_float(image[top:top + size, left:left + size]), crops

    def __getitem__(self, index: Union[int, tuple[int, int]]) -> dict[str, Union[Tensor, str]]:
        epoch = None
        if isinstance(index, tuple):
            epoch, index = index
            if not is_count(epoch, 0):
                raise UserError(f"the epoch of an (epoch, index) key must be a non-negative integer, got {epoch!r}")
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for a dataset of length {self.length}")
        rng = self._generator(index, epoch)
        hr_index = index % len(self.hr_paths)
        lr_index = self._partner(hr_index, rng)
        hr_path, lr_path = self.hr_paths[hr_index], self.lr_paths[lr_index]
        item: dict[str, Union[Tensor, str]] = {"hr_path": str(hr_path), "lr_path": str(lr_path)}
        if self.synthetic:
            hr, synthetic = self._aligned_crops(hr_path, rng)
        else:
            hr, synthetic = self._crop(hr_path, self.crop_size, rng), {}
        lr = self._crop(lr_path, self.lr_crop_size, rng)
        if self.augment:
            flip_turns = _draw_augment(rng)
            hr, lr = _apply_augment(hr, flip_turns), _augment(lr, rng)
            synthetic = {key: _apply_augment(image, flip_turns) for key, image in synthetic.items()}
        hr = np.ascontiguousarray(hr, dtype=np.float32)
        item.update(hr=image_to_tensor(hr), real_lr=image_to_tensor(lr))
        item.update({key: image_to_tensor(np.ascontiguousarray(image)) for key, image in synthetic.items()})
        if self.reference is not None:
            reference = np.asarray(self.reference(hr.copy(), self.scale), dtype=np.float32)
            expected = (self.lr_crop_size, self.lr_crop_size, 3)
            if reference.shape != expected:
                raise UserError(f"reference(hr_crop, {self.scale}) returned shape {reference.shape}, expected "
                                 f"{expected} (HWC)")
            item["hr_bicubic"] = image_to_tensor(reference)
        return item
