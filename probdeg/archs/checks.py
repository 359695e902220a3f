"""Argument checks shared by the archs' constructors."""

from __future__ import annotations

from typing import Any

from ..checks import is_count

SCALES = (2, 4)
"""The down-sampling factors of probdeg's generators."""


def check_arguments(*, scale: Any = None, **counts: Any) -> None:
    """Raise ValueError unless every count is a positive integer and ``scale`` (when given) one of :data:`SCALES`."""
    for name, value in counts.items():
        if not is_count(value):
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if scale is not None and scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
