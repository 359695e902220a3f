"""The one table of probdeg's archs, and building a net from an option dict ``{type: Name, **kwargs}``.

Types outside the table (BasicSR's ``RRDBNet``, a user's arch) are found by a ``resolve`` function that the caller
hands in; the BasicSR glue passes its registry's lookup. This module never imports the glue.
"""

from __future__ import annotations

import difflib
import functools
import inspect
from collections.abc import Mapping
from copy import deepcopy
from typing import Any, Callable, Optional

from torch import nn

from .archs import DeResnet, FSDiscriminator, StridedHAN
from .errors import OptionError
from .wrapper import Probabilistic

Constructor = Callable[..., nn.Module]
Resolve = Callable[[str], Optional[Constructor]]
"""Name -> constructor, or ``None`` for a name it does not know."""


class UnknownNetworkError(OptionError, KeyError):
    """No arch of that name (a ``KeyError`` too, as for a missing key of a table)."""

    __str__ = Exception.__str__  # KeyError would quote the message


class NetworkArgumentError(OptionError, TypeError):
    """The arch refused its options (a ``TypeError`` too, as for a bad call)."""


def build_probabilistic(net: Any, *, resolve: Optional[Resolve] = None, **options: Any) -> Probabilistic:
    """``{type: Probabilistic, net: {type: ..., ...}, **Probabilistic options}``: the nested net is built first, with
    the same ``resolve``."""
    check_options("Probabilistic", Probabilistic, options)
    module = build_network(net, resolve=resolve) if isinstance(net, Mapping) else net
    return Probabilistic(module, **options)


ARCHS: dict[str, Constructor] = {
    "DeResnet": DeResnet,
    "StridedHAN": StridedHAN,
    "FSDiscriminator": FSDiscriminator,
    "Probabilistic": build_probabilistic,
}
"""probdeg's own archs by option-file name: what the BasicSR glue registers, and what builds without it."""


def build_network(opt: Mapping[str, Any], *, resolve: Optional[Resolve] = None, where: str = "probdeg") -> nn.Module:
    """Build ``opt['type'](**rest)``: one of :data:`ARCHS`, else the constructor ``resolve`` finds.

    Args:
        opt: ``{type: Name, **kwargs}``; not modified.
        resolve: name -> constructor for types outside :data:`ARCHS`; ``None``: probdeg's archs only.
        where: what the names are looked up in, for the error message.

    Raises:
        UnknownNetworkError: no ``type``, or an unknown one (the message lists close names).
        NetworkArgumentError: the constructor refused the arguments (the message names the type and the key).
    """
    if not isinstance(opt, Mapping):
        raise NetworkArgumentError(f"network options must be a mapping with a 'type' key, got {type(opt).__name__}")
    kwargs = dict(deepcopy(opt))
    if "type" not in kwargs:
        raise UnknownNetworkError(f"network options need a 'type' key, got keys {sorted(kwargs)}")
    name = str(kwargs.pop("type"))
    constructor = ARCHS.get(name) or (resolve(name) if resolve is not None else None)
    if constructor is None:
        names = sorted(set(ARCHS) | set(_known_names(resolve)))
        close = difflib.get_close_matches(name, names, n=5, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}?" if close else f"known types: {', '.join(names)}"
        if resolve is None:
            hint += (" (types of BasicSR's registry, such as RRDBNet, need "
                     "resolve=probdeg.integrations.basicsr.resolve_arch; probdeg's commands pass it)")
        raise UnknownNetworkError(f"unknown network type {name!r} in {where}; {hint}")
    if constructor is build_probabilistic:
        kwargs["resolve"] = resolve
    check_options(name, constructor, kwargs)
    try:
        return constructor(**kwargs)
    except (TypeError, ValueError) as err:
        if isinstance(err, OptionError):
            raise
        shown = {k: v for k, v in kwargs.items() if k != "resolve"}
        raise NetworkArgumentError(f"cannot build network type {name!r} from options {shown}: {err}") from err


def _known_names(resolve: Optional[Resolve]) -> list[str]:
    names = getattr(resolve, "names", None)
    return list(names()) if callable(names) else []


def check_options(name: str, constructor: Callable, kwargs: Mapping[str, Any]) -> None:
    """Raise :class:`NetworkArgumentError` naming each option ``constructor`` cannot take, with the closest name."""
    unknown = _unknown_options(constructor, kwargs)
    if unknown:
        accepted = [key for key in _accepted_options(constructor) if key != "resolve"]
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key, accepted, n=1)
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise NetworkArgumentError(f"unknown option(s) for network type {name!r}: {', '.join(hints)}; it accepts "
                                   f"{', '.join(accepted)}")


def _parameters(constructor: Callable) -> list[inspect.Parameter]:
    target = constructor.func if isinstance(constructor, functools.partial) else constructor
    try:
        return list(inspect.signature(target).parameters.values())
    except (TypeError, ValueError):
        return []


def _accepted_options(constructor: Callable) -> list[str]:
    return [p.name for p in _parameters(constructor)
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"]


def _unknown_options(constructor: Callable, kwargs: Mapping[str, Any]) -> list[str]:
    """Keys the constructor cannot take; none when it takes ``**kwargs`` (a wrapper passing them on)."""
    parameters = _parameters(constructor)
    if not parameters or any(p.kind is p.VAR_KEYWORD for p in parameters):
        return []
    accepted = set(_accepted_options(constructor))
    return [key for key in kwargs if key not in accepted]
