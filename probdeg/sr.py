"""Super-resolve LR images with one SR net or the ensemble mean of several: an image, a folder (``probdeg sr``).

Tiles (:mod:`probdeg.tiling`) bound the memory of large images: each LR tile runs with ``tile_pad`` pixels of
context, and a tiled folder run writes the tiles straight into an 8-bit image, so memory does not grow with a float
copy of the output. For a convolutional net whose receptive-field radius is at most ``tile_pad`` the tiled output
equals the untiled one to float rounding; for deeper nets (RRDBNet) the far context barely matters and 16 pixels leave
no visible seam. Nets with global pooling or attention see only their tile.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable, NamedTuple, Optional, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .checkpoint import file_digest
from .checks import is_count
from .defaults import TILE_PAD
from .errors import UserError
from .folders import FolderJob, listing, plan_outputs
from .io import (
    WRITE_FORMATS,
    FormatCapacity,
    StoredImage,
    image_to_tensor,
    read_image,
    read_stored_image,
    write_image_array,
)
from .noise_field import Window
from .registry import Resolve
from .sr_models import load_sr_net
from .tiling import INTEGER_RANGES, OutputCheck, count_tiles, memory_hint, run_tiled

PathLike = Union[str, os.PathLike]

DEFAULT_TILE_PAD = TILE_PAD
"""LR pixels of context around each tile when none is given."""

_PROBE_MULTIPLES = (1, 2, 4, 8, 16)


class SRNetInfo(NamedTuple):
    """What :func:`probe_sr_net` found out about an SR network.

    Attributes:
        scale: the up-sampling factor.
        multiple: the input height and width must be multiples of it (RRDBNet x2 needs 2, x1 needs 4); inputs are
            padded to one (reflecting, as Real-ESRGAN and spandrel pad) and the output is cropped back.
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
                  resolve: Optional[Resolve] = None, half: bool = False) -> tuple[list[nn.Module], SRNetInfo]:
    """Load SR networks from probdeg's checkpoints or any spandrel loads, and check that they share one scale.

    Args:
        models: checkpoints (see :func:`parse_model_list`), each loaded by :func:`probdeg.sr_models.load_sr_net`.
        device: where the nets go.
        resolve: finds arch types outside probdeg's own (BasicSR's ``RRDBNet``: the glue's ``resolve_arch``).
        half: run the nets in float16 (CUDA only: refused on the CPU, and for archs spandrel marks unfit for it).

    Returns:
        The nets in eval mode, and their common scale with the largest input multiple among them.

    Raises:
        FileNotFoundError: a checkpoint does not exist.
        UserError: an unreadable checkpoint, a net that is not an SR net, members of different scales (each
            checkpoint named with its scale), or half precision asked for on the CPU.
    """
    paths = parse_model_list(models)
    if half and torch.device(device).type != "cuda":
        raise UserError(f"half precision runs on CUDA only; on {device} leave --half out")
    nets, infos = [], []
    for path in paths:
        loaded = load_sr_net(path, resolve=resolve, device=device)
        if half and not loaded.supports_half:
            raise UserError(f"{path}: spandrel marks its {loaded.source.partition(':')[2]} net as unfit for half "
                            "precision; leave --half out")
        net = loaded.net.half() if half else loaded.net
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
    if tile is not None and not is_count(tile):
        raise UserError(f"tile must be a positive number of LR pixels, got {tile!r}")
    if not is_count(tile_pad, 0):
        raise UserError(f"tile_pad must be a number of LR pixels >= 0, got {tile_pad!r}")


def pad_to_multiple(x: Tensor, multiple: int) -> Tensor:
    """Pad the bottom and right of ``x`` to a multiple of ``multiple``, reflecting as Real-ESRGAN and spandrel do
    (replicating an image too small to reflect).

    Shape:
        (..., H, W) -> (..., ceil(H / m) * m, ceil(W / m) * m).
    """
    h, w = x.shape[-2], x.shape[-1]
    pad_h, pad_w = (multiple - h % multiple) % multiple, (multiple - w % multiple) % multiple
    if multiple == 1 or not (pad_h or pad_w):
        return x
    return F.pad(x, (0, pad_w, 0, pad_h), mode="reflect" if pad_h < h and pad_w < w else "replicate")


def _forward(net: nn.Module, x: Tensor, info: SRNetInfo) -> Tensor:
    h, w = x.shape[-2:]
    x = pad_to_multiple(x, info.multiple)
    dtype = _model_device(net)[1]
    out = net(x.to(dtype)) if dtype != x.dtype else net(x)
    expected = (x.shape[-2] * info.scale, x.shape[-1] * info.scale)
    if not isinstance(out, Tensor) or tuple(out.shape[-2:]) != expected or out.shape[0] != x.shape[0]:
        got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise UserError(f"{type(net).__name__} mapped an input of shape {tuple(x.shape)} to {got}; expected "
                        f"{expected[0]}x{expected[1]} for scale {info.scale}")
    return out[..., : h * info.scale, : w * info.scale].float()


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
        out_dtype: ``torch.uint8`` (``torch.uint16``) gives the output as an 8-bit (16-bit) image would hold it, tile
            by tile, on the CPU (no float copy of the whole output is ever made); else floats on ``lr``'s device.
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
    if out_dtype in INTEGER_RANGES:
        channels = probe_channels(nets[0], lr.shape[1], info)
        out = torch.empty(lr.shape[0], channels, lr.shape[-2] * info.scale, lr.shape[-1] * info.scale,
                          dtype=out_dtype)

    def forward(piece: Tensor, window: Window) -> Tensor:
        return _ensemble_forward(nets, piece, info)

    with torch.inference_mode():
        result = run_tiled(forward, lr, tile=tile, overlap=tile_pad, up=info.scale, out=out, on_tile=on_tile,
                           check=check)
        if result.dtype not in INTEGER_RANGES:
            result = result.clamp_(0, 1)
    return result[0] if single else result


def probe_channels(net: nn.Module, channels: int, info: SRNetInfo) -> int:
    """The number of output channels of an SR net (from a tiny run)."""
    device, dtype = _model_device(net)
    side = info.multiple * -(-8 // info.multiple)  # at least 8: nets that reflect-pad refuse a 1 x 1 input
    with torch.inference_mode():
        return int(net(torch.zeros(1, channels, side, side, device=device, dtype=dtype)).shape[1])


def read_lr(path: Path) -> Tensor:
    """An LR image file as a (3, H, W) float tensor."""
    return image_to_tensor(read_image(path))


OUTPUT_EXTENSIONS = ("auto",) + tuple(ext.lstrip(".") for ext in WRITE_FORMATS)
"""``--ext`` choices: ``auto`` keeps each input's extension."""


def _check_output_options(outscale: Optional[float], suffix: str, ext: str) -> str:
    """The output extension with its dot (or ``auto``), after checking ``outscale``, ``suffix`` and ``ext``."""
    if outscale is not None and (isinstance(outscale, bool) or not isinstance(outscale, (int, float))
                                 or not 0 < outscale <= 64):
        raise UserError(f"outscale must be a number in (0, 64], got {outscale!r}")
    if any(sep in suffix for sep in ("/", "\\")) or suffix in (".", ".."):
        raise UserError(f"suffix must be a plain name part (no folder separators), got {suffix!r}")
    ext = ext.lower().lstrip(".")
    if ext not in OUTPUT_EXTENSIONS:
        raise UserError(f"ext must be one of {', '.join(OUTPUT_EXTENSIONS)}, got {ext!r}")
    return ext if ext == "auto" else f".{ext}"


def _as_pixels(sr: Tensor) -> np.ndarray:
    return sr.permute(1, 2, 0).numpy()


def _to_gray(pixels: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)[:, :, None]


def upscale_stored(
    nets: Sequence[nn.Module], image: StoredImage, info: SRNetInfo, capacity: FormatCapacity, *,
    device: Union[str, torch.device] = "cpu", tile: Optional[int] = None, tile_pad: int = DEFAULT_TILE_PAD,
    outscale: Optional[float] = None, on_tile: Optional[Callable[[], None]] = None,
    check: Optional[OutputCheck] = None,
) -> tuple[np.ndarray, list[str]]:
    """Super-resolve a stored image keeping its layout where the output format can hold it, as Real-ESRGAN does.

    The colour runs through the nets (a gray image as RGB, turned back to gray after); the alpha runs through them
    too, as a gray image; 16-bit images come out 16-bit. ``outscale`` other than the nets' scale resizes the output
    (Lanczos, as Real-ESRGAN's ``--outscale``).

    Args:
        nets: the SR nets (their mean is the output).
        image: the LR image as read by :func:`probdeg.io.read_stored_image`.
        info: the nets' scale and input multiple.
        capacity: what the output format holds; a layout it cannot hold is dropped and named in the result.
        device, tile, tile_pad, on_tile, check: as :func:`super_resolve` (``check`` sees the colour and the alpha).
        outscale: the final enlargement; ``None``: the nets' scale.

    Returns:
        The pixels (uint8 or uint16; 1, 3 or 4 channels, RGB(A)) and what was dropped (``["alpha"]``, ...).

    Shape:
        image.rgb (H, W, 3) -> (round(H * outscale), round(W * outscale), C).
    """
    import cv2

    dropped = []
    if image.bits == 16 and not capacity.sixteen_bits:
        dropped.append("16-bit depth")
    dtype = torch.uint16 if image.bits == 16 and capacity.sixteen_bits else torch.uint8

    def run(rgb: np.ndarray, tiles: Optional[Callable[[], None]]) -> np.ndarray:
        return _as_pixels(super_resolve(nets, image_to_tensor(rgb).to(device), tile=tile, tile_pad=tile_pad,
                                        info=info, out_dtype=dtype, on_tile=tiles, check=check))

    pixels = run(image.rgb, on_tile)
    if image.gray:
        pixels = _to_gray(pixels)
    if image.alpha is not None and not capacity.alpha:
        dropped.append("alpha")
    elif image.alpha is not None:
        alpha = _to_gray(run(np.repeat(image.alpha[:, :, None], 3, axis=2), None))
        colour = np.repeat(pixels, 3, axis=2) if pixels.shape[2] == 1 else pixels  # no 2-channel gray + alpha file
        pixels = np.concatenate([colour, alpha], axis=2)
    if outscale is not None and outscale != info.scale:
        height, width = image.rgb.shape[:2]
        size = (max(1, int(round(width * outscale))), max(1, int(round(height * outscale))))
        pixels = cv2.resize(pixels, size, interpolation=cv2.INTER_LANCZOS4).reshape(size[1], size[0], -1)
    return np.ascontiguousarray(pixels), dropped


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
    outscale: Optional[float] = None,
    suffix: str = "",
    ext: str = "png",
    half: bool = False,
) -> dict[str, Any]:
    """Super-resolve one LR image, or every LR image of a folder (recursively), with a model or an ensemble, resumably.

    ``OUT/<dir>/<stem><suffix>.<ext>`` is written for each input ``IN/<dir>/<stem>.<ext>``, atomically, the output
    quantised tile by tile (memory does not grow with a float copy of it). Alpha is upscaled, 16-bit and gray inputs
    stay 16-bit and gray where the output format holds them (PNG and TIFF hold all; what another drops is named in
    one warning). An output folder inside the input folder is left out of the inputs. Unreadable images are skipped
    with a warning naming the file and counted as failed.

    The output folder records what made it (the checkpoints' SHA-256, tiling, probdeg version; see
    :class:`probdeg.folders.FolderJob`): a rerun with the same settings skips the images that exist, so an
    interrupted run resumes; a rerun with other settings is refused, unless ``overwrite``.

    Args:
        models: checkpoints (``"A.pth,B.pth"`` or a sequence), probdeg's or any spandrel loads (Real-ESRGAN's,
            BasicSR's); several are averaged (the ensemble mean).
        input_dir: the LR images: a folder, or one image file.
        output_dir: where the SR images go; must not be, or contain, ``input_dir``.
        tile: tile side in LR pixels, for images too large for memory; ``None``: whole images.
        tile_pad: LR pixels of context around each tile.
        device: where the nets run.
        progress: show a progress bar (on a terminal).
        resolve: finds arch types outside probdeg's own (see :func:`load_ensemble`).
        overwrite: replace the outputs of other settings in ``output_dir`` instead of refusing.
        outscale: the final enlargement (the output is resized from the nets' scale); ``None``: the nets' scale.
        suffix: added to each output's stem (Real-ESRGAN's ``--suffix``; default none).
        ext: the output format, one of :data:`OUTPUT_EXTENSIONS` (``auto``: the input's).
        half: run the nets in float16 (CUDA only).

    Returns:
        A summary (see :meth:`probdeg.folders.FolderJob.summary`) with ``scale`` and ``models`` (how many).

    Raises:
        FileNotFoundError: a checkpoint or the input does not exist.
        UserError: no images, bad options, members of different scales, outputs that would collide, land outside
            the output folder or were made with other settings, or an image too large for memory.
    """
    _check_tiles(tile, tile_pad)
    extension = _check_output_options(outscale, suffix, ext)
    paths = parse_model_list(models)
    plan = plan_outputs(input_dir, output_dir, 1, what="SR images", suffix=suffix, ext=extension)
    nets, info = load_ensemble(paths, device=device, resolve=resolve, half=half)
    settings = {"models_sha256": [file_digest(p) for p in paths], "tile": tile, "tile_pad": tile_pad if tile else None}
    chosen = {"outscale": outscale, "suffix": suffix or None, "ext": None if extension == ".png" else extension,
              "half": half or None}
    settings.update({key: value for key, value in chosen.items() if value is not None})  # old manifests still match
    dropped: dict[str, list[str]] = {}
    model_names = ("the model " if len(paths) == 1 else "the models ") + ", ".join(repr(str(p)) for p in paths)
    with FolderJob(plan, output_dir, command="sr", settings=settings, overwrite=overwrite, progress=progress) as job:
        for item, missing in job.pending():
            image = job.read(item, read_stored_image)
            if image is None:
                continue
            height, width = image.rgb.shape[:2]
            target = missing[0][1]
            check = OutputCheck()
            with memory_hint(f"{str(item.path)!r} ({width}x{height} LR pixels)", tile):
                pixels, lost = upscale_stored(nets, image, info, WRITE_FORMATS[target.suffix.lower()],
                                              device=device, tile=tile, tile_pad=tile_pad, outscale=outscale,
                                              on_tile=job.tiles(count_tiles(height, width, tile)), check=check)
            problem = check.problems()[0]
            if problem is not None:
                job.fail(item.path, f"{model_names} gave {problem} (overflowing weights?); nothing written for it")
                job.advance()
                continue
            with memory_hint(f"writing {str(target)!r} ({pixels.shape[1]}x{pixels.shape[0]} pixels)", tile,
                             advice="the encoder ran out of the memory left: free some, or write a smaller image "
                                    "(--outscale below the nets' scale); tiles do not help here"):
                write_image_array(target, pixels)
            for what in lost:
                dropped.setdefault(what, []).append(str(item.path))
            job.wrote(1)
            job.advance()
    for what, files in dropped.items():
        warnings.warn(f"{what} dropped in {len(files)} image(s), which their output format cannot hold "
                      f"({listing(files)}): --ext png keeps it", stacklevel=2)
    return job.summary(scale=info.scale, models=len(nets))
