"""Build networks from option dicts ``{type: Name, **kwargs}``, the form used by option files and checkpoints."""

from __future__ import annotations

import difflib
import functools
import inspect
from collections.abc import Mapping
from copy import deepcopy
from typing import Any, Callable, Optional

from torch import nn

Lookup = Callable[[str], Optional[Callable[..., nn.Module]]]


def build_from_options(opt: Mapping[str, Any], lookup: Lookup, known: Callable[[], list[str]],
                       where: str = "probdeg") -> nn.Module:
    """Build ``opt['type'](**rest)`` with the constructor found by ``lookup``.

    Args:
        opt: ``{type: Name, **kwargs}``; not modified.
        lookup: name -> constructor, or ``None`` when unknown.
        known: the known names, for the error message.
        where: what the names are looked up in, for the error message.

    Raises:
        KeyError: no ``type``, or an unknown one (the message lists close names).
        TypeError: the constructor refused the arguments (the message names the type).
    """
    if not isinstance(opt, Mapping):
        raise TypeError(f"network options must be a mapping with a 'type' key, got {type(opt).__name__}")
    kwargs = dict(deepcopy(opt))
    if "type" not in kwargs:
        raise KeyError(f"network options need a 'type' key, got keys {sorted(kwargs)}")
    name = kwargs.pop("type")
    constructor = lookup(str(name))
    if constructor is None:
        names = sorted(known())
        close = difflib.get_close_matches(str(name), names, n=5, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}?" if close else f"known types: {', '.join(names)}"
        raise KeyError(f"unknown network type {name!r} in {where}; {hint}")
    check_options(str(name), constructor, kwargs)
    try:
        return constructor(**kwargs)
    except TypeError as err:
        raise TypeError(f"cannot build network type {name!r} from options {kwargs}: {err}") from err


def check_options(name: str, constructor: Callable, kwargs: Mapping[str, Any]) -> None:
    """Raise TypeError naming each option ``constructor`` cannot take, with the closest accepted name."""
    unknown = _unknown_options(constructor, kwargs)
    if unknown:
        accepted = _accepted_options(constructor)
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key, accepted, n=1)
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise TypeError(f"unknown option(s) for network type {name!r}: {', '.join(hints)}; it accepts "
                        f"{', '.join(accepted)}")


def _accepted_options(constructor: Callable) -> list[str]:
    target = constructor.func if isinstance(constructor, functools.partial) else constructor
    try:
        parameters = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"]


def _unknown_options(constructor: Callable, kwargs: Mapping[str, Any]) -> list[str]:
    """Keys the constructor cannot take; none when it takes ``**kwargs`` (a wrapper passing them on)."""
    target = constructor.func if isinstance(constructor, functools.partial) else constructor
    try:
        parameters = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return []
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return []
    accepted = set(_accepted_options(constructor))
    return [key for key in kwargs if key not in accepted]


def _core_archs() -> dict[str, Callable[..., nn.Module]]:
    from .archs import DeResnet, FSDiscriminator, StridedHAN

    return {"DeResnet": DeResnet, "StridedHAN": StridedHAN, "FSDiscriminator": FSDiscriminator,
            "Probabilistic": build_probabilistic}


def build_network(opt: Mapping[str, Any]) -> nn.Module:
    """Build one of probdeg's own archs (``DeResnet``, ``StridedHAN``, ``FSDiscriminator``, ``Probabilistic``).

    Other types (a BasicSR arch, a user's registered arch) are resolved through BasicSR's registry when the
    ``probdeg.integrations.basicsr`` glue can be imported.
    """
    core = _core_archs()
    if opt.get("type") in core if isinstance(opt, Mapping) else False:
        return build_from_options(opt, core.get, lambda: list(core))
    try:
        from .integrations.basicsr import build_network as build_with_basicsr
    except ImportError:
        return build_from_options(opt, core.get, lambda: list(core))
    return build_with_basicsr(opt)


def build_probabilistic(net: Any, *, builder: Optional[Callable[[Mapping], nn.Module]] = None,
                        **options: Any) -> nn.Module:
    """``{type: Probabilistic, net: {type: ..., ...}, **Probabilistic options}``: the nested net is built first,
    by ``builder`` (default :func:`build_network`; the BasicSR glue passes its registry's)."""
    from .wrapper import Probabilistic

    check_options("Probabilistic", Probabilistic, options)
    module = (builder or build_network)(net) if isinstance(net, Mapping) else net
    return Probabilistic(module, **options)
