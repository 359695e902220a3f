"""Export an SR model or ensemble for use outside probdeg: a Real-ESRGAN-format ``.pth``, or one ONNX graph.

* ``.pth``: ``{'params_ema': state_dict}``, the layout of Real-ESRGAN's released models, which spandrel (chaiNNer,
  ComfyUI) and Real-ESRGAN's ``inference_realesrgan.py`` load. spandrel recognises one arch per file, so an ensemble
  cannot be one ``.pth``: pick one member (``member``), or export ONNX. The file is loaded back with spandrel and
  run before it is kept: an arch spandrel does not know is refused rather than written.
* ``.onnx``: the ensemble mean as one graph, padding to the nets' input multiple, clamp to [0, 1] and crop inside,
  with dynamic batch, height and width: ``sr = session.run(None, {"lr": lr})[0]`` for ``lr`` of shape (B, 3, H, W)
  in [0, 1] gives what ``probdeg sr`` computes, to float rounding. It is checked with onnxruntime when installed.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple, Optional, Union

import torch
from torch import Tensor, nn

from .errors import UserError
from .io import atomic_path
from .registry import Resolve
from .sr import SRNetInfo, load_ensemble, pad_to_multiple, parse_model_list, super_resolve
from .sr_models import SpandrelNet, load_sr_net

PathLike = Union[str, os.PathLike]

ONNX_OPSET = 17
CHECK_SIZE = (23, 17)
"""The LR size an export is checked on: odd, so the padding to the input multiple is exercised."""


class ExportResult(NamedTuple):
    """What :func:`export_model` wrote.

    Attributes:
        path: the file.
        scale: the model's scale.
        members: how many nets it holds (the ensemble mean in ONNX; 1 in a ``.pth``).
        max_difference: the largest absolute difference between the exported model and ``probdeg sr``'s forward on a
            random check input (pixel values in [0, 1]); ``None`` when no checker was installed (onnxruntime).
    """

    path: Path
    scale: int
    members: int
    max_difference: Optional[float]


class EnsembleMean(nn.Module):
    """The clamped mean of SR nets, padding to their input multiple and cropping back: ``probdeg sr`` as one module.

    Args:
        nets: SR nets of one scale.
        info: their scale and input multiple.

    Shape:
        (B, 3, H, W) -> (B, 3, H * scale, W * scale).
    """

    def __init__(self, nets: Sequence[nn.Module], info: SRNetInfo) -> None:
        super().__init__()
        self.nets = nn.ModuleList(nets)
        self.scale = info.scale
        self.multiple = info.multiple

    def forward(self, lr: Tensor) -> Tensor:
        h, w = lr.shape[-2], lr.shape[-1]
        x = pad_to_multiple(lr, self.multiple)
        total = self.nets[0](x)
        for net in self.nets[1:]:
            total = total + net(x)
        out = (total / len(self.nets)).clamp(0, 1)
        return out[..., : h * self.scale, : w * self.scale]


def _bare(net: nn.Module) -> nn.Module:
    """The net whose weights a ``.pth`` holds: spandrel's own module for a net spandrel loaded."""
    return net.net if isinstance(net, SpandrelNet) else net


def _check_input(seed: int = 0) -> Tensor:
    return torch.rand(1, 3, *CHECK_SIZE, generator=torch.Generator().manual_seed(seed))


def export_pth(nets: Sequence[nn.Module], info: SRNetInfo, out: PathLike, *, member: Optional[int] = None,
               ) -> ExportResult:
    """Write one net as ``{'params_ema': state_dict}`` and check that spandrel loads it with the same output.

    Args:
        nets: the loaded nets (see :func:`probdeg.sr.load_ensemble`).
        info: their scale and input multiple.
        out: the ``.pth`` file.
        member: which net of an ensemble (0-based); required when there are several.

    Raises:
        UserError: an ensemble without ``member``, a member out of range, or a net spandrel cannot load back.
    """
    if member is None and len(nets) > 1:
        raise UserError(f"a .pth holds one net (spandrel loads one arch per file) and this is an ensemble of "
                        f"{len(nets)}: pass --member 0..{len(nets) - 1} for one of them, or --format onnx for the "
                        "ensemble mean in one graph")
    index = member or 0
    if not 0 <= index < len(nets):
        raise UserError(f"--member must be in 0..{len(nets) - 1}, got {member}")
    net = nets[index]
    out = Path(out)
    with atomic_path(out) as tmp:
        torch.save({"params_ema": {k: v.detach().cpu() for k, v in _bare(net).state_dict().items()}}, tmp)
        try:
            reloaded = load_sr_net(tmp)
        except UserError as err:
            raise UserError(f"not written: spandrel does not load the {type(_bare(net)).__name__} net back "
                            f"({err}); --format onnx exports any net") from None
        difference = _max_difference(reloaded.net, net, info)
    return ExportResult(out, info.scale, 1, difference)


def _max_difference(exported: nn.Module, source: nn.Module, info: SRNetInfo) -> float:
    lr = _check_input()
    return float((super_resolve(exported, lr) - super_resolve(source, lr, info=info)).abs().max())


def export_onnx(nets: Sequence[nn.Module], info: SRNetInfo, out: PathLike, *, opset: int = ONNX_OPSET,
                ) -> ExportResult:
    """Write the ensemble mean (or the one net) as one ONNX graph with dynamic batch, height and width.

    Args:
        nets: the loaded nets (see :func:`probdeg.sr.load_ensemble`).
        info: their scale and input multiple.
        out: the ``.onnx`` file.
        opset: the ONNX operator set.

    Returns:
        The result; ``max_difference`` from onnxruntime against PyTorch when onnxruntime is installed.

    Raises:
        UserError: PyTorch's exporter could not trace the nets (its reason in one line).
    """
    model = EnsembleMean(list(nets), info).eval()
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # torch 2.9+ calls the TorchScript exporter legacy; it needs no onnxscript and handles these convolutional nets
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        try:
            torch.onnx.export(model, (_check_input(),), buffer, dynamo=False, opset_version=opset,
                              input_names=["lr"], output_names=["sr"],
                              dynamic_axes={"lr": {0: "batch", 2: "height", 3: "width"},
                                            "sr": {0: "batch", 2: "out_height", 3: "out_width"}})
        except (RuntimeError, torch.onnx.errors.OnnxExporterError) as err:
            raise UserError(f"PyTorch could not export the net to ONNX: {' '.join(str(err).split())[:300]}") from None
    out = Path(out)
    with atomic_path(out) as tmp:
        tmp.write_bytes(buffer.getvalue())
    return ExportResult(out, info.scale, len(nets), onnx_difference(out, model))


def onnx_difference(path: PathLike, model: nn.Module, seed: int = 1) -> Optional[float]:
    """The largest absolute difference between an ONNX file run by onnxruntime and ``model`` on a random input of
    :data:`CHECK_SIZE` (another size than the export's); ``None`` without onnxruntime."""
    try:
        import onnxruntime
    except ImportError:
        return None
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    lr = torch.rand(2, 3, CHECK_SIZE[1] + 2, CHECK_SIZE[0] - 4, generator=torch.Generator().manual_seed(seed))
    with torch.inference_mode():
        expected = model(lr).numpy()
    got = session.run(None, {"lr": lr.numpy()})[0]
    if got.shape != expected.shape:
        raise UserError(f"the ONNX graph gave shape {got.shape} where PyTorch gives {expected.shape}")
    return float(abs(got - expected).max())


def export_model(models: Union[PathLike, Sequence[PathLike]], out: PathLike, *, fmt: Optional[str] = None,
                 member: Optional[int] = None, resolve: Optional[Resolve] = None) -> ExportResult:
    """Export checkpoints (probdeg's, or any spandrel loads) as a ``.pth`` or one ONNX graph.

    Args:
        models: one checkpoint or an ensemble (``"A.pth,B.pth"`` or a sequence).
        out: the file to write.
        fmt: ``"pth"`` or ``"onnx"``; ``None``: from ``out``'s suffix.
        member: for a ``.pth`` of an ensemble, which member (see :func:`export_pth`).
        resolve: finds arch types outside probdeg's own (BasicSR's).

    Raises:
        UserError: an unknown format, or see :func:`export_pth` / :func:`export_onnx`.
    """
    out = Path(out)
    fmt = (fmt or out.suffix.lstrip(".")).lower()
    if fmt not in ("pth", "onnx"):
        raise UserError(f"--format must be pth or onnx (or --out ending in .pth / .onnx), got {fmt or out.name!r}")
    if member is not None and fmt == "onnx":
        raise UserError("--member goes with --format pth; ONNX holds the whole ensemble in one graph")
    nets, info = load_ensemble(parse_model_list(models), resolve=resolve)
    if fmt == "pth":
        return export_pth(nets, info, out, member=member)
    return export_onnx(nets, info, out)
