"""Collaborative learning (Eq. 4-6): loss terms by hand, no gradient into teachers, one forward per model."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from probdeg.collab import CollabWeights, collaborative_losses, collaborative_step, ensemble


def tiny_sr(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 12, 3, padding=1), nn.PixelShuffle(2))


def batches(k: int, b: int = 2, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    hr = torch.rand(b, 3, 8, 8, generator=gen)
    synthetic = [torch.rand(b, 3, 4, 4, generator=gen) for _ in range(k)]
    real = torch.rand(3, 3, 4, 4, generator=gen)
    return hr, synthetic, real


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("weights", [CollabWeights(), CollabWeights.released()])
def test_loss_terms_equal_eq_4_to_6_computed_by_hand(k, weights):
    models = [tiny_sr(i) for i in range(k)]
    hr, synthetic, real = batches(k)
    losses = collaborative_losses(models, synthetic, hr, real, progress=250, total=1000, weights=weights)

    def run(model, x):
        out = model(x)
        return out.clamp(0, 1) if weights.clamp else out

    pseudo = torch.stack([run(m, real) for m in models]).mean(0)
    for i, model in enumerate(models):
        sup = F.l1_loss(run(model, synthetic[i]), hr)
        col = sum(F.l1_loss(run(model, synthetic[j]), run(models[j], synthetic[j])) for j in range(k) if j != i)
        ada = F.l1_loss(run(model, real), pseudo)
        total = weights.sup * sup + weights.col * col + weights.ada * 0.25 * ada
        assert losses.sup[i].item() == pytest.approx(sup.item(), rel=1e-5)
        assert losses.col[i].item() == pytest.approx(col.item(), rel=1e-5)
        assert losses.ada[i].item() == pytest.approx(ada.item(), rel=1e-5)
        assert losses.total[i].item() == pytest.approx(total.item(), rel=1e-5)
    assert losses.ramp == 0.25
    assert weights.ada == (1.0 if weights.clamp else 10.0)


def test_no_gradient_reaches_a_teacher_through_distillation_or_pseudo_labels():
    models = [tiny_sr(i) for i in range(3)]
    hr, synthetic, real = batches(3)
    losses = collaborative_losses(models, synthetic, hr, real, progress=500, total=1000)
    for i in range(3):
        for j in range(3):
            if i == j:
                continue
            grads = torch.autograd.grad(losses.col[i] + losses.ada[i], list(models[j].parameters()),
                                        retain_graph=True, allow_unused=True)
            assert all(g is None or not g.any() for g in grads)
        own = torch.autograd.grad(losses.total[i], list(models[i].parameters()), retain_graph=True)
        assert all(g.abs().sum() > 0 for g in own)


def test_one_forward_per_model_over_the_concatenated_batch():
    models = [tiny_sr(i) for i in range(2)]
    calls = []
    for m in models:
        m.register_forward_hook(lambda mod, args, out: calls.append(args[0].shape[0]))
    hr, synthetic, real = batches(2)
    collaborative_losses(models, synthetic, hr, real, progress=1, total=10)
    assert calls == [2 + 2 + 3, 2 + 2 + 3]


def test_step_gives_each_model_the_gradient_of_its_own_loss():
    models = [tiny_sr(i) for i in range(2)]
    reference = [tiny_sr(i) for i in range(2)]
    hr, synthetic, real = batches(2)
    optimizers = [torch.optim.SGD(m.parameters(), lr=0.1) for m in models]
    collaborative_step(models, optimizers, synthetic, hr, real, progress=100, total=1000)
    ref_losses = collaborative_losses(reference, synthetic, hr, real, progress=100, total=1000)
    for i in range(2):
        grads = torch.autograd.grad(ref_losses.total[i], list(reference[i].parameters()), retain_graph=True)
        for p_new, p_old, g in zip(models[i].parameters(), reference[i].parameters(), grads):
            assert torch.allclose(p_new, p_old - 0.1 * g, atol=1e-6)


def test_k_equals_one_is_plain_supervised_training():
    model = tiny_sr(0)
    hr, synthetic, real = batches(1)
    losses = collaborative_losses([model], synthetic, hr, real, progress=1000, total=1000)
    assert losses.col[0] == 0 and losses.ada[0] == 0
    grads = torch.autograd.grad(losses.total[0], list(model.parameters()))
    expected = torch.autograd.grad(F.l1_loss(model(synthetic[0]), hr), list(model.parameters()))
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(grads, expected))


def test_synthetic_domain_only_and_ramp_and_bad_shapes():
    models = [tiny_sr(i) for i in range(2)]
    hr, synthetic, real = batches(2)
    losses = collaborative_losses(models, synthetic, hr, None, progress=5, total=10)
    assert all(a == 0 for a in losses.ada)
    assert collaborative_losses(models, synthetic, hr, real, progress=20, total=10).ramp == 1.0
    with pytest.raises(ValueError, match="one synthetic LR batch per model"):
        collaborative_losses(models, synthetic[:1], hr, real, 1, 10)
    with pytest.raises(ValueError, match="must share channel and spatial size"):
        collaborative_losses(models, synthetic, hr, torch.rand(1, 3, 5, 5), 1, 10)


def test_nonfinite_losses_skip_the_step():
    models = [tiny_sr(i) for i in range(2)]
    before = [p.clone() for p in models[0].parameters()]
    hr, synthetic, real = batches(2)
    hr[0, 0, 0, 0] = float("nan")
    optimizers = [torch.optim.SGD(m.parameters(), lr=0.1) for m in models]
    collaborative_step(models, optimizers, synthetic, hr, real, 1, 10)
    assert all(torch.equal(a, b) for a, b in zip(before, models[0].parameters()))


def test_ensemble_is_the_mean_of_the_models():
    a = torch.rand(2, 3, 4, 4)
    models = [tiny_sr(0), tiny_sr(1)]
    assert torch.allclose(ensemble(models, a), (models[0](a) + models[1](a)) / 2)


def test_without_the_consistency_term_each_model_runs_on_its_own_domain_with_the_same_gradients():
    torch.manual_seed(0)
    hr = torch.rand(2, 3, 16, 16)
    synthetic = [torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)]
    real = torch.rand(2, 3, 8, 8)
    weights = CollabWeights(col=0.0)
    grads = []
    for skip in (True, False):
        models = [tiny_sr(0), tiny_sr(1)]
        calls = []
        for model in models:
            model.register_forward_hook(lambda m, args, out, calls=calls: calls.append(args[0].shape[0]))
        w = weights if skip else CollabWeights(col=1e-30)  # the full path, the peers' term numerically nil
        losses = collaborative_losses(models, synthetic, hr, real, 5, 10, w)
        torch.stack(losses.total).sum().backward()
        grads.append([p.grad.clone() for m in models for p in m.parameters()])
        assert calls == ([4, 4] if skip else [6, 6])  # [own, real] instead of [x~_1, x~_2, real]
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(*grads))


def test_an_autocast_step_runs_the_forwards_in_bfloat16_and_keeps_weights_and_losses_float32():
    models = [tiny_sr(i) for i in range(2)]
    reference = [tiny_sr(i) for i in range(2)]
    hr, synthetic, real = batches(2)
    seen = []
    for m in models:
        m[0].register_forward_hook(lambda mod, inp, out: seen.append(out.dtype))
    optimizers = [torch.optim.SGD(m.parameters(), lr=0.1) for m in models]
    losses = collaborative_step(models, optimizers, synthetic, hr, real, progress=100, total=1000,
                                autocast=torch.bfloat16)
    assert seen == [torch.bfloat16, torch.bfloat16]
    assert all(t.dtype == torch.float32 for t in losses.total)
    assert all(p.dtype == torch.float32 for m in models for p in m.parameters())
    # The same step in float32, to bfloat16's precision (3 significant digits): losses and updated weights agree.
    ref_opt = [torch.optim.SGD(m.parameters(), lr=0.1) for m in reference]
    ref_losses = collaborative_step(reference, ref_opt, synthetic, hr, real, progress=100, total=1000)
    for a, b in zip(losses.total, ref_losses.total):
        torch.testing.assert_close(a, b, rtol=2e-2, atol=1e-3)
    for m, r in zip(models, reference):
        for a, b in zip(m.parameters(), r.parameters()):
            torch.testing.assert_close(a, b, rtol=2e-2, atol=2e-3)
            assert not torch.equal(a, b)  # bfloat16 did run: float32 would match to the last bit
