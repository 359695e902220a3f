"""Distil an ensemble of SR nets into one: a student (a copy of one member) fine-tuned towards the ensemble's mean
output on LR crops, with no ground truth. ``probdeg pipeline`` hands the user MSSR's ensemble this way, as one net
of one member's cost (the measurement: docs/RESULTS.md, "One model")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import torch
from torch import Tensor, nn

from .checks import is_count
from .collab import ensemble
from .errors import UserError
from .progress import progress_bar


def distill(teachers: Sequence[nn.Module], student: nn.Module, images: Sequence[Tensor], *, iterations: int,
            crop: int = 32, batch: int = 8, lr: float = 1e-4, seed: int = 0, progress: bool = False) -> nn.Module:
    """Fine-tune ``student`` with Adam and L1 towards the mean of ``teachers`` on random crops of ``images``.

    Args:
        teachers: the ensemble (frozen; in eval mode).
        student: the net to train, usually a copy of one member; returned in eval mode.
        images: LR images in [0, 1], each at least ``crop`` pixels on both sides (smaller ones are left out).
        iterations: optimiser steps.
        crop, batch: LR crop side and crops per step.
        lr: Adam's learning rate.
        seed: the crops' draws (and torch's seed for the run).
        progress: a progress bar on a terminal.

    Returns:
        ``student``, trained.

    Shape:
        images: each (C, H, W).
    """
    if not is_count(iterations) or not is_count(crop) or not is_count(batch):
        raise UserError(f"iterations, crop and batch must be positive integers, got {iterations}, {crop}, {batch}")
    usable = [x for x in images if min(x.shape[-2:]) >= crop]
    if not usable:
        raise UserError(f"no LR image of at least {crop}x{crop} pixels to distil on")
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    for teacher in teachers:
        teacher.eval().requires_grad_(False)
    student.train().requires_grad_(True)
    optimiser = torch.optim.Adam(student.parameters(), lr=lr)
    for _ in progress_bar(range(iterations), desc="distil", unit="step", enabled=progress):
        lr_batch = torch.stack([_random_crop(usable[i], crop, generator)
                                for i in torch.randint(len(usable), (batch,), generator=generator).tolist()])
        with torch.no_grad():
            target = ensemble(list(teachers), lr_batch)
        loss = (student(lr_batch) - target).abs().mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return student.eval()


def _random_crop(image: Tensor, side: int, generator: Optional[torch.Generator]) -> Tensor:
    top = int(torch.randint(image.shape[-2] - side + 1, (1,), generator=generator))
    left = int(torch.randint(image.shape[-1] - side + 1, (1,), generator=generator))
    return image[:, top:top + side, left:left + side]
