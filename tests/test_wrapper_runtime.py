"""`Probabilistic` under the runtimes users train with: autocast, channels_last, torch.compile, DDP."""

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from helpers import ResidualNet, StridedTailNet, randomise_injections
from torch.nn.parallel import DistributedDataParallel

from probdeg import Probabilistic

X = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("sigma", ["channel", "conditional"])
def test_autocast_keeps_the_bare_nets_output_dtype(dtype, sigma):
    net = StridedTailNet()
    with torch.autocast("cpu", dtype=dtype):
        expected = net(X)
    G = Probabilistic(net, sigma=sigma, where="after")
    randomise_injections(G, 0.1)
    with torch.autocast("cpu", dtype=dtype):
        out = G(X)
        mean = G(X, mode="mean")
    assert out.dtype == expected.dtype and out.shape == expected.shape
    assert torch.isfinite(out).all()
    assert not torch.equal(out, mean)


def test_channels_last_keeps_layout_and_values():
    G = Probabilistic(ResidualNet(), at="blocks.*", sigma="conditional")
    randomise_injections(G, 0.3)
    reference = G(X, seed=0)
    G_cl = G.to(memory_format=torch.channels_last)
    out = G_cl(X.to(memory_format=torch.channels_last), seed=0)
    assert out.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(out, reference, atol=1e-5)


@pytest.mark.slow
def test_torch_compile_gives_the_eager_samples():
    G = Probabilistic(ResidualNet(channels=4, blocks=2), at="blocks.*")
    randomise_injections(G, 0.3)
    compiled = torch.compile(G)
    eager_mean = G(X, mode="mean")
    assert torch.allclose(compiled(X, mode="mean"), eager_mean, atol=1e-5)
    sample = compiled(X)
    assert sample.shape == eager_mean.shape and not torch.equal(sample, eager_mean)
    sample.square().mean().backward()
    assert all(layer.weight.grad.abs().sum() > 0 for layer in G.injections)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, world: int, port: int, queue) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.manual_seed(0)
    G = Probabilistic(ResidualNet(channels=4, blocks=2), at="blocks.*")
    ddp = DistributedDataParallel(G)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.1)
    x = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(rank))
    ddp(x, seed=rank).square().mean().backward()
    opt.step()
    queue.put((rank, [layer.weight.detach().flatten().tolist() for layer in G.injections]))  # plain lists: no shm
    queue.close()
    queue.join_thread()  # the result is sent before the process group goes
    dist.barrier()  # neither rank tears gloo down while the other still uses it (an abort at exit, now and then)
    dist.destroy_process_group()


@pytest.mark.slow
def test_ddp_trains_the_latents_in_sync():
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    port = _free_port()
    procs = [ctx.Process(target=_ddp_worker, args=(rank, 2, port, queue)) for rank in range(2)]
    for p in procs:
        p.start()
    results = dict(queue.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert all(any(v != 0 for v in w) for w in results[0])  # the zero-init strength was trained
    assert results[0] == results[1]  # different data and noise per rank, yet equal weights: gradients all-reduced
