"""The package as users get it: import cost, the wheel, the README's code."""

import re
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(args, cwd, **kwargs):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300, **kwargs)


def test_import_probdeg_does_not_import_basicsr_lpips_or_cv2(tmp_path):
    code = ("import sys, probdeg; from probdeg import Probabilistic; "
            "print(sorted(m for m in ('basicsr', 'lpips', 'cv2', 'torchvision', 'timm') if m in sys.modules))")
    result = _run([sys.executable, "-c", code], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_readme_opens_with_the_two_setup_commands():
    text = (ROOT / "README.md").read_text()
    first_block = re.search(r"```bash\n(.*?)```", text, re.S).group(1)
    assert [line.split("#")[0].strip() for line in first_block.strip().splitlines()] == ["make demo", "make test"]
    assert text.index("make demo") < text.index("## ")


def test_make_demo_runs_probdeg_demo():
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^demo: install\n((?:\t.*\n)+)", makefile, re.M).group(1)
    assert recipe.strip() == "$(PY) -m probdeg demo $(DEMO_ARGS)"


def test_readme_quickstart_is_the_example_and_runs(tmp_path):
    text = (ROOT / "README.md").read_text()
    snippet = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    example = (ROOT / "examples" / "quickstart.py").read_text()
    assert snippet.strip() in example  # the file adds only its docstring
    result = _run([sys.executable, "-c", snippet], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "3 latents" in result.stdout and "samples (4, 3, 3, 32, 32)" in result.stdout


@pytest.mark.slow
def test_wheel_builds_installs_into_a_fresh_venv_and_imports(tmp_path):
    dist = tmp_path / "dist"
    built = _run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-w",
                  str(dist)], cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    wheel = next(dist.glob("probdeg-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "probdeg/presets/tiny/mssr.yml" in names  # what `probdeg demo` runs
    assert {"probdeg/presets/paper/mssr.yml", "probdeg/presets/basicsr/train.py"} <= set(names)  # probdeg recipes
    env = tmp_path / "fresh"
    venv.create(env, with_pip=True)
    python = env / "bin" / "python"
    # The fresh venv sees torch from this environment through a path entry (installing torch again would cost
    # minutes), but not this environment's editable probdeg: path entries do not run .pth import hooks.
    site = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=tmp_path)
    site_of_torch = "import torch, os; print(os.path.dirname(os.path.dirname(torch.__file__)))"
    deps = _run([sys.executable, "-c", site_of_torch], cwd=tmp_path)
    Path(site.stdout.strip(), "deps.pth").write_text(deps.stdout.strip() + "\n")
    installed = _run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", str(wheel)], cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr
    code = ("import sys, probdeg; from probdeg import Probabilistic; print(probdeg.__file__); "
            "print('basicsr' in sys.modules)")
    result = _run([str(python), "-c", code], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    location, basicsr_loaded = result.stdout.split()
    assert Path(location).is_relative_to(env) and basicsr_loaded == "False"
