"""probdeg: probabilistic degradation generators for unsupervised real-world super-resolution.

``import probdeg`` needs torch and einops only; the BasicSR glue lives in ``probdeg.integrations.basicsr``.
"""

from .archs import DeResnet, FSDiscriminator, StridedHAN, probabilistic_deresnet, probabilistic_strided_han
from .injection import NoiseInjection, SamplingContext
from .wrapper import InjectionPoint, Probabilistic, param_groups, split_parameters

__version__ = "0.1.0"

__all__ = [
    "DeResnet",
    "FSDiscriminator",
    "InjectionPoint",
    "NoiseInjection",
    "Probabilistic",
    "SamplingContext",
    "StridedHAN",
    "__version__",
    "param_groups",
    "probabilistic_deresnet",
    "probabilistic_strided_han",
    "split_parameters",
]
