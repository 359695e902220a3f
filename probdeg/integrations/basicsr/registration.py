"""Explicit, idempotent registration of probdeg's archs, datasets and models in BasicSR's registries.

Names are registered from the list below, never by scanning files. Registering twice is a no-op. When another plugin
already owns a name, probdeg keeps out of its way: it warns and registers under ``probdeg_<Name>`` instead.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Mapping
from typing import Any

from torch import nn

from ... import archs
from ...build import build_from_options, build_probabilistic
from .compat import import_basicsr

FALLBACK_PREFIX = "probdeg_"


def build_network(opt: Mapping[str, Any]) -> nn.Module:
    """Build a net from a BasicSR-style option dict ``{type: Name, **kwargs}`` through BasicSR's ARCH_REGISTRY,
    with a clear error for a bad type.

    Raises:
        KeyError: ``type`` is missing or unknown; the message lists the close registered names.
    """
    registry = _arch_registry()
    return build_from_options(opt, lambda name: dict(iter(registry)).get(name), lambda: list(registry.keys()),
                              where="BasicSR's ARCH_REGISTRY")


ARCHS: dict[str, Any] = {
    "DeResnet": archs.DeResnet,
    "StridedHAN": archs.StridedHAN,
    "FSDiscriminator": archs.FSDiscriminator,
    # The nested `net:` resolves through BasicSR's registry too, like every type in an option file.
    "Probabilistic": functools.partial(build_probabilistic, builder=build_network),
}


def _arch_registry():
    import_basicsr()
    from basicsr.utils.registry import ARCH_REGISTRY

    return ARCH_REGISTRY


def _datasets() -> dict[str, Any]:
    from .data import BasicSRUnpairedDataset, DegradationValDataset

    return {"UnpairedImageDataset": BasicSRUnpairedDataset, "DegradationValDataset": DegradationValDataset}


def _models() -> dict[str, Any]:
    from .models.collaborative_sr import CollaborativeSRModel
    from .models.degradation_gan import DegradationGANModel

    return {"DegradationGANModel": DegradationGANModel, "CollaborativeSRModel": CollaborativeSRModel}


def _register_into(registry, entries: Mapping[str, Any]) -> dict[str, str]:
    placed = {}
    owners = dict(iter(registry))
    for name, obj in entries.items():
        target = name
        if owners.get(name, obj) is not obj:
            target = FALLBACK_PREFIX + name
            if owners.get(target, obj) is not obj:
                raise RuntimeError(f"BasicSR's {registry._name} registry holds other objects under both {name!r} "
                                   f"and {target!r}; probdeg cannot register its {name}")
            if target not in owners:
                warnings.warn(f"BasicSR's {registry._name} registry already holds another {name!r}; probdeg's is "
                              f"registered as {target!r}", stacklevel=3)
        if target not in owners:
            registry._do_register(target, obj)  # `register()` would take the name from obj.__name__
        placed[name] = target
    return placed


def register() -> dict[str, str]:
    """Register probdeg's archs, datasets and models in BasicSR (idempotent).

    Returns:
        ``{probdeg name: registered name}`` (they differ only where another plugin owns the name).
    """
    arch_registry = _arch_registry()
    from basicsr.utils.registry import DATASET_REGISTRY, MODEL_REGISTRY

    return {**_register_into(arch_registry, ARCHS), **_register_into(DATASET_REGISTRY, _datasets()),
            **_register_into(MODEL_REGISTRY, _models())}
