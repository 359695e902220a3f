"""Explicit, idempotent registration of probdeg's archs in BasicSR's registries.

Names are registered from the list below, never by scanning files. Registering twice is a no-op. When another plugin
already owns a name, probdeg keeps out of its way: it warns and registers under ``probdeg_<Name>`` instead.
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Mapping
from copy import deepcopy
from typing import Any, Union

from torch import nn

from ... import archs
from ...wrapper import Probabilistic
from .compat import import_basicsr

FALLBACK_PREFIX = "probdeg_"


def build_network(opt: Mapping[str, Any]) -> nn.Module:
    """Build a net from a BasicSR-style option dict ``{type: Name, **kwargs}``, with a clear error for a bad type.

    Raises:
        KeyError: ``type`` is missing or unknown; the message lists the close registered names.
    """
    registry = _arch_registry()
    opt = dict(deepcopy(opt))
    if "type" not in opt:
        raise KeyError(f"network options need a 'type' key, got keys {sorted(opt)}")
    name = opt.pop("type")
    if name not in registry:
        known = sorted(registry.keys())
        close = difflib.get_close_matches(str(name), known, n=5, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}?" if close else f"registered archs: {', '.join(known)}"
        raise KeyError(f"unknown network type {name!r} in BasicSR's ARCH_REGISTRY; {hint}")
    cls = dict(iter(registry))[name]
    try:
        return cls(**opt)
    except TypeError as err:
        raise TypeError(f"cannot build network type {name!r} from options {opt}: {err}") from err


def build_probabilistic(net: Union[Mapping[str, Any], nn.Module], **options: Any) -> Probabilistic:
    """The ``Probabilistic`` arch for option files: ``{type: Probabilistic, net: {type: ..., ...}, sigma: ...}``.

    Args:
        net: the wrapped net's own options (built through the registry), or a module.
        options: :class:`probdeg.Probabilistic` keyword arguments (``at``, ``where``, ``sigma``, ``std``, ...).
    """
    module = build_network(net) if isinstance(net, Mapping) else net
    return Probabilistic(module, **options)


ARCHS: dict[str, Any] = {
    "DeResnet": archs.DeResnet,
    "StridedHAN": archs.StridedHAN,
    "FSDiscriminator": archs.FSDiscriminator,
    "Probabilistic": build_probabilistic,
}


def _arch_registry():
    import_basicsr()
    from basicsr.utils.registry import ARCH_REGISTRY

    return ARCH_REGISTRY


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
    """Register probdeg's archs in BasicSR (idempotent). Returns ``{probdeg name: registered name}``."""
    return _register_into(_arch_registry(), ARCHS)
