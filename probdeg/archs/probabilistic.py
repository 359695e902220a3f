"""The paper's probabilistic generators: DeResnet and strided HAN wrapped at the released code's points."""

from __future__ import annotations

from typing import Any

from ..injection import NoiseLayout, SigmaType
from ..wrapper import Probabilistic
from .deresnet import DeResnet
from .strided_han import StridedHAN


def probabilistic_deresnet(
    *, sigma: SigmaType = "channel", std: float = 0.1, noise: NoiseLayout = "shared", mean_shift: bool = False,
    init_strength: float = 0.0, **deresnet_options: Any,
) -> Probabilistic:
    """Probabilistic DeResnet: 8 latents, one before each residual block at HR resolution (released MSSR code).

    Args:
        sigma, std, noise, mean_shift, init_strength: see :class:`probdeg.Probabilistic`.
        deresnet_options: :class:`DeResnet` arguments (``scale``, ``num_feat``, ...).
    """
    return Probabilistic(DeResnet(**deresnet_options), sigma=sigma, std=std, noise=noise, mean_shift=mean_shift,
                         init_strength=init_strength)


def probabilistic_strided_han(
    *, sigma: SigmaType = "channel", std: float = 0.1, noise: NoiseLayout = "shared", mean_shift: bool = False,
    init_strength: float = 0.0, **han_options: Any,
) -> Probabilistic:
    """Probabilistic strided HAN: latents after each of the 11 body modules and before the CSAM (12, as released).

    Args:
        sigma, std, noise, mean_shift, init_strength: see :class:`probdeg.Probabilistic`.
        han_options: :class:`StridedHAN` arguments (``num_feat=128`` is the released width).
    """
    return Probabilistic(StridedHAN(**han_options), sigma=sigma, std=std, noise=noise, mean_shift=mean_shift,
                         init_strength=init_strength)
