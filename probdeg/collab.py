"""Collaborative learning of K SR networks (MSSR, Eq. 4-6), in plain PyTorch.

For model ``M_i``, with synthetic LR batches ``x~_1 .. x~_K`` made from one HR batch ``y`` by K degradation
generators, and a batch ``x`` of real LR crops::

    L_i = lambda_sup * L1(M_i(x~_i), y)                                   (supervised, own domain)
        + lambda_col * sum_{j != i} L1(M_i(x~_j), M_j(x~_j))              (Eq. 5: peers teach on their domains)
        + lambda_ada * r(p, P) * L1(M_i(x), y^),  y^ = mean_l M_l(x)      (Eq. 6: pseudo-labels on real LR)

Teacher outputs and pseudo-labels are targets: detached, so no gradient reaches a teacher through them.
Each model runs ONE forward over the concatenated batch ``[x~_1, ..., x~_K, x]``; the teacher targets
``M_j(x~_j)`` and the pseudo-label are sliced out of those same outputs, never recomputed. With ``lambda_col = 0``
each model runs on ``[x~_i, x]`` only.

With K = 1 there are no peers: the collaborative term vanishes and the pseudo-label is the model's own (detached)
output, whose L1 to itself is 0 with zero gradient, so K = 1 is plain supervised training on ``x~_1``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .runtime import in_precision


@dataclass(frozen=True)
class CollabWeights:
    """Loss weights and schedule of Eq. 4.

    Attributes:
        sup: lambda_sup (paper: 1).
        col: lambda_col (paper: 0.01).
        ada: lambda_ada (paper: 10; the released code uses 1).
        clamp: clamp outputs to [0, 1] before the losses (the released code does).
        ramp: r(p, P); default p / P.
    """

    sup: float = 1.0
    col: float = 0.01
    ada: float = 10.0
    clamp: bool = False
    ramp: Callable[[int, int], float] = lambda p, total: min(max(p / total, 0.0), 1.0)

    @classmethod
    def released(cls) -> CollabWeights:
        """The released code's variant: ada weight 1, outputs clamped to [0, 1]."""
        return cls(ada=1.0, clamp=True)


@dataclass
class CollabLosses:
    """The loss terms of one step, per model (tensors; ``total[i]`` is what model i minimises)."""

    sup: list[Tensor]
    col: list[Tensor]
    ada: list[Tensor]
    total: list[Tensor]
    ramp: float

    def as_dict(self) -> dict[str, float]:
        out = {}
        for i in range(len(self.total)):
            out.update({f"l_sup_{i}": self.sup[i].item(), f"l_col_{i}": self.col[i].item(),
                        f"l_ada_{i}": self.ada[i].item(), f"l_total_{i}": self.total[i].item()})
        return out


def collaborative_losses(models: Sequence[Callable[[Tensor], Tensor]], synthetic_lr: Sequence[Tensor], hr: Tensor,
                         real_lr: Optional[Tensor], progress: int, total: int,
                         weights: CollabWeights = CollabWeights()) -> CollabLosses:
    """Eq. 4-6 for every model, from one forward per model over ``[x~_1, ..., x~_K, x]``.

    Args:
        models: the K SR networks.
        synthetic_lr: K batches, ``synthetic_lr[j]`` made from ``hr`` by generator j.
        hr: the HR batch y.
        real_lr: real LR crops x (same size as the synthetic LR), or ``None`` to train on the synthetic domain only.
        progress: current iteration p.
        total: P, the iteration at which r reaches 1.
        weights: loss weights.

    Returns:
        The loss terms per model; gradients flow only into each model's own ``total``.

    Shape:
        synthetic_lr[j]: (B, C, h, w); hr: (B, C, s*h, s*w); real_lr: (B', C, h, w).
    """
    k = len(models)
    if k < 1 or len(synthetic_lr) != k:
        raise ValueError(f"need K >= 1 models and one synthetic LR batch per model, got {k} and {len(synthetic_lr)}")
    batch = hr.shape[0]
    for j, x in enumerate(synthetic_lr):
        if x.shape[0] != batch:
            raise ValueError(f"synthetic_lr[{j}] has batch {x.shape[0]}, the HR batch has {batch}")
    # With lambda_col = 0 (the naive combination) the peers' domains teach nothing: each model runs on its own
    # domain (and the real LR) only, which halves a K = 2 step and changes no gradient.
    peers = weights.col != 0
    outputs, own, real_out = [], [], []
    for i, model in enumerate(models):
        domains = list(synthetic_lr) if peers else [synthetic_lr[i]]
        inputs = domains + ([real_lr] if real_lr is not None else [])
        try:
            stacked = torch.cat(inputs)
        except RuntimeError as err:
            raise ValueError(f"the synthetic and real LR batches must share channel and spatial size to be stacked: "
                             f"{[tuple(x.shape) for x in inputs]}") from err
        out = model(stacked)
        out = out.clamp(0, 1) if weights.clamp else out
        outputs.append(out)
        start = i * batch if peers else 0
        own.append(out[start:start + batch])
        real_out.append(out[len(domains) * batch:])
    teachers = [o.detach() for o in own]
    if real_lr is None:
        real_out = None
    pseudo = torch.stack([o.detach() for o in real_out]).mean(0) if real_out is not None else None
    ramp = weights.ramp(progress, total)

    zero = hr.new_zeros(())
    sup, col, ada, totals = [], [], [], []
    for i, out in enumerate(outputs):
        l_sup = F.l1_loss(own[i], hr)
        l_col = sum((F.l1_loss(out[j * batch:(j + 1) * batch], teachers[j]) for j in range(k) if j != i), zero) \
            if peers else zero
        l_ada = F.l1_loss(real_out[i], pseudo) if real_out is not None else zero
        sup.append(l_sup)
        col.append(l_col)
        ada.append(l_ada)
        totals.append(weights.sup * l_sup + weights.col * l_col + weights.ada * ramp * l_ada)
    return CollabLosses(sup, col, ada, totals, ramp)


def collaborative_step(models: Sequence[nn.Module], optimizers: Sequence[torch.optim.Optimizer],
                       synthetic_lr: Sequence[Tensor], hr: Tensor, real_lr: Optional[Tensor], progress: int,
                       total: int, weights: CollabWeights = CollabWeights(),
                       skip_nonfinite: bool = True, autocast: Optional[torch.dtype] = None) -> CollabLosses:
    """One optimisation step of every model on Eq. 4-6 (see :func:`collaborative_losses`).

    The K losses share no graph (targets are detached), so one backward of their sum gives each model exactly the
    gradient of its own loss. A non-finite total skips the whole step when ``skip_nonfinite``. ``autocast`` (e.g.
    ``torch.bfloat16``) runs the models' forwards in that precision (:func:`probdeg.runtime.in_precision`); weights,
    optimiser state and losses stay float32.
    """
    for optimizer in optimizers:
        optimizer.zero_grad(set_to_none=True)
    forwards = [in_precision(model, autocast) for model in models]
    losses = collaborative_losses(forwards, synthetic_lr, hr, real_lr, progress, total, weights)
    objective = torch.stack(losses.total).sum()
    if skip_nonfinite and not torch.isfinite(objective):
        return losses
    objective.backward()
    for optimizer in optimizers:
        optimizer.step()
    return losses


@torch.no_grad()
def ensemble(models: Sequence[nn.Module], lr: Tensor) -> Tensor:
    """Inference by the ensemble mean of the K SR networks."""
    return torch.stack([m(lr) for m in models]).mean(0)
