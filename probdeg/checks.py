"""The one check of integer arguments that every module uses: a count is an ``int`` (not a ``bool``, which Python
counts as one) at least as large as its minimum."""

from __future__ import annotations

from typing import Any


def is_count(value: Any, minimum: int = 1) -> bool:
    """``value`` is an integer (``bool`` excluded) of at least ``minimum``."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum
