"""What several commands share: tile flags, the device, captured warnings, and BasicSR's archs on demand."""

from __future__ import annotations

import argparse
import contextlib
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable, Optional


def add_tile_arguments(parser: argparse.ArgumentParser) -> None:
    from ..defaults import TILE_PAD

    parser.add_argument("--tile", type=int, default=None, help="tile side in LR pixels, to bound the memory of "
                        "large images (default: whole images)")
    parser.add_argument("--tile-pad", type=int, default=TILE_PAD, help="LR pixels of context around each tile "
                        f"(default: {TILE_PAD})")


def add_device_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")


def resolve_device(device: Optional[str]) -> str:
    """``--device``: cpu or cuda, default cuda when PyTorch sees one."""
    import torch

    from ..errors import UserError

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if not device.startswith(("cpu", "cuda")):
        raise UserError(f"--device must be cpu or cuda, got {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError("--device cuda was asked for, but PyTorch sees no CUDA device")
    return device


PACKAGE = Path(__file__).resolve().parents[1]
"""probdeg's own folder: warnings issued from files inside it are probdeg's."""
NOTICES = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)
"""Warning kinds that, from a dependency, are for its maintainers (SciPy's renamed module in BasicSR), not the user."""


def warning_source(filename: str) -> Optional[str]:
    """The package a warning was issued from (``scipy``, ``torch``, ...), or ``None`` for probdeg's own code."""
    path = Path(filename).resolve()
    if PACKAGE == path or PACKAGE in path.parents:
        return None
    parts = path.parts
    for folder in ("site-packages", "dist-packages"):
        if folder in parts[:-1]:
            return Path(parts[parts.index(folder) + 1]).stem
    return path.stem


@contextlib.contextmanager
def warnings_as_lines(command: str) -> Iterator[None]:
    """Print the warnings of the block as ``probdeg COMMAND: warning: ...`` lines once it ends (even on an error).

    A dependency's warnings say where they come from (``warning from torch: ...``); its deprecation notices
    (:data:`NOTICES`) are left out.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            for warning in caught:
                source = warning_source(warning.filename)
                if source is None:
                    print(f"probdeg {command}: warning: {warning.message}", file=sys.stderr)
                elif not issubclass(warning.category, NOTICES):
                    print(f"probdeg {command}: warning from {source}: {warning.message}", file=sys.stderr)


@contextlib.contextmanager
def one_line_warnings(command: str) -> Iterator[None]:
    """Show the warnings of the block as they come, each as one ``probdeg COMMAND: warning: ...`` line (for long
    runs, where :func:`warnings_as_lines` would hold them back until the end)."""
    previous = warnings.formatwarning
    warnings.formatwarning = lambda message, *args, **kwargs: f"probdeg {command}: warning: {message}\n"
    try:
        yield
    finally:
        warnings.formatwarning = previous


class BasicSRArchsOnDemand:
    """A ``resolve`` function (see :func:`probdeg.registry.build_network`) that imports BasicSR only when a checkpoint
    names an arch outside probdeg's own (``RRDBNet``, ``SRVGGNetCompact``, ...)."""

    def _archs(self) -> Any:
        from ..integrations.basicsr import resolve_arch

        return resolve_arch

    def __call__(self, name: str) -> Any:
        return self._archs()(name)

    def names(self) -> list[str]:
        return self._archs().names()


basicsr_archs = BasicSRArchsOnDemand()


def add_folder_job_arguments(parser: argparse.ArgumentParser) -> None:
    """``--overwrite`` and ``--no-progress`` of the commands that write a folder of images."""
    parser.add_argument("--overwrite", action="store_true", help="replace the images of an output folder made with "
                        "other settings (default: refuse, naming what differs; same settings resume)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run_folder_job(command: str, job: Callable[[], dict[str, Any]],
                   details: Callable[[dict[str, Any]], str]) -> int:
    """Run ``job()`` (a folder function of :mod:`probdeg.degrade` or :mod:`probdeg.sr`) with its warnings as
    lines, print its summary line, and return the exit code: 1 when some inputs could not be read."""
    with warnings_as_lines(command):
        summary = job()
    removed = summary.get("removed_temporaries", 0)
    cleanup = f"; removed {removed} temporary file(s) of an interrupted run" if removed else ""
    print(f"{command}: {summary['written']} written, {summary['skipped']} skipped, {summary['failed']} failed "
          f"({summary['images']} images, {details(summary)}{summary['seconds']:.1f} s) -> {summary['output']}"
          f"{cleanup}")
    return 1 if summary["failed"] else 0
