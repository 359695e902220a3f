"""probdeg's archs in BasicSR: the ``resolve`` function over BasicSR's ARCH_REGISTRY, and the arch table that
:mod:`.registration` registers."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, Optional

from torch import nn

from ... import registry
from .compat import import_basicsr


def _arch_registry():
    import_basicsr()
    from basicsr.utils.registry import ARCH_REGISTRY

    return ARCH_REGISTRY


class BasicSRArchs:
    """The ``resolve`` function over BasicSR's ARCH_REGISTRY (BasicSR's archs, probdeg's, other plugins')."""

    def __call__(self, name: str) -> Optional[registry.Constructor]:
        # BasicSR registers some of its own archs with a suffix (SRVGGNetCompact as SRVGGNetCompact_basicsr) and
        # its `get` retries with it: so does this.
        archs = dict(iter(_arch_registry()))
        return archs.get(name) or archs.get(f"{name}_basicsr")

    def names(self) -> list[str]:
        return [name.removesuffix("_basicsr") for name in _arch_registry().keys()]


resolve_arch = BasicSRArchs()


def build_network(opt: Mapping[str, Any]) -> nn.Module:
    """Build a net from a BasicSR-style option dict ``{type: Name, **kwargs}``: probdeg's archs, else BasicSR's
    ARCH_REGISTRY (see :func:`probdeg.registry.build_network` for the errors)."""
    return registry.build_network(opt, resolve=resolve_arch, where="BasicSR's ARCH_REGISTRY")


# The nested `net:` of a Probabilistic resolves through BasicSR's registry too, like every type in an option file.
ARCHS: dict[str, Any] = {**registry.ARCHS,
                         "Probabilistic": functools.partial(registry.build_probabilistic, resolve=resolve_arch)}
