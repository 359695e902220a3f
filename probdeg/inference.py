"""Super-resolve images with one SR network or the ensemble mean of several, tiled when memory is short.

The ensemble output is ``clamp(mean_k M_k(x), 0, 1)`` (MSSR's inference, :func:`probdeg.collab.ensemble`), summed
model by model so that only one model's output is held at a time.

Tiles. The LR image is cut into ``tile`` x ``tile`` squares (the last row and column may be smaller); each runs with
``tile_pad`` LR pixels of real image context on every side (less at the image border, where the untiled net sees
zero padding too), and the centre of its output is placed in the SR image. For a convolutional net whose receptive
field radius is at most ``tile_pad``, the tiled output equals the untiled one to float rounding; for deeper nets
(RRDBNet) the far context barely matters and 16 pixels leave no visible seam. Nets with global pooling or attention
see only their tile.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple, Optional, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .synthesis import _plan, _spans

PathLike = Union[str, os.PathLike]

DEFAULT_TILE_PAD = 16
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
        raise ValueError(f"expected one checkpoint or a comma-separated list of them, got {models!r}")
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
            raise ValueError(f"{type(net).__name__} is not an image-to-image network: a {side}x{side} input gave {got}")
        h, w = out.shape[-2:]
        if h != w or h % side or h == 0:
            raise ValueError(f"cannot infer the scale of {type(net).__name__}: a {side}x{side} input gave "
                             f"{h}x{w}, not an integer enlargement (is it an SR network?)")
        return SRNetInfo(h // side, multiple)
    raise ValueError(f"{type(net).__name__} refused every probe input ({'; '.join(tried)})")


def load_ensemble(models: Union[PathLike, Sequence[PathLike]], *,
                  device: Union[str, torch.device] = "cpu") -> tuple[list[nn.Module], SRNetInfo]:
    """Load SR networks from probdeg checkpoints and check that they share one scale.

    Args:
        models: checkpoints (see :func:`parse_model_list`), each rebuilt by :func:`probdeg.checkpoint.load_generator`.
        device: where the nets go.

    Returns:
        The nets in eval mode, and their common scale with the largest input multiple among them.

    Raises:
        FileNotFoundError: a checkpoint does not exist.
        ValueError: an unreadable checkpoint, a net that is not an SR net, or members of different scales.
    """
    from .checkpoint import load_generator

    paths = parse_model_list(models)
    nets, infos = [], []
    for path in paths:
        net = load_generator(path, device=device)
        nets.append(net)
        infos.append(probe_sr_net(net))
    scales = {info.scale for info in infos}
    if len(scales) > 1:
        listed = ", ".join(f"{path} (x{info.scale})" for path, info in zip(paths, infos))
        raise ValueError(f"the ensemble's models must share one scale, got {listed}")
    return nets, SRNetInfo(infos[0].scale, max(info.multiple for info in infos))


def _check_tiles(tile: Optional[int], tile_pad: int) -> None:
    if tile is not None and (isinstance(tile, bool) or not isinstance(tile, int) or tile < 1):
        raise ValueError(f"tile must be a positive number of LR pixels, got {tile!r}")
    if isinstance(tile_pad, bool) or not isinstance(tile_pad, int) or tile_pad < 0:
        raise ValueError(f"tile_pad must be a number of LR pixels >= 0, got {tile_pad!r}")


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
        raise ValueError(f"{type(net).__name__} mapped an input of shape {tuple(x.shape)} to {got}; expected "
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
    tile_pad: int = DEFAULT_TILE_PAD, info: Optional[SRNetInfo] = None,
) -> Tensor:
    """The clamped ensemble mean of ``models`` on ``lr``, tiled when asked.

    Args:
        models: one SR network or several of the same scale, on ``lr``'s device.
        lr: LR images in [0, 1].
        tile: tile side in LR pixels; ``None`` runs the whole image at once.
        tile_pad: LR pixels of context on every side of a tile (at least the nets' receptive-field radius for an
            output equal to the untiled one).
        info: the nets' scale and input multiple (see :func:`load_ensemble`); ``None``: probed here.

    Returns:
        The SR images, clamped to [0, 1].

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
            raise ValueError(f"the ensemble's models must share one scale, got {[i.scale for i in infos]}")
        info = SRNetInfo(infos[0].scale, max(i.multiple for i in infos))
    s = info.scale
    height, width = lr.shape[-2:]
    with torch.inference_mode():
        if tile is None or (height <= tile and width <= tile):
            out = _ensemble_forward(nets, lr, info)
        else:
            out = None
            for y0, y1, py0, py1 in _spans(height, tile, tile_pad):
                for x0, x1, px0, px1 in _spans(width, tile, tile_pad):
                    piece = _ensemble_forward(nets, lr[:, :, py0:py1, px0:px1], info)
                    if out is None:
                        out = piece.new_empty(lr.shape[0], piece.shape[1], height * s, width * s)
                    out[:, :, y0 * s:y1 * s, x0 * s:x1 * s] = piece[
                        :, :, (y0 - py0) * s:(y1 - py0) * s, (x0 - px0) * s:(x1 - px0) * s]
        assert out is not None
        out = out.clamp_(0, 1)
    return out[0] if single else out


def sr_folder(
    models: Union[PathLike, Sequence[PathLike]],
    input_dir: PathLike,
    output_dir: PathLike,
    *,
    tile: Optional[int] = None,
    tile_pad: int = DEFAULT_TILE_PAD,
    device: Union[str, torch.device] = "cpu",
    progress: bool = True,
) -> dict[str, Any]:
    """Super-resolve every LR image of a folder (recursively) with a model or an ensemble, resumably.

    ``OUT/<dir>/<stem>.png`` is written for each input ``IN/<dir>/<stem>.<ext>``, atomically, as 8-bit PNG. Outputs
    that exist are skipped, so a rerun writes nothing new and an interrupted run resumes. An output folder inside
    the input folder is left out of the inputs. Unreadable images are skipped with a warning naming the file and
    counted as failed.

    Args:
        models: checkpoints (``"A.pth,B.pth"`` or a sequence); several are averaged (the ensemble mean).
        input_dir: the LR images.
        output_dir: where the SR images go; must not be, or contain, ``input_dir``.
        tile: tile side in LR pixels, for images too large for memory; ``None``: whole images.
        tile_pad: LR pixels of context around each tile.
        device: where the nets run.
        progress: show a tqdm progress bar.

    Returns:
        A summary: ``images`` (inputs found), ``written`` and ``skipped`` (output files), ``failed`` (inputs that
        could not be read) with ``failures`` (their messages), ``output`` (the folder), ``scale``, ``models`` (how
        many) and ``seconds``.

    Raises:
        FileNotFoundError: a checkpoint or the input folder does not exist.
        ValueError: no images, bad options, members of different scales, or outputs that would collide or land
            outside the output folder.
    """
    from tqdm import tqdm

    from .io import ImageReadError, image_to_tensor, read_image, write_image

    _check_tiles(tile, tile_pad)
    start = time.perf_counter()
    paths = parse_model_list(models)
    input_dir, output_dir = Path(input_dir), Path(output_dir)
    plan = _plan(input_dir, output_dir, 1, what="SR images")
    nets, info = load_ensemble(paths, device=device)
    summary: dict[str, Any] = {"images": len(plan), "written": 0, "skipped": 0, "failed": 0, "failures": [],
                               "output": output_dir, "scale": info.scale, "models": len(nets)}
    with tqdm(total=len(plan), unit="img", desc="sr", disable=not progress, dynamic_ncols=True) as bar:
        for path, _, (target,) in plan:
            if target.exists():
                summary["skipped"] += 1
                bar.update(1)
                continue
            try:
                lr = image_to_tensor(read_image(path))
            except (ImageReadError, OSError) as err:
                summary["failed"] += 1
                summary["failures"].append(str(err))
                warnings.warn(f"skipped {str(path)!r}: {err.reason if isinstance(err, ImageReadError) else err}",
                              stacklevel=2)
                bar.update(1)
                continue
            sr = super_resolve(nets, lr.to(device), tile=tile, tile_pad=tile_pad, info=info)
            write_image(target, sr)
            summary["written"] += 1
            bar.update(1)
    summary["seconds"] = time.perf_counter() - start
    return summary
