"""The examples run from the README's commands, and docs/wrapping.md's snippets run and print what it shows."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

# script -> (summary head, injection points the summary must list as "where  module")
EXPECTED = {
    "fssr_style.py": ("Probabilistic(DSGANGenerator): 16 latents, sigma=channel",
                      [("before", "res_blocks.0.conv1"), ("before", "res_blocks.7.conv2")]),
    "cyclegan_resnet.py": ("Probabilistic(ResnetDownscaler): 8 latents, sigma=conditional",
                           [("before", "blocks.0"), ("before", "blocks.5"), ("after", "tail.0"), ("after", "tail.1")]),
    "timm_backbone.py": ("Probabilistic(TimmDownscaler): 3 latents, sigma=channel",
                         [("before", "backbone.layer1.0"), ("before", "backbone.layer1.1"), ("before", "head.2")]),
    "basicsr_yaml.py": ("Probabilistic(EDSR): 5 latents, sigma=conditional",
                        [("before", "body.0"), ("before", "body.3"), ("before", "conv_last")]),
    "plain_pytorch_loop.py": ("Probabilistic(DeResnet): 4 latents, sigma=channel",
                              [("before", "blocks.0"), ("before", "blocks.3")]),
}


def _run(args, cwd, timeout=300):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def _readme_example_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Examples"):]
    section = section[:section.index("\n## ", 1)]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [line.split("#")[0].strip() for line in block.strip().splitlines()]


def _check_sampling_lines(stdout: str) -> float:
    spread = re.search(r"two samples of the same HR image differ: mean \|sample 1 - sample 2\| = (\S+)", stdout)
    assert spread is not None, stdout
    assert "mean mode is deterministic: True" in stdout
    return float(spread.group(1))


def test_readme_lists_every_example_script():
    commands = _readme_example_commands()
    assert all(re.fullmatch(r"python examples/\w+\.py", c) for c in commands), commands
    listed = {c.split("/")[-1] for c in commands}
    scripts = {p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith("_") and p.name != "quickstart.py"}
    assert listed == scripts == set(EXPECTED)


@pytest.mark.slow
@pytest.mark.parametrize("command", _readme_example_commands(), ids=lambda c: c.split("/")[-1])
def test_example_runs_from_the_readme_command(command):
    script = command.split()[-1]
    result = _run([sys.executable, script, "--steps", "2"], cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    head, points = EXPECTED[Path(script).name]
    assert head in out
    for where, name in points:
        assert re.search(rf"^\d+\s+{where}\s+{re.escape(name)}\s", out, re.M), (where, name, out)
    assert "trained 2 steps" in out
    assert _check_sampling_lines(out) > 0


@pytest.mark.slow
def test_plain_loop_trains_on_given_folders_without_basicsr(tmp_path):
    from probdeg.sample_task import make_sample_data

    folders = make_sample_data(tmp_path / "data")
    result = _run([sys.executable, str(EXAMPLES / "plain_pytorch_loop.py"), "--steps", "1", "--seed", "3",
                   "--hr", str(folders["train_hr"]), "--lr", str(folders["train_lr"]), "--batch-size", "2"],
                  cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "trained 1 steps" in result.stdout
    assert _check_sampling_lines(result.stdout) > 0
    assert result.stdout.strip().splitlines()[-1] == "basicsr imported: False"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]  # nothing written to the working directory


def test_example_flags(tmp_path):
    script = str(EXAMPLES / "fssr_style.py")
    result = _run([sys.executable, script, "--help"], cwd=tmp_path)
    assert result.returncode == 0 and "--steps STEPS" in result.stdout and "(default 150)" in result.stdout
    result = _run([sys.executable, script, "--hr", "somewhere"], cwd=tmp_path)  # --lr missing
    assert result.returncode == 2 and "give both --hr and --lr" in result.stderr
    result = _run([sys.executable, script, "--steps", "0"], cwd=tmp_path)
    assert result.returncode == 2 and "--steps must be at least 1" in result.stderr


def test_every_example_runs_when_copied_out_alone(tmp_path):
    for script in EXAMPLES.glob("*.py"):
        copy = tmp_path / script.name
        copy.write_text(script.read_text())
        result = _run([sys.executable, str(copy), "--help"], cwd=tmp_path)
        assert result.returncode == 0, (script.name, result.stderr)


def test_wrapping_doc_snippets_run_and_print_what_the_doc_shows(tmp_path):
    text = (ROOT / "docs" / "wrapping.md").read_text()
    snippets = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(snippets) >= 4
    result = _run([sys.executable, "-c", "\n".join(snippets)], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    shown = re.findall(r"```text\n(.*?)```", text, re.S)
    assert shown
    for block in shown:
        assert block.strip() in result.stdout, block
