"""probdeg.folders: the folder jobs' manifest records the inputs, so outputs of inputs that changed are not kept."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from test_degrade import NET, tiny_generator
from test_sr import rrdb_options, rrdbnet

from probdeg.checkpoint import save_checkpoint
from probdeg.cli import main
from probdeg.folders import MANIFEST
from probdeg.io import read_image, write_image

pytestmark = pytest.mark.usefixtures("one_thread")


def _image(h: int, w: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((h, w, 3)).astype(np.float32)


@pytest.fixture(scope="module")
def nets(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("nets")
    save_checkpoint(root / "G.pth", tiny_generator(), {"type": "Probabilistic", "net": NET})
    save_checkpoint(root / "SR.pth", rrdbnet(seed=2), rrdb_options())  # seed 2: not all black
    return {"degrade": root / "G.pth", "sr": root / "SR.pth"}


def _run(command: str, model: Path, source: Path, out: Path, *extra: str) -> int:
    return main([command, "--model", str(model), "--input", str(source), "--output", str(out), "--device", "cpu",
                 "--no-progress", *extra])


@pytest.mark.parametrize("command, side", [("degrade", 32), ("sr", 12)])
def test_outputs_of_another_input_folder_with_the_same_names_are_refused_then_redone(nets, tmp_path, capsys,
                                                                                     command, side):
    first, second, out = tmp_path / "first", tmp_path / "second", tmp_path / "out"
    for name, seed in (("a.png", 0), ("b.png", 1)):
        write_image(first / name, _image(side, side, seed))
        write_image(second / name, _image(side, side, seed + 10))
    assert _run(command, nets[command], first, out) == 0
    made = {name: read_image(out / name) for name in ("a.png", "b.png")}
    capsys.readouterr()
    assert _run(command, nets[command], second, out) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "2 input(s) that have changed since they were made" in err and "'a.png'" in err
    assert all(np.array_equal(read_image(out / name), image) for name, image in made.items())  # kept as they were
    assert _run(command, nets[command], second, out, "--overwrite") == 0
    assert f"{command}: 2 written, 0 skipped" in capsys.readouterr().out
    assert not np.array_equal(read_image(out / "a.png"), made["a.png"])
    recorded = json.loads((out / MANIFEST).read_text())["inputs"]
    assert recorded["a.png"]["path"] == str((second / "a.png").resolve())


def test_an_edited_input_is_refused_a_copied_or_touched_one_is_not(nets, tmp_path, capsys):
    source, out = tmp_path / "hr", tmp_path / "out"
    write_image(source / "a.png", _image(32, 32, 0))
    write_image(source / "b.png", _image(32, 32, 1))
    assert _run("degrade", nets["degrade"], source, out) == 0
    os.utime(source / "a.png", ns=(1, 1))  # touched: same content, another time
    copy = tmp_path / "copy"
    shutil.copytree(source, copy)  # copied: same content, another path
    capsys.readouterr()
    assert _run("degrade", nets["degrade"], source, out) == 0
    assert _run("degrade", nets["degrade"], copy, out) == 0
    assert "degrade: 0 written, 2 skipped" in capsys.readouterr().out
    write_image(copy / "b.png", _image(32, 32, 5))  # edited
    assert _run("degrade", nets["degrade"], copy, out) == 2
    err = capsys.readouterr().err
    assert "1 input(s) that have changed" in err and "'b.png'" in err and "'a.png'" not in err
    (out / "b.png").unlink()  # once its output is gone, the edited input is simply done again
    assert _run("degrade", nets["degrade"], copy, out) == 0
    assert "degrade: 1 written, 1 skipped" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["degrade", "sr", "sr-input", "eval-sr", "eval-gt"])
def test_a_symbolic_link_loop_is_named_in_one_line(nets, tmp_path, capsys, command):
    source = tmp_path / "images"
    write_image(source / "a.png", _image(16, 16, 0))
    loop = tmp_path / "loop"
    loop.symlink_to(tmp_path / "other")
    (tmp_path / "other").symlink_to(loop)
    if command.startswith("eval"):
        sr, gt = (loop, source) if command == "eval-sr" else (source, loop)
        code = main(["eval", "--sr", str(sr), "--gt", str(gt), "--no-lpips"])
    elif command == "sr-input":
        code = _run("sr", nets["sr"], loop, tmp_path / "out")
    else:
        code = _run(command, nets[command], source, loop)
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert f"{str(loop)!r} is a symbolic link loop" in err


def test_the_tiles_of_one_large_image_show_on_the_bar_as_they_are_done(tmp_path):
    import io

    from tqdm import tqdm

    from probdeg.folders import FolderJob, plan_outputs

    write_image(tmp_path / "in" / "big.png", _image(8, 8, 0))
    job = FolderJob(plan_outputs(tmp_path / "in", tmp_path / "out"), tmp_path / "out", command="sr", settings={})
    shown = io.StringIO()
    job.bar = tqdm(total=1, file=shown, mininterval=0, disable=False)
    on_tile = job.tiles(3)
    on_tile()
    assert "tile 1/3" in shown.getvalue()  # before the image is done, not only when the bar next moves
    on_tile()
    assert "tile 2/3" in shown.getvalue()
