"""CUDA paths: skipped without a GPU (CI has none); run on a GPU machine with `pytest tests/test_cuda.py`."""

import pytest
import torch
from helpers import ResidualNet, randomise_injections

from probdeg import NoiseInjection, Probabilistic, probabilistic_deresnet, probabilistic_strided_han

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
CUDA = torch.device("cuda")


@pytest.mark.parametrize("sigma", ["channel", "conditional"])
def test_wrapped_net_runs_on_cuda_with_noise_made_there(sigma):
    G = Probabilistic(ResidualNet(), at="blocks.*", sigma=sigma).to(CUDA)
    randomise_injections(G.cpu(), 0.3)
    G.to(CUDA)
    x = torch.rand(2, 3, 32, 32, device=CUDA)
    out = G(x)
    assert out.device.type == "cuda" and out.dtype == torch.float32
    assert torch.equal(G(x, seed=1), G(x, seed=1)) and not torch.equal(G(x, seed=1), G(x, seed=2))
    # A CPU generator drives a CUDA net: the same numbers as on the CPU.
    cpu_out = G.cpu()(x.cpu(), generator=torch.Generator().manual_seed(4))
    G.to(CUDA)
    cuda_out = G(x, generator=torch.Generator().manual_seed(4))
    assert torch.allclose(cuda_out.cpu(), cpu_out, atol=1e-4)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_autocast_on_cuda_keeps_dtype_and_stays_finite(dtype):
    han = probabilistic_strided_han(num_feat=32, num_groups=3, num_blocks=2).to(CUDA)
    randomise_injections(han, 0.1)
    x = torch.rand(2, 3, 64, 64, device=CUDA)
    with torch.autocast("cuda", dtype=dtype):
        bare = han.net(x)  # hooks stay on: the same latents as the wrapped call
        out = han(x)
        out.float().mean().backward()
    assert out.dtype == bare.dtype == dtype
    assert torch.isfinite(out).all()
    assert all(torch.isfinite(p.grad).all() for p in han.parameters() if p.grad is not None)


@pytest.mark.parametrize("sigma", ["channel", "conditional"])
def test_fused_noise_on_cuda_equals_cpu_values_and_grads(sigma):
    layer = NoiseInjection(8, sigma=sigma, std=0.5)
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(torch.randn_like(p))
    h = torch.randn(2, 8, 16, 16)
    results = []
    for device in ("cpu", "cuda"):
        layer.to(device)
        h_dev = h.to(device).requires_grad_(True)
        layer.context.generator = torch.Generator().manual_seed(0)
        out = layer(h_dev)
        grads = torch.autograd.grad(out.sin().sum(), [h_dev, *layer.parameters()])
        results.append([out.detach().cpu(), *[g.cpu() for g in grads]])
    for a, b in zip(*results):
        assert torch.allclose(a, b, atol=1e-4, rtol=1e-4)


def test_channels_last_and_compile_on_cuda():
    G = probabilistic_deresnet(num_feat=16, num_blocks=2, sigma="conditional").to(CUDA)
    randomise_injections(G, 0.2)
    x = torch.rand(2, 3, 64, 64, device=CUDA)
    mean = G(x, mode="mean")
    G_cl = G.to(memory_format=torch.channels_last)
    # cuDNN picks other (TF32) algorithms for NHWC: equal to about 1e-3, not bit for bit.
    assert torch.allclose(G_cl(x.to(memory_format=torch.channels_last), mode="mean"), mean, atol=2e-3)
    compiled = torch.compile(G)
    assert torch.allclose(compiled(x, mode="mean"), mean, atol=2e-3)
    sample = compiled(x)
    sample.mean().backward()
    assert not torch.equal(sample, mean)
    assert all(layer.weight.grad is not None for layer in G.injections)


def test_collaborative_step_on_cuda_matches_cpu():
    from probdeg.collab import collaborative_losses

    def tiny_sr(seed):
        torch.manual_seed(seed)
        return torch.nn.Sequential(torch.nn.Conv2d(3, 12, 3, padding=1), torch.nn.PixelShuffle(2))

    gen = torch.Generator().manual_seed(0)
    hr = torch.rand(2, 3, 16, 16, generator=gen)
    synthetic = [torch.rand(2, 3, 8, 8, generator=gen) for _ in range(2)]
    real = torch.rand(2, 3, 8, 8, generator=gen)
    totals = {}
    for device in ("cpu", "cuda"):
        models = [tiny_sr(i).to(device) for i in range(2)]
        losses = collaborative_losses(models, [x.to(device) for x in synthetic], hr.to(device), real.to(device),
                                      progress=3, total=10)
        totals[device] = torch.stack(losses.total).cpu()
    assert torch.allclose(totals["cpu"], totals["cuda"], atol=1e-4)
