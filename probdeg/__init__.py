"""probdeg: probabilistic degradation generators for unsupervised real-world super-resolution.

``import probdeg`` needs torch and einops only; the BasicSR glue lives in ``probdeg.integrations.basicsr``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# The public names, by the module that defines them. They load on first use, so that `probdeg --help` and the other
# command-line entry points do not pay for importing torch.
_EXPORTS = {
    "DeResnet": "archs",
    "FSDiscriminator": "archs",
    "StridedHAN": "archs",
    "probabilistic_deresnet": "archs",
    "probabilistic_strided_han": "archs",
    "NoiseInjection": "injection",
    "SamplingContext": "injection",
    "InjectionPoint": "wrapper",
    "Probabilistic": "wrapper",
    "param_groups": "wrapper",
    "split_parameters": "wrapper",
}

__all__ = [*sorted(_EXPORTS), "__version__"]

if TYPE_CHECKING:  # what type checkers and IDEs see
    from .archs import DeResnet, FSDiscriminator, StridedHAN, probabilistic_deresnet, probabilistic_strided_han  # noqa: F401
    from .injection import NoiseInjection, SamplingContext  # noqa: F401
    from .wrapper import InjectionPoint, Probabilistic, param_groups, split_parameters  # noqa: F401


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'probdeg' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
