"""Option presets and BasicSR recipes shipped inside the package, so that ``probdeg demo`` works from a pip install
and ``probdeg recipes`` hands the recipes to a pip user.

``tiny/`` holds the CPU-scale BasicSR option files, ``paper/`` the paper-scale ones, ``basicsr/`` the ``train.py``
and ``test.py`` a BasicSR user runs; the repository's ``integrations/basicsr/`` links here (``options/*.yml``,
``options/tiny``, ``train.py``, ``test.py``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ..errors import UserError
from ..io import atomic_path

PRESETS_DIR = Path(__file__).resolve().parent

RECIPE_LAYOUT = {"basicsr/train.py": "train.py", "basicsr/test.py": "test.py", "paper/*.yml": "options",
                 "tiny/*.yml": "options/tiny"}
"""What :func:`copy_recipes` copies: shipped files (a glob under :data:`PRESETS_DIR`) -> a file or folder of the
recipe layout (``integrations/basicsr/``'s)."""


def preset_path(name: str) -> Path:
    """The path of a shipped preset, e.g. ``preset_path("tiny/mssr")``.

    Raises:
        FileNotFoundError: no such preset; the message lists the ones there are.
    """
    path = PRESETS_DIR / f"{name}.yml"
    if not path.is_file():
        known = sorted(str(p.relative_to(PRESETS_DIR).with_suffix("")) for p in PRESETS_DIR.rglob("*.yml"))
        raise FileNotFoundError(f"no preset {name!r} in {PRESETS_DIR}; known: {', '.join(known)}")
    return path


def recipe_files() -> list[tuple[Path, Path]]:
    """The shipped recipe files with their paths in the recipe layout, ``(source, relative target)``."""
    files = []
    for pattern, target in RECIPE_LAYOUT.items():
        for source in sorted(PRESETS_DIR.glob(pattern)):
            files.append((source, Path(target) if target.endswith(".py") else Path(target) / source.name))
    return files


def copy_recipes(out_dir: Path, *, overwrite: bool = False) -> list[Path]:
    """Copy the BasicSR recipes (``train.py``, ``test.py``, ``options/``, ``options/tiny/``) into ``out_dir``.

    Args:
        out_dir: the folder to write (created); relative paths in the options (``datasets/``, ``experiments/``)
            are read from the folder the scripts run in.
        overwrite: replace files that exist (default: refuse, naming them, before writing any).

    Returns:
        The files written.

    Raises:
        UserError: some files exist and ``overwrite`` is off, or ``out_dir`` is a file.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"--out {str(out_dir)!r} is a file; give a folder")
    plan = [(source, out_dir / target) for source, target in recipe_files()]
    existing = [str(target) for _, target in plan if target.exists()]
    if existing and not overwrite:
        raise UserError(f"{len(existing)} recipe file(s) exist in {str(out_dir)!r} (e.g. {existing[0]}): choose "
                        "another folder, or pass --overwrite to replace them")
    for source, target in plan:
        with atomic_path(target) as temp:
            shutil.copyfile(source, temp)
    return [target for _, target in plan]
