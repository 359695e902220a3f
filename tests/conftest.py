"""Fixtures shared by the tests (the nets and helpers they use live in helpers.py)."""

import pytest
import torch
from helpers import ResidualNet, StridedTailNet, realesrgan_net, sequential_net


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a module of tiny-tensor tests: OpenMP hand-offs between threads cost more than the work,
    badly so on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


NET_BUILDERS = {"sequential": sequential_net, "residual": ResidualNet, "strided_tail": StridedTailNet}


@pytest.fixture(params=sorted(NET_BUILDERS))
def any_net(request) -> torch.nn.Module:
    torch.manual_seed(0)
    return NET_BUILDERS[request.param]()


@pytest.fixture
def realesrgan_checkpoint():
    """``make(path, kind="rrdb" | "compact", scale=4, seed=0) -> net``: writes ``{'params_ema': state_dict}`` to
    ``path`` as Real-ESRGAN's released .pth files hold it, and returns the net."""

    def make(path, kind: str = "rrdb", scale: int = 4, seed: int = 0) -> torch.nn.Module:
        net = realesrgan_net(kind, scale, seed)
        torch.save({"params_ema": net.state_dict()}, path)
        return net

    return make
