import pytest
import torch
from einops import rearrange
from torch import nn

from probdeg.archs import ChannelSpatialAttention, LayerAttention, ResidualGroup, StridedHAN


def _num_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _small(**kwargs) -> StridedHAN:
    return StridedHAN(num_feat=8, num_groups=2, num_blocks=2, reduction=4, **kwargs)


def _set_gammas(model: nn.Module, value: float) -> None:
    with torch.no_grad():
        model.la.gamma.fill_(value)
        model.csa.gamma.fill_(value)


@pytest.mark.parametrize("scale", [2, 4])
def test_output_shape(scale):
    torch.manual_seed(0)
    y = _small(scale=scale)(torch.rand(2, 3, 16, 16))
    assert y.shape == (2, 3, 16 // scale, 16 // scale)
    assert torch.isfinite(y).all()


def test_structure():
    model = _small()
    assert len(model.body) == 2 + 1
    assert all(isinstance(m, ResidualGroup) for m in model.body[:-1])
    assert isinstance(model.body[-1], nn.Conv2d)
    assert isinstance(model.csa, ChannelSpatialAttention)
    assert len(model.head) == 2
    assert model.head[0].stride == (2, 2) and model.head[0].in_channels == 3


@pytest.mark.parametrize("gamma", [0.0, 0.5])
@pytest.mark.parametrize("csam_residual", [False, True])
def test_every_parameter_gets_a_finite_gradient(gamma, csam_residual):
    torch.manual_seed(0)
    model = _small(csam_residual=csam_residual)
    _set_gammas(model, gamma)
    x = torch.rand(2, 3, 16, 16, requires_grad=True)
    model(x).square().mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
    assert model.la.gamma.grad.abs() > 0
    assert model.csa.gamma.grad.abs() > 0
    assert x.grad.abs().sum() > 0
    # A pure gate with gamma 0 blocks the CSAM conv; once gamma moves the conv learns.
    csam_conv_learns = model.csa.conv.weight.grad.abs().sum() > 0
    assert csam_conv_learns == (gamma != 0)


def test_csam_residual_changes_output():
    torch.manual_seed(0)
    gate, residual = _small(csam_residual=False), _small(csam_residual=True)
    residual.load_state_dict(gate.state_dict())
    x = torch.rand(1, 3, 16, 16)
    # Same weights: at gamma 0 the pure gate gives 0 where the residual CSAM passes x through ...
    assert not torch.allclose(gate(x), residual(x))
    # ... and with gamma != 0 they still differ by that identity term.
    _set_gammas(gate, 0.5)
    _set_gammas(residual, 0.5)
    assert not torch.allclose(gate(x), residual(x))


class TestChannelSpatialAttention:
    def test_fresh_gate_outputs_zero_and_fresh_residual_is_identity(self):
        x = torch.randn(2, 4, 5, 5)
        assert torch.equal(ChannelSpatialAttention(residual=False)(x), torch.zeros_like(x))
        torch.testing.assert_close(ChannelSpatialAttention(residual=True)(x), x)

    def test_gate_formula(self):
        torch.manual_seed(0)
        module = ChannelSpatialAttention(residual=True)
        with torch.no_grad():
            module.gamma.fill_(0.7)
        x = torch.randn(2, 4, 5, 5)
        gate = torch.sigmoid(module.conv(x.unsqueeze(1))).squeeze(1)
        torch.testing.assert_close(module(x), x * 0.7 * gate + x)


class TestLayerAttention:
    def test_fresh_module_only_flattens(self):
        x = torch.randn(2, 3, 4, 5, 5)
        torch.testing.assert_close(LayerAttention()(x), rearrange(x, "b n c h w -> b (n c) h w"))

    def test_identical_layers_get_uniform_attention(self):
        module = LayerAttention()
        with torch.no_grad():
            module.gamma.fill_(1.0)
        layer = torch.randn(2, 1, 4, 3, 3)
        x = layer.expand(2, 3, 4, 3, 3)
        # Equal energies -> uniform softmax -> the mean layer (= the layer) is added once.
        torch.testing.assert_close(module(x), rearrange(2 * x, "b n c h w -> b (n c) h w"))

    def test_max_minus_energy_favours_least_correlated_layer(self):
        module = LayerAttention()
        with torch.no_grad():
            module.gamma.fill_(1.0)
        big, small = torch.full((1, 1, 1, 2, 2), 3.0), torch.full((1, 1, 1, 2, 2), 0.1)
        x = torch.cat((big, small), dim=1)
        out = module(x)
        # Layer 0 correlates far more with itself (36) than with layer 1 (1.2): it attends to layer 1.
        torch.testing.assert_close(out[:, 0], (3.0 + 0.1) * torch.ones(1, 2, 2), atol=1e-4, rtol=0)


def test_layer_attention_sees_body_outputs_newest_first():
    model = _small()
    body_outputs, lam_inputs = [], []
    for module in model.body:
        module.register_forward_hook(lambda m, i, o: body_outputs.append(o))
    model.la.register_forward_hook(lambda m, i, o: lam_inputs.append(i[0]))
    model(torch.rand(1, 3, 16, 16))
    stacked = lam_inputs[0]
    assert stacked.shape[1] == len(model.body)
    for k, out in enumerate(reversed(body_outputs)):
        torch.testing.assert_close(stacked[:, k], out)


def test_long_skip_from_head():
    # Zeroing `last` leaves tail(head(x)): the body only adds a residual to the head output.
    model = _small()
    nn.init.zeros_(model.last.weight)
    nn.init.zeros_(model.last.bias)
    x = torch.rand(1, 3, 16, 16)
    torch.testing.assert_close(model(x), model.tail(model.head(x)))


def test_parameter_counts():
    with torch.device("meta"):
        n64, n128 = _num_params(StridedHAN()), _num_params(StridedHAN(num_feat=128))
    assert n64 == 15_813_249
    assert 15.8e6 * 0.98 <= n64 <= 16.0e6 * 1.02
    assert n128 == 63_165_665
    assert abs(n128 - 63e6) / 63e6 < 0.02


@pytest.mark.parametrize(
    "kwargs",
    [{"scale": 3}, {"scale": 1}, {"num_feat": 8, "reduction": 16}, {"num_groups": 0}, {"num_blocks": 0}],
)
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        StridedHAN(**kwargs)


def test_layer_attention_stays_finite_under_float16_autocast():
    torch.manual_seed(0)
    lam = LayerAttention()
    with torch.no_grad():
        lam.gamma.fill_(1.0)
    x = torch.randn(1, 3, 16, 32, 32) * 20  # C*H*W products summing far past float16's 65504
    with torch.autocast("cpu", dtype=torch.float16):
        out = lam(x.half())
    assert torch.isfinite(out).all()
