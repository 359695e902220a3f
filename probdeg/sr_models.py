"""Load an SR net from any checkpoint: probdeg's own, or one that spandrel recognises (Real-ESRGAN, BasicSR, ...).

probdeg's checkpoints carry the options that rebuild their net (:mod:`probdeg.checkpoint`). Any other ``.pth`` /
``.ckpt`` / ``.pt`` / ``.safetensors`` file is read safely (``weights_only``, never unpickled code) and handed to
spandrel, the loader chaiNNer and ComfyUI use, which recognises the arch from the weights' names and shapes:
Real-ESRGAN's ``RRDBNet`` and ``SRVGGNetCompact`` (``{'params_ema': ...}`` or ``{'params': ...}``), ESRGAN's old
layout, SwinIR, HAT and the others it lists.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple, Optional, Union

import torch
from torch import nn

from .checkpoint import load_checkpoint, load_network
from .errors import UserError
from .registry import Resolve

PathLike = Union[str, os.PathLike]

SPANDREL_HINT = "pip install spandrel"
"""What to install for checkpoints that probdeg did not write."""


class LoadedSRNet(NamedTuple):
    """An SR net ready to run, with where it came from.

    Attributes:
        net: the network, in eval mode, on its device.
        source: ``"probdeg"`` or ``"spandrel:<arch>"`` (e.g. ``spandrel:ESRGAN``).
        supports_half: whether it runs in float16 without known trouble (spandrel's verdict; probdeg's nets: yes).
    """

    net: nn.Module
    source: str
    supports_half: bool


class SpandrelNet(nn.Module):
    """A net spandrel loaded, called as spandrel calls it, without spandrel's padding: probdeg pads to the smallest
    input multiple the net accepts (see :func:`probdeg.sr.probe_sr_net`), where spandrel pads (reflecting) to a
    multiple that holds for every net of the arch (4 for an x2 RRDBNet, which needs 2). On inputs neither pads, the
    output is spandrel's.

    Args:
        descriptor: spandrel's ``ImageModelDescriptor``; its net becomes this module's ``net``, so ``.to()`` and
            ``.half()`` reach it.

    Shape:
        (B, 3, H, W) -> (B, 3, H * scale, W * scale).
    """

    def __init__(self, descriptor: Any) -> None:
        super().__init__()
        self.net = descriptor.model
        self._call = getattr(descriptor, "_call_fn", None) or (lambda model, image: model(image))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._call(self.net, x)


def is_probdeg_checkpoint(checkpoint: Any) -> bool:
    """Whether a loaded checkpoint holds probdeg's record of its net (``probdeg.network``)."""
    meta = checkpoint.get("probdeg") if isinstance(checkpoint, Mapping) else None
    return isinstance(meta, Mapping) and "network" in meta


def _read_weights(path: Path) -> Any:
    if path.suffix.lower() == ".safetensors":
        from safetensors.torch import load_file

        if not path.is_file():
            raise FileNotFoundError(f"checkpoint not found: {path}")
        try:
            return load_file(str(path), device="cpu")
        except Exception as err:  # safetensors raises its own error types
            raise UserError(f"{path} is not a readable safetensors file: {err}") from None
    return load_checkpoint(path)


def _spandrel_net(path: Path, checkpoint: Any) -> LoadedSRNet:
    try:
        import spandrel
    except ImportError:
        raise UserError(f"{path} was not written by probdeg; loading other SR checkpoints needs spandrel: "
                        f"{SPANDREL_HINT}") from None
    if not isinstance(checkpoint, Mapping):
        raise UserError(f"{path} holds a {type(checkpoint).__name__}, not a dict of weights")
    state = spandrel.canonicalize_state_dict(dict(checkpoint))
    try:
        model = spandrel.ModelLoader().load_from_state_dict(state)
    except spandrel.UnsupportedModelError:
        raise UserError(f"{path}: neither probdeg's checkpoint nor an arch spandrel knows (it lists ESRGAN / "
                        "Real-ESRGAN's RRDBNet, SRVGGNetCompact, SwinIR, HAT, ...)") from None
    except (RuntimeError, KeyError, ValueError, AssertionError) as err:
        raise UserError(f"{path}: spandrel could not build its net: {' '.join(str(err).split())[:300]}") from None
    if not isinstance(model, spandrel.ImageModelDescriptor) or model.purpose not in ("SR", "Restoration"):
        raise UserError(f"{path} holds a {model.architecture.name} net for {model.purpose}, not an SR net")
    if model.input_channels != 3 or model.output_channels != 3:
        raise UserError(f"{path}: its {model.architecture.name} net maps {model.input_channels} to "
                        f"{model.output_channels} channels; probdeg sr runs RGB to RGB nets")
    return LoadedSRNet(SpandrelNet(model).eval(), f"spandrel:{model.architecture.name}", bool(model.supports_half))


def load_sr_net(path: PathLike, *, device: Union[str, torch.device] = "cpu",
                resolve: Optional[Resolve] = None) -> LoadedSRNet:
    """Load one SR checkpoint, probdeg's own or any that spandrel recognises.

    Args:
        path: the checkpoint (``.pth``, ``.ckpt``, ``.pt`` or ``.safetensors``).
        device: where the net goes.
        resolve: finds arch types outside probdeg's own in probdeg's checkpoints (see
            :func:`probdeg.checkpoint.load_network`).

    Returns:
        The net in eval mode on ``device``, with its source.

    Raises:
        FileNotFoundError: no such file.
        UserError: unreadable, an arch neither probdeg nor spandrel knows, not an RGB SR net, or spandrel missing.
    """
    path = Path(path)
    checkpoint = _read_weights(path)
    if is_probdeg_checkpoint(checkpoint):
        return LoadedSRNet(load_network(path, resolve=resolve, device=device), "probdeg", True)
    loaded = _spandrel_net(path, checkpoint)
    bad = [name for name, value in loaded.net.state_dict().items() if value.is_floating_point()
           and not torch.isfinite(value).all()]
    if bad:
        raise UserError(f"{path}: {len(bad)} weight tensor(s) hold NaN or Inf ({', '.join(bad[:3])})")
    return loaded._replace(net=loaded.net.to(device))
