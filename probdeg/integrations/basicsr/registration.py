"""Explicit, idempotent registration of probdeg's archs, datasets and models in BasicSR's registries.

Names are registered from the list below, never by scanning files. Registering twice is a no-op. When another plugin
already owns a name, probdeg keeps out of its way: it warns and registers under ``probdeg_<Name>`` instead.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

from basicsr.utils.registry import ARCH_REGISTRY, DATASET_REGISTRY, MODEL_REGISTRY

from .archs import ARCHS
from .datasets import DATASETS
from .models import MODELS

FALLBACK_PREFIX = "probdeg_"


def _register_into(into, entries: Mapping[str, Any]) -> dict[str, str]:
    placed = {}
    owners = dict(iter(into))
    for name, obj in entries.items():
        target = name
        if owners.get(name, obj) is not obj:
            target = FALLBACK_PREFIX + name
            if owners.get(target, obj) is not obj:
                raise RuntimeError(f"BasicSR's {into._name} registry holds other objects under both {name!r} "
                                   f"and {target!r}; probdeg cannot register its {name}")
            if target not in owners:
                warnings.warn(f"BasicSR's {into._name} registry already holds another {name!r}; probdeg's is "
                              f"registered as {target!r}", stacklevel=3)
        if target not in owners:
            into._do_register(target, obj)  # `register()` would take the name from obj.__name__
        placed[name] = target
    return placed


def register() -> dict[str, str]:
    """Register probdeg's archs, datasets and models in BasicSR (idempotent).

    Returns:
        ``{probdeg name: registered name}`` (they differ only where another plugin owns the name).
    """
    return {**_register_into(ARCH_REGISTRY, ARCHS), **_register_into(DATASET_REGISTRY, DATASETS),
            **_register_into(MODEL_REGISTRY, MODELS)}
