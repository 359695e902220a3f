"""The fixes BasicSR 1.4.2 (its only release) needs on current PyTorch, applied once, before basicsr is imported."""

from __future__ import annotations

import importlib
import sys
import warnings


def alias_functional_tensor() -> None:
    """Make ``torchvision.transforms.functional_tensor`` importable again.

    basicsr/data/degradations.py imports it, and torchvision 0.17 renamed it ``_functional_tensor``: without the
    alias any ``import basicsr`` fails with ModuleNotFoundError.
    """
    name = "torchvision.transforms.functional_tensor"
    if name in sys.modules:
        return
    try:
        importlib.import_module(name)
    except ModuleNotFoundError:
        sys.modules[name] = importlib.import_module("torchvision.transforms._functional_tensor")


SCIPY_NOTICE = r".*scipy\.ndimage\.filters.* namespace is deprecated"
"""SciPy's deprecation notice that ``basicsr/metrics/niqe.py`` triggers on ``import basicsr`` (its import of
``scipy.ndimage.filters``): BasicSR's to fix, not the user's, so it is not shown as probdeg's warning."""


def import_basicsr():
    """Import basicsr with the compatibility fixes applied, SciPy's notice about BasicSR's own import filtered out
    (for that import only); returns the module."""
    alias_functional_tensor()
    if "basicsr" in sys.modules:
        return sys.modules["basicsr"]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=SCIPY_NOTICE, category=DeprecationWarning)
        return importlib.import_module("basicsr")
