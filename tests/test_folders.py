"""probdeg.folders: reruns into a used folder (refused with other settings, resumed with the same), manifests that
record the inputs (outputs of changed inputs are not kept), one job per folder at a time, stale temporaries, and which
images a figure shows."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import (
    HR_NAMES,
    LR_NAMES,
    NET,
    folder_args,
    folder_files,
    folder_manifest,
    folder_pngs,
    one_error_line,
    rrdb_options,
    rrdbnet,
    smooth_image,
    tiny_generator,
)

from probdeg.checkpoint import file_digest, save_checkpoint
from probdeg.cli import main
from probdeg.degrade import degrade_folder
from probdeg.errors import UserError
from probdeg.folders import MANIFEST, distinct_images
from probdeg.io import read_image, write_image


def test_distinct_images_shows_each_photo_once(tmp_path):
    rng = np.random.default_rng(0)
    photo, other = rng.random((8, 8, 3)).astype("float32"), rng.random((8, 8, 3)).astype("float32")
    names = ["a_d0.png", "a_d1.png", "b_d0.png", "a_d2.png", "broken.png", "c.png"]
    for name, image in zip(names, [photo, photo, other, photo, None, rng.random((8, 8, 3)).astype("float32")]):
        if image is None:
            (tmp_path / name).write_bytes(b"not a png")
        else:
            write_image(tmp_path / name, image)
    paths = [tmp_path / name for name in names]
    assert distinct_images(paths, 10) == [0, 2, 5]  # three draws of one photo count once; unreadable passed over
    assert distinct_images(paths, 2) == [0, 2]


def test_rerun_with_other_settings_is_refused_until_overwrite_and_same_settings_resume(files, tmp_path, capsys):
    out = tmp_path / "lr"
    run = lambda *extra, model=files["G"]: main(folder_args("degrade", model, files["hr"], out, *extra))  # noqa: E731
    assert run() == 0
    before = folder_files(out)
    assert len(folder_pngs(out)) == len(HR_NAMES)
    capsys.readouterr()
    for extra, model, differs in ((["--seed", "1"], files["G"], "seed: 0 there, 1 now"),
                                  (["--samples", "2"], files["G"], "samples: 1 there, 2 now"),
                                  ([], files["G2"], "model_sha256: ")):
        assert run(*extra, model=model) == 2
        line = one_error_line(capsys.readouterr().err, "degrade")
        assert differs in line and "--overwrite" in line, line
        assert folder_files(out) == before  # nothing written, nothing deleted
    assert run("--seed", "1", "--overwrite") == 0
    after = folder_pngs(out)
    assert sorted(after) == sorted(name for name in before if name.endswith(".png"))
    assert all(after[name] != before[name] for name in after)  # replaced by the seed-1 samples
    assert folder_manifest(out)["seed"] == 1
    capsys.readouterr()
    (out / "b.png").unlink()
    assert run("--seed", "1") == 0  # same settings: resumes
    assert "degrade: 1 written, 2 skipped, 0 failed" in capsys.readouterr().out
    assert folder_pngs(out) == after
    assert run("--seed", "1", "--samples", "2", "--overwrite") == 0
    names = sorted(folder_pngs(out))
    assert names == sorted(f"{Path(n).with_suffix('').as_posix()}_s{k}.png" for n in HR_NAMES for k in range(2))
    assert folder_manifest(out)["samples"] == 2


def test_sr_rerun_with_another_model_or_tile_is_refused_until_overwrite(files, tmp_path, capsys):
    out = tmp_path / "sr"
    run = lambda *extra, model=files["SR"]: main(folder_args("sr", model, files["lr"], out, *extra))  # noqa: E731
    assert run() == 0
    before = folder_files(out)
    capsys.readouterr()
    for extra, model, differs in (([], files["SR2"], "models_sha256: "), (["--tile", "8"], files["SR"],
                                                                          "tile: None there, 8 now")):
        assert run(*extra, model=model) == 2
        line = one_error_line(capsys.readouterr().err, "sr")
        assert differs in line and "--overwrite" in line, line
        assert folder_files(out) == before
    assert run("--overwrite", model=files["SR2"]) == 0
    after = folder_pngs(out)
    assert sorted(after) == sorted(LR_NAMES) and all(after[n] != before[n] for n in after)
    assert folder_manifest(out)["models_sha256"] == [file_digest(files["SR2"])]
    (out / "a.png").unlink()
    capsys.readouterr()
    assert run(model=files["SR2"]) == 0
    assert "sr: 1 written, 1 skipped, 0 failed" in capsys.readouterr().out
    for name in LR_NAMES:  # the tiled outputs may equal the untiled ones: mark the old files to see them replaced
        (out / name).write_bytes(b"old output")
    assert run("--tile", "8", "--overwrite", model=files["SR2"]) == 0
    assert folder_manifest(out)["tile"] == 8 and sorted(folder_pngs(out)) == sorted(LR_NAMES)
    assert all(read_image(out / name).shape == (64, 80, 3) for name in LR_NAMES)  # rewritten


def test_two_jobs_cannot_write_one_folder_at_once(files, tmp_path):
    fcntl = pytest.importorskip("fcntl")
    out = tmp_path / "lr"
    out.mkdir()
    with open(out / ".probdeg.lock", "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # as another running job holds it
        with pytest.raises(UserError, match="another probdeg command is writing"):
            degrade_folder(files["G"], files["hr"], out, progress=False)
        assert not folder_pngs(out) and not (out / ".probdeg.json").exists()
    assert degrade_folder(files["G"], files["hr"], out, progress=False)["written"] == len(HR_NAMES)  # released


def test_stale_temporaries_are_removed_and_odd_inputs_named_in_one_warning(files, tmp_path, capsys):
    source, out = tmp_path / "hr", tmp_path / "lr"
    write_image(source / "a.png", smooth_image(48, 48))
    (source / ".hidden.png").write_bytes((files["hr"] / "a.png").read_bytes())
    (source / "broken.png").symlink_to(tmp_path / "nowhere.png")
    (source / "dir.png").mkdir()
    out.mkdir()
    stale = out / ".a.png.0123abcd.tmp.png"  # as io.atomic_path names them
    stale.write_bytes(b"half a png")
    assert main(folder_args("degrade", files["G"], source, out)) == 0
    captured = capsys.readouterr()
    assert not stale.exists()
    assert "removed 1 temporary file" in captured.out and "1 written, 0 skipped, 0 failed" in captured.out
    warnings = [line for line in captured.err.splitlines() if "not read" in line]
    assert len(warnings) == 1, captured.err
    assert all(name in warnings[0] for name in (".hidden.png", "broken.png", "dir.png"))
    assert sorted(folder_pngs(out)) == ["a.png"]


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
