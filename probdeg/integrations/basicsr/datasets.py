"""probdeg's datasets in BasicSR's form (constructed from one option dict), and the MATLAB-bicubic reference that
stage 1, SR on bicubic LR and SimUSR read (BasicSR's own weights, as cached matrices)."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
from torch.utils.data import Dataset

from ...errors import UserError
from ...io import image_to_tensor, list_images, read_image
from ...unpaired_data import UnpairedImageDataset
from .schema import DegradationValOptions, UnpairedDatasetOptions


@lru_cache(maxsize=16)
def _bicubic_matrix(in_length: int, scale: int) -> torch.Tensor:
    """The (out, in) matrix of BasicSR's MATLAB-style bicubic downscale along one axis, its symmetric border folded
    in. BasicSR's ``imresize`` is linear and separable but loops in Python over output pixels: 2.6 ms per 128-pixel
    crop, a third of the SR step this reference feeds; two cached matrix products take about 0.1 ms."""
    from basicsr.utils.matlab_functions import calculate_weights_indices

    out_length = math.ceil(in_length / scale)
    weights, indices, sym_start, _ = calculate_weights_indices(in_length, out_length, 1 / scale, "cubic", 4, True)
    padded = indices.long().numpy() - sym_start  # index into the image, before folding the symmetric border back in
    source = np.where(padded < 0, -padded - 1, np.where(padded >= in_length, 2 * in_length - 1 - padded, padded))
    if source.min() < 0 or source.max() >= in_length:  # the border would need more than one reflection
        raise ValueError(f"bicubic downscale by {scale}: {in_length} pixels are too few (the kernel, {4 * scale} "
                         "pixels wide, would reach past the mirrored border)")
    matrix = np.zeros((out_length, in_length), dtype=np.float64)
    np.add.at(matrix, (np.arange(out_length)[:, None].repeat(source.shape[1], 1), source), weights.double().numpy())
    return torch.from_numpy(matrix.astype(np.float32))


def matlab_bicubic_tensor(images: torch.Tensor, scale: int) -> torch.Tensor:
    """BasicSR's MATLAB-style antialiased bicubic downscale (``basicsr.utils.matlab_functions.imresize(x,
    1 / scale)``, to float rounding) of float images, on their device, unclamped.

    Shape:
        (..., H, W) -> (..., ceil(H / scale), ceil(W / scale)).
    """
    rows = _bicubic_matrix(images.shape[-2], scale).to(images.device)
    cols = _bicubic_matrix(images.shape[-1], scale).to(images.device)
    return rows @ images.float() @ cols.T


def matlab_bicubic(image: np.ndarray, scale: int) -> np.ndarray:
    """:func:`matlab_bicubic_tensor` of an HWC float image: the reference of stage 1 and of SR on bicubic LR.

    Shape:
        (H, W, C) -> (ceil(H / scale), ceil(W / scale), C).
    """
    # torch, not numpy: numpy's BLAS threads would fight the training's torch threads for the cores (measured: 8 ms
    # instead of 0.1 ms per crop while two trainings ran).
    channels = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)
    return matlab_bicubic_tensor(channels, scale).permute(1, 2, 0).contiguous().numpy()


class BasicSRUnpairedDataset(UnpairedImageDataset):
    """``type: UnpairedImageDataset``: its options are :class:`~probdeg.integrations.basicsr.schema.
    UnpairedDatasetOptions`, plus BasicSR's loader keys (``batch_size_per_gpu``, ...)."""

    def __init__(self, opt: dict) -> None:
        self.opt = opt
        options = UnpairedDatasetOptions.read(opt, f"datasets:{opt.get('phase', 'train')}")
        super().__init__(options.dataroot_hr, options.dataroot_lr, crop_size=options.crop_size, scale=options.scale,
                         augment=options.augment, small_images=options.small_images, length=options.length,
                         reference=matlab_bicubic if options.bicubic_reference else None,
                         synthetic_lr=options.synthetic_lr, seed=options.seed, cache_images=options.cache_images)


class DegradationValDataset(Dataset):
    """``type: DegradationValDataset``: validation images for a degradation generator; its options are
    :class:`~probdeg.integrations.basicsr.schema.DegradationValOptions`.

    Items: ``hr``, ``hr_bicubic``, and ``lr`` / ``real_lr`` when those folders are given (tensors in [0, 1]).
    """

    def __init__(self, opt: dict) -> None:
        self.opt = opt
        options = DegradationValOptions.read(opt, f"datasets:{opt.get('phase', 'val')}")
        self.scale = options.scale
        self.crop_size = options.crop_size
        self.hr_paths = list_images(options.dataroot_hr)
        self.lr_by_stem = {}
        if options.dataroot_lr:
            self.lr_by_stem = {p.stem: p for p in list_images(options.dataroot_lr)}
            missing = [p.name for p in self.hr_paths if p.stem not in self.lr_by_stem]
            if missing:
                raise UserError(f"DegradationValDataset: {len(missing)} HR image(s) have no LR image of the same name "
                                f"in {options.dataroot_lr}: {', '.join(missing[:5])}")
        real_root = options.dataroot_real_lr or options.dataroot_lr
        self.real_paths = list_images(real_root) if real_root else []

    def __len__(self) -> int:
        return len(self.hr_paths)

    def _hr_box(self, h: int, w: int) -> tuple[int, int, int, int]:
        """(top, left, height, width) of the HR region: centred, ``crop_size`` at most, multiples of ``scale``."""
        s = self.scale
        height, width = (min(h, int(self.crop_size)), min(w, int(self.crop_size))) if self.crop_size else (h, w)
        height, width = height - height % s, width - width % s
        return ((h - height) // 2) // s * s, ((w - width) // 2) // s * s, height, width

    def __getitem__(self, index: int) -> dict:
        path = self.hr_paths[index]
        image = read_image(path)
        top, left, height, width = self._hr_box(*image.shape[:2])
        hr = image[top:top + height, left:left + width]
        item = {"hr": image_to_tensor(hr), "hr_path": str(path),
                "hr_bicubic": image_to_tensor(np.clip(matlab_bicubic(hr, self.scale), 0, 1))}
        if self.lr_by_stem:
            s = self.scale
            lr = read_image(self.lr_by_stem[path.stem])[top // s:(top + height) // s, left // s:(left + width) // s]
            if lr.shape[:2] != (height // s, width // s):
                raise UserError(f"{self.lr_by_stem[path.stem]} is {lr.shape[1]}x{lr.shape[0]} where the paired HR "
                                 f"{path.name} needs {width // s}x{height // s} (1/{s} of it)")
            item["lr"] = image_to_tensor(lr)
        if self.real_paths:
            item["real_lr"] = image_to_tensor(read_image(self.real_paths[index % len(self.real_paths)]))
        return item


DATASETS = {"UnpairedImageDataset": BasicSRUnpairedDataset, "DegradationValDataset": DegradationValDataset}
"""probdeg's datasets by option-file name."""
