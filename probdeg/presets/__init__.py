"""Option presets shipped inside the package, so that ``probdeg demo`` works from a pip install.

``tiny/`` holds the CPU-scale BasicSR option files (``integrations/basicsr/options/tiny`` links here).
"""

from __future__ import annotations

from pathlib import Path

PRESETS_DIR = Path(__file__).resolve().parent


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
