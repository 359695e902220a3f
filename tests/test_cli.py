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
