"""The fixes BasicSR 1.4.2 (its only release) needs on current PyTorch, applied once, before basicsr is imported."""

from __future__ import annotations

import importlib
import sys


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


def import_basicsr():
    """Import basicsr with the compatibility fixes applied; returns the module."""
    alias_functional_tensor()
    return importlib.import_module("basicsr")
