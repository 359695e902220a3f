"""Small nets and checkpoint makers shared by the tests: nets of different build for the wrapper, a tiny trained-looking
generator, a tiny RRDBNet."""

from __future__ import annotations

import errno
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import yaml
from torch import nn

from probdeg import NoiseInjection, Probabilistic
from probdeg.archs import probabilistic_deresnet
from probdeg.io import write_image


class ResBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        return x + self.conv2(torch.relu(self.conv1(x)))


class ResidualNet(nn.Module):
    """A head, residual blocks at full resolution and an image tail (no strides)."""

    def __init__(self, channels: int = 8, blocks: int = 3) -> None:
        super().__init__()
        self.head = nn.Conv2d(3, channels, 3, padding=1)
        self.blocks = nn.Sequential(*[ResBlock(channels) for _ in range(blocks)])
        self.tail = nn.Conv2d(channels, 3, 3, padding=1)

    def forward(self, x):
        return self.tail(self.blocks(self.head(x)))


class StridedTailNet(nn.Module):
    """Full-resolution features, then a stride-2 downsampling tail (HR -> LR x2)."""

    def __init__(self, channels: int = 8) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, channels, 3, padding=1), nn.PReLU(),
                                      nn.Conv2d(channels, channels, 3, padding=1), nn.PReLU())
        self.down = nn.Sequential(nn.Conv2d(channels, channels, 3, stride=2, padding=1), nn.PReLU())
        self.out = nn.Conv2d(channels, 3, 3, padding=1)

    def forward(self, x):
        return torch.sigmoid(self.out(self.down(self.features(x))))


def sequential_net(channels: int = 8) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(3, channels, 3, padding=1), nn.ReLU(), nn.Conv2d(channels, channels, 3, padding=1),
                         nn.ReLU(), nn.Conv2d(channels, 3, 3, padding=1))


def randomise_injections(model: nn.Module, scale: float = 1.0) -> None:
    """Give every injection parameter a non-zero value, as after some training."""
    gen = torch.Generator().manual_seed(123)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, NoiseInjection):
                for p in module.parameters():
                    p.copy_(torch.randn(p.shape, generator=gen) * scale)


NET = {"type": "DeResnet", "num_feat": 8, "num_blocks": 2, "scale": 4}


def tiny_generator() -> Probabilistic:
    torch.manual_seed(0)
    G = probabilistic_deresnet(num_feat=8, num_blocks=2, scale=4)
    randomise_injections(G, scale=5.0)  # as if trained: samples differ visibly
    return G.eval()


def rrdb_options(scale: int = 4) -> dict:
    return {"type": "RRDBNet", "num_in_ch": 3, "num_out_ch": 3, "num_feat": 8, "num_block": 1, "num_grow_ch": 4,
            "scale": scale}


def rrdbnet(scale: int = 4, seed: int = 0) -> nn.Module:
    from probdeg.integrations.basicsr import build_network

    torch.manual_seed(seed)
    return build_network(rrdb_options(scale)).eval()


def realesrgan_net(kind: str, scale: int, seed: int) -> nn.Module:
    """A tiny BasicSR RRDBNet or SRVGGNetCompact with random weights, as Real-ESRGAN's releases build them."""
    from probdeg.integrations.basicsr import build_network  # BasicSR's archs, importable on current torchvision

    torch.manual_seed(seed)
    if kind == "rrdb":
        # num_grow_ch 32 as Real-ESRGAN's: spandrel reads every other size from the weights but assumes this one
        net = build_network({"type": "RRDBNet", "num_in_ch": 3, "num_out_ch": 3, "num_feat": 8, "num_block": 1,
                             "num_grow_ch": 32, "scale": scale})
    else:
        net = build_network({"type": "SRVGGNetCompact", "num_in_ch": 3, "num_out_ch": 3, "num_feat": 8, "num_conv": 2,
                             "upscale": scale, "act_type": "prelu"})
    with torch.no_grad():  # random weights far from an identity: outputs that differ between nets and seeds
        for param in net.parameters():
            param.add_(0.05 * torch.randn_like(param))
    return net.eval()


REPO = Path(__file__).resolve().parents[1]


TINY = REPO / "integrations" / "basicsr" / "options" / "tiny"


HR_NAMES = ("a.png", "b.png", "sub/c.png")


LR_NAMES = ("a.png", "sub/b.png")


def smooth_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w] / 11.0
    image = 0.5 + 0.3 * np.sin(yy[..., None] + xx[..., None] * np.array([1.0, 0.7, 0.4]))
    return np.clip(image + 0.1 * np.random.default_rng(seed).random((h, w, 3)), 0, 1).astype(np.float32)


def one_error_line(err: str, command: str) -> str:
    """The error line of a failed command, checked to be its only one and traceback-free."""
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1, err
    assert errors[0].startswith(f"probdeg {command}: error: "), err
    return errors[0]


def folder_files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def folder_pngs(folder: Path) -> dict[str, bytes]:
    return {name: data for name, data in folder_files(folder).items() if name.endswith(".png")}


def folder_manifest(folder: Path) -> dict:
    return json.loads((folder / ".probdeg.json").read_text())


def folder_args(command: str, model: Path, source: Path, out: Path, *extra: str) -> list[str]:
    return [command, "--model", str(model), "--input", str(source), "--output", str(out), "--device", "cpu",
            "--no-progress", *extra]


def tiny_stage1_options(root: Path, name: str, **train) -> Path:
    """The tiny deterministic stage-1 preset, shrunk to a few seconds (no validation), with relative dataroots."""
    opt = yaml.safe_load((TINY / "deg_deresnet_det.yml").read_text())
    opt["name"] = name
    opt["network_g"].update(num_feat=8, num_blocks=1)
    opt["network_d"]["num_feat"] = 8
    opt["datasets"]["train"].update(crop_size=32, length=8)
    opt.pop("val")
    opt["train"].update({"total_iter": 30, "scheduler": {"type": "MultiStepLR", "milestones": [1000]}, **train})
    opt["logger"].update(print_freq=1, save_checkpoint_freq=2)
    path = root / f"{name}.yml"
    path.write_text(yaml.safe_dump(opt))
    return path


def run_train(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "probdeg", "train", *args, "--no-progress"], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def untouched(folder: Path) -> bool:
    """``folder`` still holds its marker file, and no ``<folder>_archived_*`` sibling was made."""
    return (folder / "marker.txt").read_text() == "keep" and not list(folder.parent.glob(f"{folder.name}_archived_*"))


def marked(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "marker.txt").write_text("keep")
    return folder


ARCH = "ProbdegTestNearestSR"


class NearestSR(nn.Module):
    """Nearest-neighbour up-sampling plus a convolutional residual; ``residual=0`` is exactly nearest."""

    def __init__(self, scale: int = 2, residual: float = 0.0) -> None:
        super().__init__()
        self.scale = scale
        self.conv = nn.Conv2d(3, 3 * scale**2, 3, padding=1)
        with torch.no_grad():
            self.conv.weight.normal_(std=residual)
            self.conv.bias.zero_()
        self.shuffle = nn.PixelShuffle(scale)

    def forward(self, x):
        return F.interpolate(x, scale_factor=self.scale, mode="nearest") + self.shuffle(self.conv(x))


def register_test_arch() -> None:
    """Put NearestSR in BasicSR's registry (once), so its checkpoints rebuild through `load_network`."""
    from probdeg.integrations.basicsr import import_basicsr

    import_basicsr()
    from basicsr.utils.registry import ARCH_REGISTRY

    if ARCH not in ARCH_REGISTRY:
        ARCH_REGISTRY._do_register(ARCH, NearestSR)


def texture(h: int, w: int, seed: int) -> np.ndarray:
    """A uint8 RGB image in [10, 245] (room for a +5 offset without clipping)."""
    gen = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / 7.0
    smooth = 0.5 + 0.3 * np.sin(yy[..., None] + xx[..., None] * np.array([1.0, 0.6, 0.3]))
    image = np.clip(smooth + 0.15 * gen.standard_normal((h, w, 3)), 0, 1)
    return np.rint(10 + image * 235).astype(np.uint8)


def save_uint8(path: Path, image: np.ndarray) -> None:
    write_image(path, image.astype(np.float32) / 255.0)


def full_disk(monkeypatch, when=lambda path: True) -> None:
    """Writes of whole files (``Path.write_bytes``) fail as on a full disk, where ``when(path)``."""
    write = Path.write_bytes

    def write_bytes(self, data):
        if when(self):
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return write(self, data)

    monkeypatch.setattr(Path, "write_bytes", write_bytes)
