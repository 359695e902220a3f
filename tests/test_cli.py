"""The `probdeg` command line."""

import subprocess
import sys

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
