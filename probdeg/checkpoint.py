"""Generator checkpoints that rebuild themselves: weights plus the options that made the net.

A checkpoint is a plain dict, loadable with ``torch.load(..., weights_only=True)`` and by BasicSR's
``load_network`` (the weights sit under ``params``)::

    {"params": state_dict, "probdeg": {"version": "0.1.0", "network": {"type": "Probabilistic", "net": {...}, ...}}}
"""

from __future__ import annotations

import copy
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional, Union

import torch
from torch import nn

from . import __version__
from .build import build_network
from .io import atomic_path

PathLike = Union[str, Path]


def save_checkpoint(path: PathLike, net: nn.Module, network_options: Mapping[str, Any],
                    extra: Optional[Mapping[str, Any]] = None, param_key: str = "params") -> None:
    """Write ``net``'s weights with the options that rebuild it, atomically (a crash leaves the old file).

    Args:
        path: the ``.pth`` file.
        net: the network (a DDP / compiled wrapper is unwrapped).
        network_options: ``{type: ..., **kwargs}`` as in the option file.
        extra: more plain values to store under ``probdeg`` (e.g. the training iteration).
        param_key: key of the weights (BasicSR uses ``params`` and ``params_ema``).
    """
    net = getattr(net, "module", net)
    net = getattr(net, "_orig_mod", net)
    state = {key: value.detach().cpu() for key, value in net.state_dict().items()}
    payload = {param_key: state, "probdeg": {"version": __version__, "network": copy.deepcopy(dict(network_options)),
                                             **dict(extra or {})}}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_checkpoint(path: PathLike) -> dict:
    """Load a checkpoint safely (``weights_only=True``) on the CPU.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not a plain checkpoint (an arbitrary pickle is refused, never executed).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise ValueError(f"{path} is not a plain checkpoint (tensors, numbers, strings, dicts); it was refused "
                         f"unread because unpickling it could run code: {str(err).splitlines()[0]}") from err
    except (RuntimeError, EOFError) as err:
        raise ValueError(f"{path} is not a readable PyTorch checkpoint: {err}") from err


def load_generator(path: PathLike, *, device: Union[str, torch.device] = "cpu",
                   param_key: Optional[str] = None) -> nn.Module:
    """Rebuild a saved generator from its checkpoint alone, no option file needed.

    Args:
        path: a checkpoint written by :func:`save_checkpoint` (or by probdeg's BasicSR models).
        device: where to put the net.
        param_key: which weights to take; default ``params_ema`` when present, else ``params``.

    Returns:
        The network in eval mode (a probabilistic one still samples: see :class:`probdeg.Probabilistic`).
    """
    checkpoint = load_checkpoint(path)
    meta = checkpoint.get("probdeg") if isinstance(checkpoint, dict) else None
    if not isinstance(meta, dict) or "network" not in meta:
        raise ValueError(f"{path} holds weights but not the options to rebuild the net (no 'probdeg.network' entry): "
                         "it was not written by probdeg; build the net yourself and load_state_dict it")
    if param_key is None:
        param_key = "params_ema" if "params_ema" in checkpoint else "params"
    if param_key not in checkpoint:
        raise KeyError(f"{path} has no {param_key!r} weights; it has {sorted(k for k in checkpoint if k != 'probdeg')}")
    net = build_network(meta["network"])
    net.load_state_dict(checkpoint[param_key], strict=True)
    return net.to(device).eval()
