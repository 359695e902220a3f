"""The `probdeg` command line: help texts, exit codes, one-line messages for common mistakes."""

import re
import subprocess
import sys

import pytest
from helpers import folder_args, one_error_line

from probdeg.cli import main


def test_summary_lists_the_released_points(capsys):
    assert main(["summary", "--arch", "DeResnet"]) == 0
    out = capsys.readouterr().out
    assert "8 latents" in out and "blocks.7" in out and "net parameters: 668,238" in out
    assert main(["summary", "--arch", "StridedHAN", "--num-feat", "128", "--sigma", "conditional"]) == 0
    out = capsys.readouterr().out
    assert "12 latents" in out and "before  csa" in out and "net parameters: 63,165,665" in out


def test_a_user_error_is_one_line_and_exit_code_2(capsys):
    assert main(["summary", "--at", "blocks.9"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("probdeg summary: error:") and "blocks.9" in err and "Traceback" not in err


def test_a_width_below_one_is_one_line_and_exit_code_2(capsys):
    for arch in ("DeResnet", "StridedHAN"):
        assert main(["summary", "--arch", arch, "--num-feat", "0"]) == 2
        err = capsys.readouterr().err
        assert err == "probdeg summary: error: --num-feat must be a positive integer, got 0\n"


def test_console_entry_point_and_module_run():
    result = subprocess.run([sys.executable, "-m", "probdeg", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("probdeg 0.1.0")


def test_ctrl_c_is_one_line_that_says_how_to_resume(monkeypatch, capsys):
    from probdeg.cli import summary

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(summary, "run", interrupted)
    assert main(["summary", "--arch", "DeResnet"]) == 130
    err = capsys.readouterr().err
    assert "interrupted; the same command resumes" in err and "Traceback" not in err


def test_an_unexpected_exception_is_exit_3_with_its_traceback(monkeypatch, capsys):
    from probdeg.cli import summary

    def crash(args):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(summary, "run", crash)
    assert main(["summary"]) == 3
    err = capsys.readouterr().err
    assert "Traceback" in err and "ZeroDivisionError: a bug" in err and "please report" in err


def test_messages_for_common_mistakes(files, tmp_path, capsys):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    assert main(folder_args("degrade", files["G"], files["hr"], a_file)) == 2
    assert "is a file" in one_error_line(capsys.readouterr().err, "degrade")
    out = tmp_path / "lr"
    assert main(folder_args("degrade", files["G"], files["hr"], out, "--grid", str(tmp_path / "x.jpg"))) == 2
    assert "'.png'" in one_error_line(capsys.readouterr().err, "degrade")
    assert not out.exists() and not (tmp_path / "x.jpg").exists()  # refused before any work
    assert main(["eval", "--sr", str(files["lr"]), "--gt", str(tmp_path / "missing"), "--no-progress"]) == 2
    assert "GT folder" in one_error_line(capsys.readouterr().err, "eval")


@pytest.mark.parametrize("command, flags", [
    ("train", ["--debug", "--auto_resume", "--set", "--root"]),
    ("sample-data", ["--scale", "--seed", "--out"]),
    ("summary", ["--arch", "--scale", "--num-feat", "--sigma", "--std", "--noise", "--at"]),
])
def test_command_help_documents_its_options(capsys, command, flags):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for flag in flags:  # an option line of its own, followed by words that describe it
        block = re.search(rf"^  {re.escape(flag)}\b.*(?:\n {{6,}}\S.*)*", out, re.MULTILINE)
        assert block is not None, (flag, out)
        assert re.search(r"\b[a-z]{4,}\b", block.group(0).replace(flag, "")), (flag, block.group(0))


def test_top_level_help_lists_the_exit_codes(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "exit codes: 0 success; 1 some inputs could not be read" in out
    assert "2 a user error" in out and "3 a crash" in out and "130 interrupted" in out


def test_dependency_warnings_are_not_printed_as_probdeg_s_own(capsys):
    import warnings

    import probdeg.folders
    from probdeg.cli.common import warnings_as_lines

    scipy = "/venv/lib/python3.11/site-packages/scipy/ndimage/filters.py"
    with warnings_as_lines("sr"):
        warnings.warn_explicit("skipped 'a.png': empty", UserWarning, probdeg.folders.__file__, 1)
        warnings.warn_explicit("Please import `convolve` from `scipy.ndimage`", DeprecationWarning, scipy, 5)
        warnings.warn_explicit("a pickle protocol note", UserWarning, "/venv/lib/site-packages/torch/serialization.py",
                               9)
    assert capsys.readouterr().err.splitlines() == ["probdeg sr: warning: skipped 'a.png': empty",
                                                    "probdeg sr: warning from torch: a pickle protocol note"]


def test_sample_data_out_pointing_at_a_file_is_one_line(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert main(["sample-data", "--out", str(tmp_path / "file")]) == 2
    assert capsys.readouterr().err == (f"probdeg sample-data: error: --out {str(tmp_path / 'file')!r} is a file; give "
                                       "a folder (it is made if missing)\n")
