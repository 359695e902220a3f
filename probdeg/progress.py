"""Progress bars for long work: shown on a terminal only, so that CI logs and redirected output get no frames."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any, Optional


def progress_bar(iterable: Optional[Iterable] = None, *, total: Optional[int] = None, desc: str, unit: str,
                 enabled: bool = True, initial: int = 0, mininterval: float = 0.5) -> Any:
    """A tqdm bar on stderr, or a silent one when ``enabled`` is false or stderr is not a terminal."""
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit, initial=initial, disable=None if enabled else True,
                dynamic_ncols=True, mininterval=mininterval, file=sys.stderr)
