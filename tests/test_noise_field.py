"""probdeg.noise_field: the noise at a pixel depends on its position and the sample's seed only (not on the window,
the batch or the other samples), the seeds are stable across processes, and bad windows are named."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from probdeg import NoiseInjection
from probdeg.noise_field import NOISE_CELL, NoiseField, Window, position_keyed_noise, sample_seed, stable_seed


def layer() -> NoiseInjection:
    return NoiseInjection(4, name="blocks.0")


def test_a_window_sees_the_same_noise_as_the_whole_image_there():
    injection = layer()
    field = NoiseField([injection], [sample_seed(0, "a.png", 0)])
    field.window = Window(0, 0, 2 * NOISE_CELL + 10, 70)  # spans three cells down
    whole = field(injection, torch.zeros(1), (1, 4, 2 * NOISE_CELL + 10, 70))
    field.window = Window(NOISE_CELL - 6, 20, 30, 40)  # across a cell border
    part = field(injection, torch.zeros(1), (1, 4, 30, 40))
    assert torch.equal(part[0], whole[0, :, NOISE_CELL - 6:NOISE_CELL + 24, 20:60])
    assert 0.9 < float(whole.std()) < 1.1  # unit Gaussian draws


def test_a_half_resolution_layer_is_placed_at_its_own_scale():
    injection = layer()
    field = NoiseField([injection], [7])
    field.window = Window(0, 0, 64, 64)
    whole = field(injection, torch.zeros(1), (1, 4, 32, 32))  # the layer sees the input at half size
    field.window = Window(16, 32, 32, 32)
    part = field(injection, torch.zeros(1), (1, 4, 16, 16))
    assert torch.equal(part[0], whole[0, :, 8:24, 16:32])
    field.window = Window(1, 0, 32, 32)  # an odd offset cannot be placed at half resolution
    with pytest.raises(ValueError, match="only integer down-sampling"):
        field(injection, torch.zeros(1), (1, 4, 16, 16))


def test_each_item_keeps_its_noise_whatever_the_batch():
    injection = layer()
    seeds = [sample_seed(0, "a.png", 0), sample_seed(0, "b.png", 0)]
    both = NoiseField([injection], seeds)
    alone = NoiseField([injection], seeds[1:])
    for field in (both, alone):
        field.window = Window(0, 0, 16, 16)
    assert torch.equal(both(injection, torch.zeros(1), (2, 1, 16, 16))[1],
                       alone(injection, torch.zeros(1), (1, 1, 16, 16))[0])
    with pytest.raises(ValueError, match="expected 2"):
        both(injection, torch.zeros(1), (3, 1, 16, 16))


def test_seeds_are_the_same_in_every_process():
    code = "from probdeg.noise_field import sample_seed; print(sample_seed(3, 'sub/a.png', 2))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert int(other) == sample_seed(3, "sub/a.png", 2)
    assert stable_seed("x", 1) != stable_seed("x", 2) and 0 <= stable_seed("x") < 2**63


def test_the_field_is_installed_only_inside_the_context():
    net = torch.nn.Sequential(layer())
    injection = net[0]
    before = (injection.context.mode, injection.context.noise)
    with position_keyed_noise(net, [1], mode="mean") as field:
        assert injection.context.noise is field and injection.context.mode == "mean"
    assert (injection.context.mode, injection.context.noise) == before
    with pytest.raises(ValueError, match="mode must be one of"):
        with position_keyed_noise(net, [1], mode="typo"):
            pass
