"""Issue 7's bad-input list through `probdeg degrade`, `probdeg sr` and `probdeg eval`: one file of each kind next to a
good one. Unreadable files are named once, without a traceback, and leave no output (whole or partial); unusual but
valid images (gray, RGBA, 16-bit, unicode and space names, tiny) are processed."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import NET, rrdb_options, rrdbnet, tiny_generator

from probdeg.checkpoint import save_checkpoint
from probdeg.cli import main
from probdeg.io import is_temporary, read_image, write_image

pytestmark = pytest.mark.usefixtures("one_thread")


def _png(path: Path, image: np.ndarray) -> None:
    ok, data = cv2.imencode(".png", image)
    assert ok
    path.write_bytes(data.tobytes())


def _noise(h: int, w: int, dtype=np.uint8, channels: int = 3) -> np.ndarray:
    top = 65535 if dtype == np.uint16 else 255
    shape = (h, w) if channels == 1 else (h, w, channels)
    return np.random.default_rng(0).integers(0, top, shape).astype(dtype)


def _make(kind: str, folder: Path, size: int) -> str:
    """Write one file of ``kind`` (side ``size``) into ``folder``; returns its relative name."""
    names = {"unicode and space": "ünï cödé ✓.png", "wrong extension": "photo.jpg"}
    name = names.get(kind, f"{kind.replace(' ', '_')}.png")
    path = folder / name
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "not an image":
        path.write_text("this is text, not a PNG")
    elif kind == "truncated":
        _png(path, _noise(size, size))
        path.write_bytes(path.read_bytes()[:60])
    elif kind == "gray":
        _png(path, _noise(size, size, channels=1))
    elif kind == "rgba":
        _png(path, _noise(size, size, channels=4))
    elif kind == "16-bit":
        _png(path, _noise(size, size, np.uint16))
    elif kind == "wrong extension":  # PNG bytes under a .jpg name: decoded by content
        _png(path, _noise(size, size))
    elif kind == "tiny":
        _png(path, _noise(4, 4))
    else:
        _png(path, _noise(size, size))
    return name


UNREADABLE = ["empty", "not an image", "truncated"]
VALID = ["gray", "rgba", "16-bit", "unicode and space", "wrong extension", "tiny"]


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bad_inputs")
    save_checkpoint(root / "G.pth", tiny_generator(), {"type": "Probabilistic", "net": NET})
    save_checkpoint(root / "SR.pth", rrdbnet(), rrdb_options())
    return {"degrade": root / "G.pth", "sr": root / "SR.pth"}


def _run(command: str, models: dict, source: Path, out: Path) -> int:
    return main([command, "--model", str(models[command]), "--input", str(source), "--output", str(out),
                 "--device", "cpu", "--no-progress"])


def _no_temporaries(folder: Path) -> bool:
    return not [p for p in folder.rglob(".*") if is_temporary(p)] if folder.exists() else True


@pytest.mark.parametrize("kind", UNREADABLE + VALID)
@pytest.mark.parametrize("command", ["degrade", "sr"])
def test_degrade_and_sr_with_one_file_of_each_kind(models, tmp_path, capsys, command, kind):
    source, out = tmp_path / "in", tmp_path / "out"
    source.mkdir()
    _make("good", source, 16)
    name = _make(kind, source, 16)
    code = _run(command, models, source, out)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    stem = Path(name).stem
    if kind in UNREADABLE:
        assert code == 1 and captured.err.count(name) == 1, captured.err
        assert written == ["good.png"]
    elif kind == "tiny" and command == "degrade":  # 4x4 HR is one 1x1 LR pixel at x4: still an image
        assert code == 0 and read_image(out / f"{stem}.png").shape == (1, 1, 3)
    else:
        assert code == 0, captured.err
        assert written == sorted(["good.png", f"{stem}.png"])
        assert read_image(out / f"{stem}.png").shape[2] == 3
    assert _no_temporaries(out)


@pytest.mark.parametrize("kind", UNREADABLE + ["gray", "rgba", "16-bit", "unicode and space"])
def test_eval_with_one_sr_file_of_each_kind(tmp_path, capsys, kind):
    sr, gt = tmp_path / "sr", tmp_path / "gt"
    sr.mkdir()
    gt.mkdir()
    for folder in (sr, gt):
        _make("good", folder, 16)
    name = _make(kind, sr, 16)
    write_image(gt / name, np.full((16, 16, 3), 0.5, np.float32))
    code = main(["eval", "--sr", str(sr), "--gt", str(gt), "--crop-border", "0", "--no-lpips", "--no-progress",
                 "--device", "cpu"])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    if kind in UNREADABLE:
        assert code == 1 and name in captured.err, captured.err
    else:
        assert code == 0, captured.err
        assert "mean of 2" in captured.out


@pytest.mark.parametrize("command", ["degrade", "sr"])
def test_missing_input_folder_and_output_inside_the_input(models, tmp_path, capsys, command):
    assert _run(command, models, tmp_path / "nowhere", tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nowhere" in err and "does not exist" in err
    source = tmp_path / "in"
    source.mkdir()
    _make("good", source, 16)
    assert _run(command, models, source, source / "out") == 0
    assert _run(command, models, source, source / "out") == 0  # a rerun does not read its own outputs back
    assert sorted(p.relative_to(source).as_posix() for p in source.rglob("*.png")) == ["good.png", "out/good.png"]


def test_a_very_large_image_through_tiles(models, tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    _png(source / "large.png", _noise(1024, 768))
    assert main(["sr", "--model", str(models["sr"]), "--input", str(source), "--output", str(tmp_path / "out"),
                 "--device", "cpu", "--no-progress", "--tile", "128"]) == 0
    assert read_image(tmp_path / "out" / "large.png").shape == (4096, 3072, 3)
