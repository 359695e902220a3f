"""Fixtures shared by the tests (the nets and helpers they use live in helpers.py)."""

import pytest
import torch
from helpers import ResidualNet, StridedTailNet, sequential_net


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
