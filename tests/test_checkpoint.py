"""probdeg.checkpoint: saving when the disk is full names the file and keeps the previous checkpoint."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
import torch

from probdeg.archs import DeResnet
from probdeg.checkpoint import load_network, save_checkpoint
from probdeg.errors import DiskFullError, UserError

NET = {"type": "DeResnet", "num_feat": 8, "num_blocks": 1, "scale": 4}


def full_disk(monkeypatch, when=lambda path: True) -> None:
    """Writes of whole files (``Path.write_bytes``) fail as on a full disk, where ``when(path)``."""
    write = Path.write_bytes

    def write_bytes(self, data):
        if when(self):
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return write(self, data)

    monkeypatch.setattr(Path, "write_bytes", write_bytes)


def test_a_full_disk_names_the_checkpoint_and_keeps_the_previous_one(tmp_path, monkeypatch):
    path = tmp_path / "models" / "net_g_latest.pth"
    torch.manual_seed(0)
    save_checkpoint(path, DeResnet(num_feat=8, num_blocks=1), NET)
    before = path.read_bytes()
    full_disk(monkeypatch)
    with pytest.raises(DiskFullError) as error:
        save_checkpoint(path, DeResnet(num_feat=8, num_blocks=1), NET)
    assert isinstance(error.value, UserError) and error.value.path == path
    assert str(error.value).startswith(f"no space left on {str(path.parent)!r} to write 'net_g_latest.pth'")
    assert path.read_bytes() == before and sorted(p.name for p in path.parent.iterdir()) == [path.name]
    monkeypatch.undo()
    assert isinstance(load_network(path), DeResnet)
