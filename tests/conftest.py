"""Fixtures shared by the tests (the nets and helpers they use live in helpers.py)."""

import logging
import sys
from pathlib import Path

import pytest
import torch
from helpers import (
    HR_NAMES,
    LR_NAMES,
    NET,
    ResidualNet,
    StridedTailNet,
    realesrgan_net,
    rrdb_options,
    rrdbnet,
    sequential_net,
    smooth_image,
    tiny_generator,
)

from probdeg.checkpoint import save_checkpoint
from probdeg.io import write_image
from probdeg.sample_task import make_sample_data


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

@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """Two generators, two SR nets (tiny), a folder of HR and one of LR images."""
    root = tmp_path_factory.mktemp("reliability_files")
    generator = tiny_generator()
    save_checkpoint(root / "G.pth", generator, {"type": "Probabilistic", "net": NET})
    with torch.no_grad():
        next(generator.parameters()).add_(0.05)
    save_checkpoint(root / "G2.pth", generator, {"type": "Probabilistic", "net": NET})
    save_checkpoint(root / "SR.pth", rrdbnet(seed=0), rrdb_options())
    save_checkpoint(root / "SR2.pth", rrdbnet(seed=1), rrdb_options())
    for i, name in enumerate(HR_NAMES):
        write_image(root / "hr" / name, smooth_image(48, 48, i))
    for i, name in enumerate(LR_NAMES):
        write_image(root / "lr" / name, smooth_image(16, 20, i))
    return {"root": root, "G": root / "G.pth", "G2": root / "G2.pth", "SR": root / "SR.pth", "SR2": root / "SR2.pth",
            "hr": root / "hr", "lr": root / "lr"}


@pytest.fixture(scope="module")
def sample_root(tmp_path_factory) -> Path:
    """A folder with datasets/sample (probdeg sample-data), where option files with relative dataroots run."""
    root = tmp_path_factory.mktemp("reliability_train") / "work"
    make_sample_data(root / "datasets" / "sample", seed=0)
    return root


@pytest.fixture
def quiet_basicsr_logger():
    """BasicSR's console logger bound to the real stderr, not to a test's captured stream that closes after it (an
    in-process training would otherwise leave it writing to a closed file)."""
    from basicsr.utils import get_root_logger

    saved, sys.stderr = sys.stderr, sys.__stderr__
    try:
        logger = get_root_logger(logger_name="basicsr")
    finally:
        sys.stderr = saved
    for handler in logger.handlers:
        if type(handler) is logging.StreamHandler:
            handler.setStream(sys.__stderr__)
    yield
    for handler in [h for h in logger.handlers if isinstance(h, logging.FileHandler)]:
        logger.removeHandler(handler)
        handler.close()


@pytest.fixture
def no_lpips_weights(tmp_path, monkeypatch):
    """LPIPS finds no AlexNet weights (an empty TORCH_HOME) unless a test gives them."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_torch_home"))  # LPIPS finds no weights unless given
