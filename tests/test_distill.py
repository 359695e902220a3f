"""probdeg.distill: a student fine-tuned towards its ensemble's mean gets closer to it, reproducibly."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from probdeg.collab import ensemble
from probdeg.distill import distill
from probdeg.errors import UserError


def net(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 12, 3, padding=1), nn.ReLU(), nn.Conv2d(12, 12, 3, padding=1),
                         nn.PixelShuffle(2)).eval()


def test_the_student_moves_towards_the_ensemble_mean():
    teachers, images = [net(1), net(2)], [torch.rand(3, 40, 36, generator=torch.Generator().manual_seed(i))
                                          for i in range(3)]
    probe = torch.rand(2, 3, 24, 24, generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        target = ensemble(teachers, probe)
        before = (teachers[0](probe) - target).abs().mean()
    student = distill(teachers, copy.deepcopy(teachers[0]), images, iterations=150, crop=16, batch=4, lr=1e-3)
    with torch.no_grad():
        after = (student(probe) - target).abs().mean()
    assert after < 0.5 * before and not student.training
    again = distill(teachers, copy.deepcopy(teachers[0]), images, iterations=150, crop=16, batch=4, lr=1e-3)
    assert all(torch.equal(a, b) for a, b in zip(student.state_dict().values(), again.state_dict().values()))


def test_bad_arguments_are_one_line():
    with pytest.raises(UserError, match="no LR image of at least 32x32"):
        distill([net(1)], net(2), [torch.rand(3, 16, 16)], iterations=1)
    with pytest.raises(UserError, match="positive integers"):
        distill([net(1)], net(2), [torch.rand(3, 40, 40)], iterations=0)
