"""Result tables as text, CSV and JSON, written atomically: shared by ``eval``, the noise sweep and the scorecards."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Optional

import numpy as np


def json_safe(value: Any) -> Any:
    """``value`` with non-finite floats as strings (``"inf"``, ``"nan"``): JSON has no such numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, Mapping):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]], footer: Optional[Sequence[str]] = None) -> str:
    """Left-aligned first column, right-aligned others, a rule under the header and above the footer."""
    everything = [list(header)] + [list(r) for r in rows] + ([list(footer)] if footer else [])
    widths = [max(len(r[i]) for r in everything) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        return "  ".join([row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])])

    rule = "-" * (sum(widths) + 2 * (len(widths) - 1))
    lines = [line(header), rule] + [line(r) for r in rows]
    if footer:
        lines += [rule, line(footer)]
    return "\n".join(lines)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub markdown table (``|`` in cells escaped)."""
    def cells(row: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |"

    return "\n".join([cells(header), "|" + "|".join("---" for _ in header) + "|", *(cells(r) for r in rows)])


def csv_text(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    from .io import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def nan_mean(values: Sequence[float]) -> float:
    """The mean with NaN entries (undefined values) left out; NaN when nothing is left."""
    values = [v for v in values if not math.isnan(v)]
    return float(np.mean(values)) if values else float("nan")
