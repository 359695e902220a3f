"""The paper's probabilistic generators: DeResnet and strided HAN wrapped at the released code's points."""

from __future__ import annotations

from typing import Any

from ..injection import LatentOptions
from ..wrapper import Probabilistic
from .deresnet import DeResnet
from .strided_han import StridedHAN


def _split(options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the net's options, the latents' options)."""
    latent = {key: options.pop(key) for key in list(options) if key in LatentOptions.__annotations__}
    return options, latent


def probabilistic_deresnet(**options: Any) -> Probabilistic:
    """Probabilistic DeResnet: 8 latents, one before each residual block at HR resolution (released MSSR code).

    Args:
        options: :class:`DeResnet` arguments (``scale``, ``num_feat``, ...) and the latents' options
            (:class:`probdeg.injection.LatentOptions`: ``sigma``, ``std``, ``noise``, ``mean_shift``,
            ``init_strength``; see :class:`probdeg.Probabilistic`).
    """
    net_options, latent = _split(dict(options))
    return Probabilistic(DeResnet(**net_options), **latent)


def probabilistic_strided_han(**options: Any) -> Probabilistic:
    """Probabilistic strided HAN: latents after each of the 11 body modules and before the CSAM (12, as released).

    Args:
        options: :class:`StridedHAN` arguments (``num_feat=128`` is the released width) and the latents' options,
            as for :func:`probabilistic_deresnet`.
    """
    net_options, latent = _split(dict(options))
    return Probabilistic(StridedHAN(**net_options), **latent)
