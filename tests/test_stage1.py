"""Stage 1 in plain PyTorch (probdeg.stage1) and its diversity term (probdeg.losses.DiversityLoss)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from probdeg import FSDiscriminator
from probdeg.archs import probabilistic_deresnet
from probdeg.filters import HighPass
from probdeg.losses import ColorLoss, DiversityLoss
from probdeg.metrics.degradation import sample_spread
from probdeg.stage1 import DegradationGAN, GeneratorLossWeights, generator_loss, vanilla_gan_loss


def nets(seed: int = 0, init_strength: float = 0.0):
    torch.manual_seed(seed)
    G = probabilistic_deresnet(num_feat=8, num_blocks=2, init_strength=init_strength)
    D = FSDiscriminator(num_feat=8)
    return G, D


def test_the_diversity_gradient_reaches_the_latents_and_not_the_detached_sample():
    G, _ = nets(init_strength=0.5)
    hr = torch.rand(2, 3, 32, 32)
    loss = DiversityLoss(HighPass("wavelet"), tau=1.0)
    sample = G(hr)
    other = G(hr).detach().requires_grad_(True)  # a leaf: any gradient reaching it would show in .grad
    loss(sample, other).backward()
    assert other.grad is None
    grads = [layer.weight.grad for layer in G.injections]
    assert all(g is not None and g.abs().sum() > 0 for g in grads)


def test_the_diversity_term_is_bounded_by_tau():
    high_pass = HighPass("wavelet")
    a = torch.rand(1, 3, 16, 16, requires_grad=True)
    b = torch.rand(1, 3, 16, 16)
    distance = DiversityLoss(high_pass, tau=10.0).distance(a, b).item()
    bounded = DiversityLoss(high_pass, tau=distance / 2)(a, b)
    assert bounded.item() == pytest.approx(-distance / 2)
    bounded.backward()
    assert a.grad.abs().sum() == 0  # past the bound: no more reward, no gradient
    with pytest.raises(ValueError, match="tau"):
        DiversityLoss(high_pass, tau=0.0)


def test_without_the_diversity_term_the_loss_is_dasr_s():
    G, D = nets()
    hr, reference = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 8, 8)
    color = ColorLoss("wavelet")
    torch.manual_seed(1)
    loss = generator_loss(G, D, hr, reference, color=color, adversarial=vanilla_gan_loss)
    torch.manual_seed(1)
    fake = G(hr)
    logits = D(fake)
    expected = color(fake, reference) + 0.005 * F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
    assert loss.other is None and set(loss.terms) == {"l_g_color", "l_g_gan"}
    assert torch.allclose(loss.total, expected)
    with pytest.raises(ValueError, match="DiversityLoss"):
        generator_loss(G, D, hr, reference, color=color, adversarial=vanilla_gan_loss,
                       weights=GeneratorLossWeights(diversity=1.0))


def _spread_after_training(diversity: float) -> float:
    G, D = nets(seed=0)
    gan = DegradationGAN(G, D, lr=1e-3, injection_lr=1e-2, weights=GeneratorLossWeights(diversity=diversity),
                         diversity_tau=0.05)
    gen = torch.Generator().manual_seed(0)
    hr = torch.rand(4, 3, 32, 32, generator=gen)
    reference = F.avg_pool2d(hr, 4)
    for _ in range(25):
        real = (reference + 0.05 * torch.randn(reference.shape, generator=gen)).clamp(0, 1)
        log = gan.step(hr, reference, real)
    assert all(torch.isfinite(torch.tensor(v)) for v in log.values())
    with torch.no_grad():
        return sample_spread(G(hr, n_samples=3, seed=0)).mean().item()


def test_the_diversity_term_makes_the_samples_differ():
    without, with_term = _spread_after_training(0.0), _spread_after_training(5.0)
    assert with_term > 5 * without


def test_an_autocast_step_runs_g_and_d_in_bfloat16_and_keeps_weights_and_losses_float32():
    def step(autocast):
        G, D = nets(seed=0, init_strength=0.5)
        seen = []
        for net in (G, D):
            first_conv = next(m for m in net.modules() if isinstance(m, torch.nn.Conv2d))
            first_conv.register_forward_hook(lambda mod, inp, out: seen.append(out.dtype))
        gan = DegradationGAN(G, D, lr=1e-3, weights=GeneratorLossWeights(diversity=1.0), diversity_tau=0.05,
                             autocast=autocast)
        gen = torch.Generator().manual_seed(0)
        hr = torch.rand(2, 3, 32, 32, generator=gen)
        reference = F.avg_pool2d(hr, 4)
        log = gan.step(hr, reference, (reference + 0.05 * torch.randn(reference.shape, generator=gen)).clamp(0, 1))
        return G, D, seen, log

    G, D, seen, log = step(torch.bfloat16)
    assert set(seen) == {torch.bfloat16}
    assert all(p.dtype == torch.float32 for net in (G, D) for p in net.parameters())
    G32, D32, seen32, log32 = step(None)
    assert set(seen32) == {torch.float32}
    for key in log32:  # the same step in float32, to bfloat16's precision
        assert log[key] == pytest.approx(log32[key], rel=5e-2, abs=2e-3), key
    for a, b in zip(list(G.parameters()) + list(D.parameters()), list(G32.parameters()) + list(D32.parameters())):
        torch.testing.assert_close(a, b, rtol=2e-2, atol=2e-3)
