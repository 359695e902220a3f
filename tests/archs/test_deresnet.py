import pytest
import torch
from torch import nn

from probdeg.archs import DeResnet, ResidualBlock


def _num_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _small(**kwargs) -> DeResnet:
    return DeResnet(num_feat=8, num_blocks=2, **kwargs)


@pytest.mark.parametrize("scale", [2, 4])
def test_output_shape_and_range(scale):
    torch.manual_seed(0)
    x = torch.rand(2, 3, 16, 16)
    y = _small(scale=scale)(x)
    assert y.shape == (2, 3, 16 // scale, 16 // scale)
    assert torch.isfinite(y).all()
    assert ((y > 0) & (y < 1)).all()


def test_channels():
    model = DeResnet(in_channels=1, out_channels=4, num_feat=8, num_blocks=1)
    assert model(torch.rand(1, 1, 8, 8)).shape == (1, 4, 2, 2)


@pytest.mark.parametrize("scale", [2, 4])
def test_every_parameter_gets_a_finite_gradient(scale):
    torch.manual_seed(0)
    model = _small(scale=scale)
    x = torch.rand(2, 3, 16, 16, requires_grad=True)
    model(x).square().mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name
    assert x.grad.abs().sum() > 0


def test_blocks_are_addressable_residual_blocks():
    model = DeResnet(num_feat=8, num_blocks=3)
    assert isinstance(model.blocks, nn.Sequential)
    assert len(model.blocks) == 3
    assert all(isinstance(block, ResidualBlock) for block in model.blocks)


def test_prelu_has_one_slope():
    prelus = [m for m in DeResnet().modules() if isinstance(m, nn.PReLU)]
    assert len(prelus) == 1 + 8 + 2
    assert all(m.weight.numel() == 1 for m in prelus)


def test_residual_block_is_identity_when_last_conv_is_zero():
    block = ResidualBlock(8)
    nn.init.zeros_(block.conv2.weight)
    nn.init.zeros_(block.conv2.bias)
    x = torch.randn(2, 8, 6, 6)
    torch.testing.assert_close(block(x), x)


def test_no_bicubic_skip_output_depends_only_on_network():
    # With the tail zeroed the output is sigmoid(0) = 0.5 everywhere, whatever the input: no skip path.
    model = _small()
    nn.init.zeros_(model.tail.weight)
    nn.init.zeros_(model.tail.bias)
    y = model(torch.rand(1, 3, 16, 16))
    torch.testing.assert_close(y, torch.full_like(y, 0.5))


def test_parameter_counts():
    with torch.device("meta"):
        x4, x2 = _num_params(DeResnet()), _num_params(DeResnet(scale=2))
    assert x4 == 668_238
    assert abs(x4 - 0.67e6) / 0.67e6 < 0.02
    # Scale 2 drops one stride-2 conv + PReLU (64 * 64 * 9 + 64 + 1).
    assert x2 == x4 - 36_929


@pytest.mark.parametrize(
    "kwargs",
    [{"scale": 3}, {"scale": 1}, {"scale": 8}, {"num_feat": 0}, {"num_blocks": 0}, {"in_channels": -1}],
)
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        DeResnet(**kwargs)
