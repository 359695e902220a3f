"""Checkpoints that rebuild their net: weights plus the options that made it (generators and SR nets alike).

A checkpoint is a plain dict, loadable with ``torch.load(..., weights_only=True)`` and by BasicSR's
``load_network`` (the weights sit under ``params``)::

    {"params": state_dict, "probdeg": {"version": "0.1.0", "network": {"type": "Probabilistic", "net": {...}, ...}}}
"""

from __future__ import annotations

import copy
import io
import pickle
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional, Union

import torch
from torch import nn

from . import __version__
from .errors import UserError
from .io import atomic_path, file_digest  # noqa: F401 - file_digest re-exported (its old home)
from .registry import Resolve, build_network

PathLike = Union[str, Path]


def save_checkpoint(path: PathLike, net: nn.Module, network_options: Mapping[str, Any],
                    extra: Optional[Mapping[str, Any]] = None, param_key: str = "params",
                    ema: Optional[nn.Module] = None) -> None:
    """Write ``net``'s weights with the options that rebuild it, atomically (a crash leaves the old file).

    Args:
        path: the ``.pth`` file.
        net: the network (a DDP / compiled wrapper is unwrapped).
        network_options: ``{type: ..., **kwargs}`` as in the option file.
        extra: more plain values to store under ``probdeg`` (e.g. the training iteration).
        param_key: key of the weights (BasicSR uses ``params`` and ``params_ema``).
        ema: an averaged copy of ``net``, stored beside it under ``params_ema`` (as BasicSR's SR models do), which
            :func:`load_network` then prefers.
    """
    payload = {param_key: _weights(net),
               "probdeg": {"version": __version__, "network": copy.deepcopy(dict(network_options)),
                           **dict(extra or {})}}
    if ema is not None:
        payload["params_ema"] = _weights(ema)
    save_torch(payload, path)


def save_torch(payload: Any, path: PathLike) -> None:
    """``torch.save`` into ``path``, atomically. The payload is serialised in memory and written as a plain file, so a
    full disk is an error naming ``path`` (:class:`probdeg.errors.DiskFullError`) with the old file kept, not
    torch's ``unexpected pos`` from inside its zip writer.
    """
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getbuffer())


def _weights(net: nn.Module) -> dict:
    net = getattr(net, "module", net)
    net = getattr(net, "_orig_mod", net)
    return {key: value.detach().cpu() for key, value in net.state_dict().items()}


def load_checkpoint(path: PathLike) -> dict:
    """Load a checkpoint safely (``weights_only=True``) on the CPU.

    Raises:
        FileNotFoundError: no such file.
        UserError: the file is not a plain checkpoint (an arbitrary pickle is refused, never executed), is empty,
            truncated or not a PyTorch file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if path.stat().st_size == 0:
        raise UserError(f"checkpoint {path} is empty (0 bytes)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise UserError(f"{path} is not a plain checkpoint (tensors, numbers, strings, dicts); it was refused "
                        f"unread because unpickling it could run code: {_first_line(err)}") from err
    except (RuntimeError, EOFError, ValueError, OSError, struct.error) as err:
        raise UserError(f"{path} is not a readable PyTorch checkpoint (truncated or another format?): "
                        f"{_first_line(err)}") from err


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def load_network(path: PathLike, *, resolve: Optional[Resolve] = None, device: Union[str, torch.device] = "cpu",
                 param_key: Optional[str] = None) -> nn.Module:
    """Rebuild a saved net (a degradation generator or an SR net) from its checkpoint alone, no option file needed.

    Args:
        path: a checkpoint written by :func:`save_checkpoint` (or by probdeg's BasicSR models).
        resolve: finds arch types outside probdeg's own (see :func:`probdeg.registry.build_network`); the BasicSR
            glue's ``resolve_arch`` finds BasicSR's (``RRDBNet``, ``SRVGGNetCompact``).
        device: where to put the net.
        param_key: which weights to take; default ``params_ema`` when present, else ``params``.

    Returns:
        The network in eval mode (a probabilistic one still samples: see :class:`probdeg.Probabilistic`).

    Raises:
        FileNotFoundError: no such file.
        UserError: an unreadable checkpoint, one not written by probdeg, weights that do not fit the net they
            describe, or weights that hold NaN / Inf.
    """
    checkpoint = load_checkpoint(path)
    meta = checkpoint.get("probdeg") if isinstance(checkpoint, dict) else None
    if not isinstance(meta, dict) or "network" not in meta:
        raise UserError(f"{path} holds weights but not the options to rebuild the net (no 'probdeg.network' entry): "
                        "it was not written by probdeg; build the net yourself and load_state_dict it")
    if param_key is None:
        param_key = "params_ema" if "params_ema" in checkpoint else "params"
    weights = checkpoint.get(param_key)
    if not isinstance(weights, Mapping):
        kept = sorted(str(k) for k in checkpoint if k != "probdeg")
        raise UserError(f"{path} has no {param_key!r} weights; it has {', '.join(kept) or 'no weights at all'}")
    try:
        net = build_network(meta["network"], resolve=resolve)
    except UserError as err:
        raise type(err)(f"{path}: {err}") from err
    try:
        net.load_state_dict(weights, strict=True)
    except RuntimeError as err:
        raise UserError(f"{path}: its weights do not fit the {meta['network'].get('type')} net it describes "
                        f"(edited or mixed checkpoint?): {' '.join(str(err).split())[:300]}") from err
    bad = [name for name, value in weights.items() if torch.is_tensor(value) and value.is_floating_point()
           and not torch.isfinite(value).all()]
    if bad:
        raise UserError(f"{path}: {len(bad)} weight tensor(s) hold NaN or Inf ({', '.join(bad[:3])}): the training "
                        "that wrote it diverged; use an earlier checkpoint")
    return net.to(device).eval()
