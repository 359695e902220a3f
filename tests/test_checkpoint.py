"""probdeg.checkpoint: bad, corrupt and non-finite checkpoints are one line naming the file; saving when the disk is
full names the file and keeps the previous checkpoint."""

from __future__ import annotations

import pytest
import torch
from helpers import (
    NET,
    folder_args,
    full_disk,
    one_error_line,
    tiny_generator,
)

from probdeg.archs import DeResnet
from probdeg.checkpoint import load_checkpoint, load_network, save_checkpoint
from probdeg.cli import main
from probdeg.errors import DiskFullError, UserError


def test_bad_checkpoints_are_one_line_naming_the_file(files, tmp_path, capsys):
    checkpoint = load_checkpoint(files["G"])
    renamed = dict(checkpoint)
    renamed["params"] = {("x" + k if i == 0 else k): v for i, (k, v) in enumerate(checkpoint["params"].items())}
    torch.save(renamed, tmp_path / "wrong_keys.pth")
    other = load_checkpoint(files["SR"])
    other["probdeg"] = checkpoint["probdeg"]  # RRDBNet weights under the generator's description
    torch.save(other, tmp_path / "other_arch.pth")
    (tmp_path / "empty.pth").write_bytes(b"")
    cases = [("degrade", "wrong_keys.pth", "do not fit"), ("degrade", "other_arch.pth", "do not fit"),
             ("degrade", "empty.pth", "empty"), ("sr", "empty.pth", "empty")]
    for command, name, reason in cases:
        source = files["hr"] if command == "degrade" else files["lr"]
        assert main(folder_args(command, tmp_path / name, source, tmp_path / f"out_{command}")) == 2
        line = one_error_line(capsys.readouterr().err, command)
        assert str(tmp_path / name) in line and reason in line, line
    # a checkpoint of the other kind of net: an SR net to degrade, a generator to sr
    for command, model, source, reason in (("degrade", files["SR"], files["hr"], "is it a degradation generator?"),
                                           ("sr", files["G"], files["lr"], "cannot infer the scale")):
        assert main(folder_args(command, model, source, tmp_path / f"kind_{command}")) == 2
        line = one_error_line(capsys.readouterr().err, command)
        assert str(model) in line and reason in line, line


def test_a_checkpoint_with_nan_weights_is_refused_naming_the_file(tmp_path):
    G = tiny_generator()
    with torch.no_grad():
        next(G.parameters()).view(-1)[0] = float("nan")
    path = tmp_path / "diverged.pth"
    save_checkpoint(path, G, {"type": "Probabilistic", "net": NET})
    with pytest.raises(UserError, match="hold NaN or Inf") as err:
        load_network(path)
    assert str(path) in str(err.value)


ONE_BLOCK_NET = {"type": "DeResnet", "num_feat": 8, "num_blocks": 1, "scale": 4}




def test_a_full_disk_names_the_checkpoint_and_keeps_the_previous_one(tmp_path, monkeypatch):
    path = tmp_path / "models" / "net_g_latest.pth"
    torch.manual_seed(0)
    save_checkpoint(path, DeResnet(num_feat=8, num_blocks=1), ONE_BLOCK_NET)
    before = path.read_bytes()
    full_disk(monkeypatch)
    with pytest.raises(DiskFullError) as error:
        save_checkpoint(path, DeResnet(num_feat=8, num_blocks=1), ONE_BLOCK_NET)
    assert isinstance(error.value, UserError) and error.value.path == path
    assert str(error.value).startswith(f"no space left on {str(path.parent)!r} to write 'net_g_latest.pth'")
    assert path.read_bytes() == before and sorted(p.name for p in path.parent.iterdir()) == [path.name]
    monkeypatch.undo()
    assert isinstance(load_network(path), DeResnet)
