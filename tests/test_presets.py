"""`probdeg.presets` and `probdeg recipes`: the BasicSR recipes reach a pip user, as the repository holds them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from probdeg.cli import main
from probdeg.presets import PRESETS_DIR, copy_recipes, recipe_files

REPO_RECIPES = Path(__file__).resolve().parents[1] / "integrations" / "basicsr"


def test_the_recipes_are_the_repositorys_integrations_basicsr(tmp_path):
    written = copy_recipes(tmp_path / "r")
    repo = sorted((Path(folder) / name).relative_to(REPO_RECIPES).as_posix()
                  for folder, _, names in os.walk(REPO_RECIPES, followlinks=True) for name in names
                  if "__pycache__" not in folder)
    assert sorted(p.relative_to(tmp_path / "r").as_posix() for p in written) == repo
    for path in written:
        assert not path.is_symlink()
        assert path.read_bytes() == (REPO_RECIPES / path.relative_to(tmp_path / "r")).read_bytes()
    assert {"train.py", "test.py", "options/mssr.yml", "options/tiny/mssr.yml"} <= set(repo)


def test_existing_files_are_refused_in_one_line_unless_overwrite(tmp_path, capsys):
    assert main(["recipes", "--out", str(tmp_path)]) == 0
    assert "option files" in capsys.readouterr().out
    (tmp_path / "train.py").write_text("mine")
    assert main(["recipes", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--overwrite" in err
    assert (tmp_path / "train.py").read_text() == "mine"
    assert main(["recipes", "--out", str(tmp_path), "--overwrite"]) == 0
    assert (tmp_path / "train.py").read_bytes() == (PRESETS_DIR / "basicsr" / "train.py").read_bytes()


def test_the_copied_train_script_runs_probdeg_train(tmp_path):
    copy_recipes(tmp_path)
    result = subprocess.run([sys.executable, "train.py", "--help"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and "--force_yml" in result.stdout


@pytest.mark.parametrize("pattern", ["tiny/*.yml", "paper/*.yml", "basicsr/*.py"])
def test_every_shipped_recipe_is_package_data(pattern):
    text = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert f'"{pattern}"' in text
    assert any(source.match(pattern) for source, _ in recipe_files())
