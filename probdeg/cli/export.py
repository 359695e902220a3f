"""``probdeg export``: an SR model or ensemble as a Real-ESRGAN-format ``.pth`` (spandrel) or one ONNX graph."""

from __future__ import annotations

import argparse

HELP = ("export an SR checkpoint or ensemble: a Real-ESRGAN-format .pth that spandrel (chaiNNer, ComfyUI) loads, or "
        "one ONNX graph (the ensemble mean) with dynamic height and width")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, metavar="A.pth[,B.pth...]", help="SR checkpoint(s), as for "
                        "probdeg sr; several, comma-separated, are the ensemble mean")
    parser.add_argument("--out", required=True, metavar="FILE", help="the file to write (.pth or .onnx)")
    parser.add_argument("--format", dest="fmt", choices=("pth", "onnx"), default=None, help="default: from --out's "
                        "extension")
    parser.add_argument("--member", type=int, default=None, help="for a .pth of an ensemble: which member (0-based); "
                        "spandrel loads one arch per file, so the ensemble mean is ONNX only")


def run(args: argparse.Namespace) -> int:
    from ..export import export_model
    from .common import basicsr_archs, warnings_as_lines

    with warnings_as_lines("export"):
        result = export_model(args.model, args.out, fmt=args.fmt, member=args.member, resolve=basicsr_archs)
    members = f"ensemble mean of {result.members}" if result.members > 1 else "1 net"
    checked = ("not checked (pip install onnxruntime)" if result.max_difference is None
               else f"checked: max |difference| {result.max_difference:.2e} from probdeg sr's forward")
    print(f"export: x{result.scale}, {members} -> {result.path}; {checked}")
    return 0
