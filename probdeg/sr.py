"""Super-resolve LR images with one SR net or the ensemble mean of several: an image, a folder (``probdeg sr``).

Tiles (:mod:`probdeg.tiling`) bound the memory of large images: each LR tile runs with ``tile_pad`` pixels of
context, and a tiled folder run writes the tiles straight into an 8-bit image, so memory does not grow with a float
copy of the output. For a convolutional net whose receptive-field radius is at most ``tile_pad`` the tiled output
equals the untiled one to float rounding; for deeper nets (RRDBNet) the far context barely matters and 16 pixels leave
no visible seam. Nets with global pooling or attention see only their tile.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable, NamedTuple, Optional, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .defaults import TILE_PAD
from .errors import UserError
from .noise_field import Window
from .registry import Resolve
from .tiling import OutputCheck, run_tiled

PathLike = Union[str, os.PathLike]

DEFAULT_TILE_PAD = TILE_PAD
"""LR pixels of context around each tile when none is given."""

_PROBE_MULTIPLES = (1, 2, 4, 8, 16)


class SRNetInfo(NamedTuple):
    """What :func:`probe_sr_net` found out about an SR network.

    Attributes:
        scale: the up-sampling factor.
        multiple: the input height and width must be multiples of it (RRDBNet x2 needs 2, x1 needs 4); inputs are
            padded to one (replicating the last row / column) and the output is cropped back.
    """

    scale: int
    multiple: int


def parse_model_list(models: Union[PathLike, Sequence[PathLike]]) -> list[Path]:
    """Checkpoint paths from ``"A.pth,B.pth"`` (the CLI's form), one path, or a sequence of paths.

    Raises:
        ValueError: no path at all, or an empty item (``"A.pth,,B.pth"``).
    """
    if isinstance(models, (str, os.PathLike)):
        items = str(models).split(",") if isinstance(models, str) else [models]
    else:
        items = list(models)
    if not items or any(not str(item).strip() for item in items):
        raise UserError(f"expected one checkpoint or a comma-separated list of them, got {models!r}")
    return [Path(str(item).strip()) for item in items]


def _model_device(net: nn.Module) -> tuple[torch.device, torch.dtype]:
    param = next(net.parameters(), None)
    if param is None:
        return torch.device("cpu"), torch.float32
    return param.device, param.dtype


def probe_sr_net(net: nn.Module, *, channels: int = 3, size: int = 17) -> SRNetInfo:
    """The scale of an SR network and the multiple its input sizes must have, from runs on tiny inputs.

    A ``size`` x ``size`` input (17: prime, so any size constraint shows) is tried first; if the net refuses it,
    sizes ``16 + m`` for ``m`` in 2, 4, 8, 16 find the smallest multiple ``m`` it accepts.

    Args:
        net: the network, in eval mode, on its device.
        channels: input channels.
        size: side of the first probe.

    Returns:
        The scale and the input multiple.

    Raises:
        ValueError: no probe gave an output that is an integer enlargement of its input.
    """
    device, dtype = _model_device(net)
    tried = []
    for multiple, side in zip(_PROBE_MULTIPLES, [size] + [16 + m for m in _PROBE_MULTIPLES[1:]]):
        x = torch.zeros(1, channels, side, side, device=device, dtype=dtype)
        try:
            with torch.inference_mode():
                out = net(x)
        except (RuntimeError, AssertionError) as err:  # e.g. pixel_unshuffle of an odd size (BasicSR asserts)
            tried.append(f"{side}x{side}: {(str(err) or type(err).__name__).splitlines()[0]}")
            continue
        if not isinstance(out, Tensor) or out.dim() != 4:
            got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
            raise UserError(f"{type(net).__name__} is not an image-to-image network: a {side}x{side} input gave {got}")
        h, w = out.shape[-2:]
        if h != w or h % side or h == 0:
            raise UserError(f"cannot infer the scale of {type(net).__name__}: a {side}x{side} input gave "
                             f"{h}x{w}, not an integer enlargement (is it an SR network?)")
        return SRNetInfo(h // side, multiple)
    raise UserError(f"{type(net).__name__} refused every probe input ({'; '.join(tried)})")


def load_ensemble(models: Union[PathLike, Sequence[PathLike]], *, device: Union[str, torch.device] = "cpu",
                  resolve: Optional[Resolve] = None) -> tuple[list[nn.Module], SRNetInfo]:
    """Load SR networks from probdeg checkpoints and check that they share one scale.

    Args:
        models: checkpoints (see :func:`parse_model_list`), each rebuilt by :func:`probdeg.checkpoint.load_network`.
        device: where the nets go.
        resolve: finds arch types outside probdeg's own (BasicSR's ``RRDBNet``: the glue's ``resolve_arch``).

    Returns:
        The nets in eval mode, and their common scale with the largest input multiple among them.

    Raises:
        FileNotFoundError: a checkpoint does not exist.
        UserError: an unreadable checkpoint, a net that is not an SR net, or members of different scales (each
            checkpoint named with its scale).
    """
    from .checkpoint import load_network

    paths = parse_model_list(models)
    nets, infos = [], []
    for path in paths:
        net = load_network(path, resolve=resolve, device=device)
        nets.append(net)
        try:
            infos.append(probe_sr_net(net))
        except UserError as err:
            raise UserError(f"{path}: {err}") from None
    scales = {info.scale for info in infos}
    if len(scales) > 1:
        listed = ", ".join(f"{path} (x{info.scale})" for path, info in zip(paths, infos))
        raise UserError(f"the ensemble's models must share one scale, got {listed}")
    return nets, SRNetInfo(infos[0].scale, max(info.multiple for info in infos))


def _check_tiles(tile: Optional[int], tile_pad: int) -> None:
    if tile is not None and (isinstance(tile, bool) or not isinstance(tile, int) or tile < 1):
        raise UserError(f"tile must be a positive number of LR pixels, got {tile!r}")
    if isinstance(tile_pad, bool) or not isinstance(tile_pad, int) or tile_pad < 0:
        raise UserError(f"tile_pad must be a number of LR pixels >= 0, got {tile_pad!r}")


def _forward(net: nn.Module, x: Tensor, info: SRNetInfo) -> Tensor:
    h, w = x.shape[-2:]
    m = info.multiple
    pad_h, pad_w = -h % m, -w % m
    if pad_h or pad_w:
        x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
    out = net(x)
    expected = (x.shape[-2] * info.scale, x.shape[-1] * info.scale)
    if not isinstance(out, Tensor) or tuple(out.shape[-2:]) != expected or out.shape[0] != x.shape[0]:
        got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise UserError(f"{type(net).__name__} mapped an input of shape {tuple(x.shape)} to {got}; expected "
                        f"{expected[0]}x{expected[1]} for scale {info.scale}")
    return out[..., : h * info.scale, : w * info.scale]


def _ensemble_forward(nets: Sequence[nn.Module], x: Tensor, info: SRNetInfo) -> Tensor:
    total = _forward(nets[0], x, info)
    if len(nets) == 1:
        return total
    total = total.clone()  # summed in place, one member's output at a time; the first one's may be a view
    for net in nets[1:]:
        total += _forward(net, x, info)
    return total.div_(len(nets))


def super_resolve(
    models: Union[nn.Module, Sequence[nn.Module]], lr: Tensor, *, tile: Optional[int] = None,
    tile_pad: int = DEFAULT_TILE_PAD, info: Optional[SRNetInfo] = None, out_dtype: torch.dtype = torch.float32,
    on_tile: Optional[Callable[[], None]] = None, check: Optional[OutputCheck] = None,
) -> Tensor:
    """The clamped ensemble mean of ``models`` on ``lr``, tiled when asked.

    Args:
        models: one SR network or several of the same scale, on ``lr``'s device.
        lr: LR images in [0, 1].
        tile: tile side in LR pixels; ``None`` runs the whole image at once.
        tile_pad: LR pixels of context on every side of a tile (at least the nets' receptive-field radius for an
            output equal to the untiled one).
        info: the nets' scale and input multiple (see :func:`load_ensemble`); ``None``: probed here.
        out_dtype: ``torch.uint8`` gives the output as an 8-bit image would hold it, tile by tile, on the CPU (no
            float copy of the whole output is ever made); else floats on ``lr``'s device.
        on_tile: called after each tile (progress inside a large image).
        check: counts, per image, the output values that are NaN, infinite or far outside [0, 1] before the clamp
            (see :class:`probdeg.tiling.OutputCheck`).

    Returns:
        The SR images, clamped to [0, 1] (or 0-255 for uint8).

    Shape:
        lr (B, C, H, W) or (C, H, W) -> (B, C_out, H * scale, W * scale) or (C_out, H * scale, W * scale).
    """
    nets = [models] if isinstance(models, nn.Module) else list(models)
    if not nets:
        raise ValueError("super_resolve needs at least one model")
    _check_tiles(tile, tile_pad)
    single = lr.dim() == 3
    if single:
        lr = lr.unsqueeze(0)
    if lr.dim() != 4 or lr.shape[-1] == 0 or lr.shape[-2] == 0:
        raise ValueError(f"expected a (B, C, H, W) batch or a (C, H, W) image, got shape {tuple(lr.shape)}")
    if info is None:
        infos = [probe_sr_net(net, channels=lr.shape[1]) for net in nets]
        if len({i.scale for i in infos}) > 1:
            raise UserError(f"the ensemble's models must share one scale, got {[i.scale for i in infos]}")
        info = SRNetInfo(infos[0].scale, max(i.multiple for i in infos))
    out = None
    if out_dtype == torch.uint8:
        channels = probe_channels(nets[0], lr.shape[1], info)
        out = torch.empty(lr.shape[0], channels, lr.shape[-2] * info.scale, lr.shape[-1] * info.scale,
                          dtype=torch.uint8)

    def forward(piece: Tensor, window: Window) -> Tensor:
        return _ensemble_forward(nets, piece, info)

    with torch.inference_mode():
        result = run_tiled(forward, lr, tile=tile, overlap=tile_pad, up=info.scale, out=out, on_tile=on_tile,
                           check=check)
        if result.dtype != torch.uint8:
            result = result.clamp_(0, 1)
    return result[0] if single else result


def probe_channels(net: nn.Module, channels: int, info: SRNetInfo) -> int:
    """The number of output channels of an SR net (from a tiny run)."""
    device, dtype = _model_device(net)
    with torch.inference_mode():
        return int(net(torch.zeros(1, channels, info.multiple, info.multiple, device=device, dtype=dtype)).shape[1])


def read_lr(path: Path) -> Tensor:
    """An LR image file as a (3, H, W) float tensor."""
    from .io import image_to_tensor, read_image

    return image_to_tensor(read_image(path))


def sr_folder(
    models: Union[PathLike, Sequence[PathLike]],
    input_dir: PathLike,
    output_dir: PathLike,
    *,
    tile: Optional[int] = None,
    tile_pad: int = DEFAULT_TILE_PAD,
    device: Union[str, torch.device] = "cpu",
    progress: bool = True,
    resolve: Optional[Resolve] = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Super-resolve every LR image of a folder (recursively) with a model or an ensemble, resumably.

    ``OUT/<dir>/<stem>.png`` is written for each input ``IN/<dir>/<stem>.<ext>``, atomically, as 8-bit PNG, the
    output quantised tile by tile (memory does not grow with a float copy of it). An output folder inside the input
    folder is left out of the inputs. Unreadable images are skipped with a warning naming the file and counted as
    failed.

    The output folder records what made it (the checkpoints' SHA-256, tiling, probdeg version; see
    :class:`probdeg.folders.FolderJob`): a rerun with the same settings skips the images that exist, so an
    interrupted run resumes; a rerun with other settings is refused, unless ``overwrite``.

    Args:
        models: checkpoints (``"A.pth,B.pth"`` or a sequence); several are averaged (the ensemble mean).
        input_dir: the LR images.
        output_dir: where the SR images go; must not be, or contain, ``input_dir``.
        tile: tile side in LR pixels, for images too large for memory; ``None``: whole images.
        tile_pad: LR pixels of context around each tile.
        device: where the nets run.
        progress: show a progress bar (on a terminal).
        resolve: finds arch types outside probdeg's own (see :func:`load_ensemble`).
        overwrite: replace the outputs of other settings in ``output_dir`` instead of refusing.

    Returns:
        A summary (see :meth:`probdeg.folders.FolderJob.summary`) with ``scale`` and ``models`` (how many).

    Raises:
        FileNotFoundError: a checkpoint or the input folder does not exist.
        UserError: no images, bad options, members of different scales, outputs that would collide, land outside
            the output folder or were made with other settings, or an image too large for memory.
    """
    from .checkpoint import file_digest
    from .folders import FolderJob, plan_outputs
    from .io import write_image_uint8
    from .tiling import count_tiles, memory_hint

    _check_tiles(tile, tile_pad)
    paths = parse_model_list(models)
    plan = plan_outputs(input_dir, output_dir, 1, what="SR images")
    nets, info = load_ensemble(paths, device=device, resolve=resolve)
    settings = {"models_sha256": [file_digest(p) for p in paths], "tile": tile, "tile_pad": tile_pad if tile else None}
    model_names = ("the model " if len(paths) == 1 else "the models ") + ", ".join(repr(str(p)) for p in paths)
    with FolderJob(plan, output_dir, command="sr", settings=settings, overwrite=overwrite, progress=progress) as job:
        for item, missing in job.pending():
            lr = job.read(item, read_lr)
            if lr is None:
                continue
            height, width = lr.shape[-2:]
            check = OutputCheck()
            with memory_hint(f"{str(item.path)!r} ({width}x{height} LR pixels)", tile):
                sr = super_resolve(nets, lr.to(device), tile=tile, tile_pad=tile_pad, info=info,
                                   out_dtype=torch.uint8, on_tile=job.tiles(count_tiles(height, width, tile)),
                                   check=check)
            problem = check.problems()[0]
            if problem is not None:
                job.fail(item.path, f"{model_names} gave {problem} (overflowing weights?); nothing written for it")
            else:
                write_image_uint8(missing[0][1], sr)
                job.wrote(1)
            job.advance()
    return job.summary(scale=info.scale, models=len(nets))
