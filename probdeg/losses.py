"""Losses of the degradation generator (stage 1): colour (low frequencies), LPIPS perceptual, and diversity.

The discriminator only ever sees :class:`probdeg.filters.HighPass` output, so the colour and perceptual losses own
the low frequencies; the diversity term rewards two samples of one HR crop for differing in the discriminator's
high-pass view (:mod:`probdeg.stage1` puts them together).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Optional, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .errors import UserError
from .filters import FilterKind, HighPass, LowPass

ALEXNET_FILE = "alexnet-owt-7be5be79.pth"
# torchvision's AlexNet feature indices grouped the way lpips' `alexnet` slices them (slice1 .. slice5).
_LPIPS_SLICES = ((1, range(0, 2)), (2, range(2, 5)), (3, range(5, 8)), (4, range(8, 10)), (5, range(10, 12)))


class ColorLoss(nn.Module):
    """L1 between the low frequencies of the generated LR image and of its reference (bicubic) LR image.

    The low-pass matches the discriminator's filter, so G's colour is tied to the reference exactly where D does
    not look. As in DASR's colour loss, the avg_pool / gau low-pass uses no padding (borders are dropped).

    Args:
        filter: ``wavelet`` (Haar LL band / 2), ``avg_pool`` or ``gau``; the discriminator's filter.
        kernel_size: size of the avg_pool / gaussian kernel.

    Shape:
        generated, reference: (B, C, h, w) -> scalar.
    """

    def __init__(self, filter: FilterKind = "wavelet", kernel_size: int = 5) -> None:
        super().__init__()
        self.low_pass = LowPass(filter, kernel_size, padding="valid")

    def forward(self, generated: Tensor, reference: Tensor) -> Tensor:
        return F.l1_loss(self.low_pass(generated), self.low_pass(reference))


class DiversityLoss(nn.Module):
    """``-min(mean |HP(a) - HP(b)|, tau)``: rewards two samples of one HR crop for differing in the high frequencies,
    up to ``tau``.

    Without it nothing in the released recipe asks the samples to differ: a discriminator that sees one sample per
    crop is fooled as well by a deterministic generator, and the zero-initialised latents stay near zero. ``b`` is a
    second sample drawn without gradient (one extra generator forward, no backward); the bound ``tau`` stops the
    reward at the spread of the real noise (see :func:`probdeg.metrics.gaussian_pair_distance`), so it never asks
    for more noise than the real LR holds.

    Args:
        high_pass: the discriminator's high-pass filter.
        tau: the bound, in the high-pass filter's output units.

    Shape:
        sample, other: (B, C, h, w) -> scalar (<= 0).
    """

    def __init__(self, high_pass: HighPass, tau: float) -> None:
        super().__init__()
        if not tau > 0:
            raise ValueError(f"the diversity bound tau must be > 0, got {tau!r}")
        self.high_pass = high_pass
        self.tau = float(tau)

    def distance(self, sample: Tensor, other: Tensor) -> Tensor:
        """mean |HP(sample) - HP(other)|, with no gradient through ``other``."""
        return (self.high_pass(sample) - self.high_pass(other.detach())).abs().mean()

    def forward(self, sample: Tensor, other: Tensor) -> Tensor:
        return -self.distance(sample, other).clamp(max=self.tau)


def alexnet_weights_path(weights: Optional[Union[str, Path]] = None) -> Path:
    """Where the AlexNet weights for LPIPS are looked for: ``weights`` if given, else the torch hub cache
    (``$TORCH_HOME/hub/checkpoints/alexnet-owt-7be5be79.pth``, ``~/.cache/torch/...`` by default)."""
    if weights is not None:
        return Path(weights).expanduser()
    return Path(torch.hub.get_dir()) / "checkpoints" / ALEXNET_FILE


class LPIPSLoss(nn.Module):
    """LPIPS (AlexNet) distance, loaded without network access.

    The AlexNet trunk comes from ``weights`` or the torch hub cache; the linear heads ship inside the ``lpips``
    package. Nothing is downloaded: a missing file raises an error that names it and where to put it.

    Args:
        weights: path to torchvision's ``alexnet-owt-7be5be79.pth``; default: the torch hub cache.

    Shape:
        x, y: (B, 3, H, W) in [0, 1] -> scalar (mean over the batch).
    """

    def __init__(self, weights: Optional[Union[str, Path]] = None) -> None:
        super().__init__()
        path = alexnet_weights_path(weights)
        if not path.is_file():
            torch_home = os.environ.get("TORCH_HOME", "~/.cache/torch")
            raise FileNotFoundError(
                f"LPIPS needs the AlexNet weights file {ALEXNET_FILE}, not found at {path}. Copy it there (it is "
                f"torchvision's alexnet ImageNet checkpoint; TORCH_HOME={torch_home}), or pass its path as `weights` "
                "(option `perceptual_opt.weights`), or set the perceptual weight to 0.")
        import lpips  # imports torchvision: keep it out of `import probdeg`

        # pnet_rand=True: build the trunk without torchvision's download; its weights are loaded just below.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning, module="torchvision")  # lpips' old API use
            self.model = lpips.LPIPS(net="alex", pretrained=True, pnet_rand=True, verbose=False)
        try:
            trunk = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # torch raises several types for a truncated or refused file
            reason = " ".join(str(err).split())[:200] or type(err).__name__
            raise UserError(f"{path} is not a readable AlexNet checkpoint (truncated, or not plain weights): "
                            f"{reason}") from None
        try:
            self.model.net.load_state_dict(_lpips_trunk_state(trunk, path), strict=True)
        except RuntimeError as err:  # right keys, wrong shapes
            raise UserError(f"{path} is not torchvision's AlexNet checkpoint: {' '.join(str(err).split())[:200]}") \
                from None
        self.model.eval().requires_grad_(False)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return self.model(x, y, normalize=True).mean()


def _lpips_trunk_state(alexnet_state: dict, path: Path) -> dict:
    if not isinstance(alexnet_state, dict):
        raise UserError(f"{path} is not torchvision's AlexNet checkpoint (not a state dict)")
    state = {}
    for slice_index, indices in _LPIPS_SLICES:
        for i in indices:
            for kind in ("weight", "bias"):
                key = f"features.{i}.{kind}"
                if key in alexnet_state:
                    state[f"slice{slice_index}.{i}.{kind}"] = alexnet_state[key]
    if len(state) != 10:
        raise UserError(f"{path} is not torchvision's AlexNet checkpoint (expected features.N.weight/bias keys)")
    return state
