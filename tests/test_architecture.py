"""The house's shape: dependencies point one way (core -> application -> BasicSR glue, CLI, demo), no import cycles,
and the command line loads its backend only inside each command."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "probdeg"

# Every module's layer, named: a module in none fails the test below. Dependencies point one way, core ->
# application -> above (the BasicSR glue, the command line, the demo). The core is what a user of another codebase
# takes (wrapper, archs, losses, collab, data); the application works on folders and figures; "probdeg" itself only
# re-exports public names.
CORE = {"checkpoint", "checks", "collab", "defaults", "distill", "errors", "filters", "fused_noise", "injection", "io",
        "jpeg", "losses", "metrics", "metrics.degradation", "metrics.image", "presets", "progress", "registry",
        "runtime", "stage1", "unpaired_data", "wrapper", "archs", "archs.checks", "archs.deresnet",
        "archs.discriminator", "archs.probabilistic", "archs.strided_han"}
APPLICATION = {"noise_field", "tiling", "folders", "degrade", "sr", "sr_models", "export", "figures", "tables",
               "sample_task", "metrics.sr_scores", "metrics.scorecard", "metrics.robustness",
               "metrics.no_reference", "metrics.lr_match"}
ABOVE_THE_CORE = ("probdeg.integrations", "probdeg.cli", "probdeg.demo", "probdeg.__main__")
PUBLIC_NAMES = "probdeg"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    """probdeg's modules: the .py files of its packages (folders with an __init__.py); the recipe scripts shipped as
    data (presets/basicsr/train.py) are not modules."""
    return {module_name(path): path for path in PACKAGE.rglob("*.py") if (path.parent / "__init__.py").is_file()}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Every probdeg module (and outside package) that ``path`` imports, at module level or inside functions."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in known)
    return found


def graph() -> dict[str, set[str]]:
    table = modules()
    known = set(table)
    return {name: {m for m in imports_of(name, path, known) if m in known and m != name} | {
        m for m in imports_of(name, path, known) if m.split(".")[0] in ("basicsr", "lpips", "matplotlib", "timm")}
        for name, path in table.items()}


def test_the_package_has_no_import_cycles():
    edges = {name: {m for m in deps if m.startswith("probdeg")} for name, deps in graph().items()}
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    assert cycles == [], f"import cycles: {cycles}"


def test_the_core_and_the_application_never_import_the_glue_or_basicsr():
    for name, deps in graph().items():
        if name.startswith(ABOVE_THE_CORE):
            continue
        assert not {d for d in deps if d.startswith("probdeg.integrations") or d.startswith("basicsr")}, name


def layer_of(name: str) -> str:
    short = name.partition(".")[2]
    if name == PUBLIC_NAMES:
        return "public names"
    if name.startswith(ABOVE_THE_CORE):
        return "above"
    return "core" if short in CORE else "application" if short in APPLICATION else "none"


def test_every_module_is_in_one_layer():
    assert not CORE & APPLICATION
    unplaced = sorted(name for name in modules() if layer_of(name) == "none")
    assert unplaced == [], f"modules in no layer (add each to CORE or APPLICATION in this file): {unplaced}"


def test_the_core_does_not_import_the_application_layer():
    for name, deps in graph().items():
        if layer_of(name) != "core":
            continue
        upward = {d for d in deps if d.startswith("probdeg.") and layer_of(d) != "core"}
        assert not upward, f"{name} (core) imports {sorted(upward)}"


HEAVY = ("torch", "basicsr", "cv2", "matplotlib", "lpips", "skimage", "timm", "numpy")


def loaded_after(code: str, tmp_path: Path) -> set[str]:
    probe = (f"import sys\n{code}\n"
             f"print('loaded:' + ','.join(m for m in {HEAVY!r} if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    line = [text for text in result.stdout.splitlines() if text.startswith("loaded:")][-1]
    return set(filter(None, line[len("loaded:"):].split(",")))


@pytest.mark.parametrize("command", [None, "train", "test", "sample-data", "summary", "degrade", "sr", "eval",
                                     "score-generator", "demo"])
def test_help_loads_no_backend(command, tmp_path):
    argv = [command, "--help"] if command else ["--help"]
    code = (f"from probdeg.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass")
    assert loaded_after(code, tmp_path) == set()


def test_degrade_and_eval_run_without_basicsr(tmp_path):
    code = f"""
import numpy as np, torch
from probdeg.archs import probabilistic_deresnet
from probdeg.checkpoint import save_checkpoint
from probdeg.io import write_image
from probdeg.cli import main
torch.manual_seed(0)
save_checkpoint({str(tmp_path / "G.pth")!r}, probabilistic_deresnet(num_feat=4, num_blocks=1),
                {{"type": "Probabilistic", "net": {{"type": "DeResnet", "num_feat": 4, "num_blocks": 1}}}})
for name in ("a", "b"):
    image = np.random.default_rng(0).random((64, 64, 3)).astype("float32")
    write_image({str(tmp_path / "hr")!r} + f"/{{name}}.png", image)
assert main(["degrade", "--model", {str(tmp_path / "G.pth")!r}, "--input", {str(tmp_path / "hr")!r},
             "--output", {str(tmp_path / "lr")!r}, "--no-progress"]) == 0
assert main(["degrade", "--model", {str(tmp_path / "G.pth")!r}, "--input", {str(tmp_path / "hr")!r},
             "--output", {str(tmp_path / "lr2")!r}, "--no-progress"]) == 0
assert main(["eval", "--sr", {str(tmp_path / "lr")!r}, "--gt", {str(tmp_path / "lr2")!r}, "--crop-border", "0",
             "--no-lpips", "--out", {str(tmp_path / "scores")!r}, "--no-progress"]) == 0
"""
    loaded = loaded_after(code, tmp_path)
    assert "basicsr" not in loaded and "lpips" not in loaded and "torch" in loaded
