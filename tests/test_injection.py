"""The latent layer on its own: zero init, noise statistics, sampling modes, gradients."""

import pytest
import torch
from torch import nn

from probdeg import NoiseInjection, SamplingContext
from probdeg.injection import draw_noise


@pytest.mark.parametrize("sigma", ["channel", "conditional"])
@pytest.mark.parametrize("noise", ["shared", "per_channel"])
def test_zero_init_is_exact_identity(sigma, noise):
    layer = NoiseInjection(6, sigma=sigma, noise=noise, mean_shift=sigma == "conditional")
    h = torch.randn(2, 6, 9, 7)
    assert torch.equal(layer(h), h)


def test_channel_noise_has_the_variance_of_weight_times_std():
    layer = NoiseInjection(3, sigma="channel", std=0.1)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([0.5, 2.0, 4.0]).view(1, 3, 1, 1))
    h = torch.full((4, 3, 128, 128), 0.3)
    delta = layer(h) - h
    expected_std = torch.tensor([0.05, 0.2, 0.4])
    assert torch.allclose(delta.mean(dim=(0, 2, 3)), torch.zeros(3), atol=0.01)
    assert torch.allclose(delta.std(dim=(0, 2, 3)), expected_std, rtol=0.02)


def test_shared_noise_is_one_map_for_all_channels_and_per_channel_is_not():
    shared = NoiseInjection(4, noise="shared")
    per_channel = NoiseInjection(4, noise="per_channel")
    for layer in (shared, per_channel):
        nn.init.ones_(layer.weight)
    h = torch.zeros(1, 4, 16, 16)
    d_shared = shared(h)
    assert torch.allclose(d_shared[:, 0], d_shared[:, 3])
    d_per = per_channel(h)
    assert not torch.allclose(d_per[:, 0], d_per[:, 3])
    assert torch.corrcoef(d_per.flatten(2)[0])[0, 1].abs() < 0.3


def test_conditional_sigma_depends_on_the_feature_and_normalises_to_unit_gaussian():
    torch.manual_seed(0)
    layer = NoiseInjection(3, sigma="conditional", std=1.0, mean_shift=True)
    with torch.no_grad():
        layer.weight.fill_(1.0)
        layer.sigma_conv.weight.fill_(2.0)
        layer.sigma_conv.bias.zero_()
        layer.shift_conv.bias.fill_(0.25)
    dark = torch.full((1, 3, 64, 64), -1.0)
    bright = torch.full((1, 3, 64, 64), 1.0)
    assert (layer.sigma(bright) > layer.sigma(dark)).all()  # signal-dependent, like shot noise
    h = torch.cat([dark, bright]).repeat(4, 1, 1, 1)
    z = (layer(h) - layer.mean(h)) / layer.sigma(h)
    assert abs(z.mean().item()) < 0.02
    assert abs(z.var().item() - 1.0) < 0.03
    assert torch.allclose(layer.mean(h), h + 0.25)


def test_mean_mode_temperature_and_generator():
    ctx = SamplingContext()
    layer = NoiseInjection(2, context=ctx)
    nn.init.ones_(layer.weight)
    h = torch.zeros(3, 2, 32, 32)
    ctx.mode = "mean"
    assert torch.equal(layer(h), h)
    ctx.mode, ctx.temperature = "random", 0.0
    assert torch.equal(layer(h), h)
    ctx.temperature = 3.0
    assert abs(layer(h).std().item() - 0.3) < 0.02
    ctx.temperature = 1.0
    ctx.generator = torch.Generator().manual_seed(5)
    a = layer(h)
    ctx.generator = torch.Generator().manual_seed(5)
    assert torch.equal(a, layer(h))


def test_noise_follows_input_dtype_and_a_generator_on_another_device_is_allowed():
    like = torch.zeros(1, dtype=torch.float64)
    noise = draw_noise((2, 3), like, torch.Generator().manual_seed(0))
    assert noise.dtype == torch.float64
    bf16 = NoiseInjection(2)
    nn.init.ones_(bf16.weight)
    assert bf16(torch.zeros(1, 2, 4, 4, dtype=torch.bfloat16)).dtype == torch.bfloat16


@pytest.mark.parametrize(("sigma", "noise", "mean_shift"), [
    ("channel", "shared", False), ("conditional", "shared", False),  # the fused path
    ("channel", "per_channel", False), ("conditional", "per_channel", True),  # plain autograd
])
def test_gradcheck_float64(sigma, noise, mean_shift):
    layer = NoiseInjection(3, sigma=sigma, noise=noise, mean_shift=mean_shift).double()
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(torch.randn_like(p) * 0.5)
    names = [name for name, _ in layer.named_parameters()]
    h = torch.randn(2, 3, 5, 4, dtype=torch.float64, requires_grad=True)

    def run(h, *params):
        layer.context.generator = torch.Generator().manual_seed(11)  # the same eps on every call
        return torch.func.functional_call(layer, dict(zip(names, params)), (h,))

    inputs = (h, *[p.detach().clone().requires_grad_(True) for p in layer.parameters()])
    assert torch.autograd.gradcheck(run, inputs)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="sigma"):
        NoiseInjection(3, sigma="gaussian")
    with pytest.raises(ValueError, match="noise"):
        NoiseInjection(3, noise="blue")
    with pytest.raises(ValueError, match="mean_shift"):
        NoiseInjection(3, sigma="channel", mean_shift=True)
    with pytest.raises(ValueError, match="built for 3 channels"):
        NoiseInjection(3, name="blocks.0")(torch.zeros(1, 4, 2, 2))


@pytest.mark.parametrize("sigma", ["channel", "conditional"])
@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_fused_path_equals_the_plain_formula_values_and_gradients(sigma, memory_format):
    layer = NoiseInjection(5, sigma=sigma, std=0.3)
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(torch.randn_like(p))
    h = torch.randn(3, 5, 6, 7).to(memory_format=memory_format).requires_grad_(True)
    layer.context.generator = torch.Generator().manual_seed(2)
    fused = layer(h)
    fused_grads = torch.autograd.grad(fused.sin().sum(), [h, *layer.parameters()])
    eps = torch.randn(3, 1, 6, 7, generator=torch.Generator().manual_seed(2))
    plain = h + layer.sigma(h) * eps  # sigma() is written with ordinary autograd ops
    plain_grads = torch.autograd.grad(plain.sin().sum(), [h, *layer.parameters()])
    assert torch.allclose(fused, plain, atol=1e-6)
    for a, b in zip(fused_grads, plain_grads):
        assert torch.allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("noise", ["shared", "per_channel"])
def test_a_custom_noise_source_replaces_the_iid_draws(noise):
    calls = []

    def ones(layer, h, shape):
        calls.append((layer.name, shape))
        return torch.ones(shape, dtype=h.dtype)

    ctx = SamplingContext(noise=ones, temperature=2.0)
    layer = NoiseInjection(3, noise=noise, std=0.5, context=ctx, name="blocks.0")
    nn.init.ones_(layer.weight)
    h = torch.zeros(2, 3, 4, 5)
    assert torch.equal(layer(h), torch.full((2, 3, 4, 5), 1.0))  # weight 1 x std 0.5 x eps 1 x temperature 2
    assert calls == [("blocks.0", (2, 1 if noise == "shared" else 3, 4, 5))]
