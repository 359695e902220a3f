"""probdeg.progress: progress bars go to a terminal only."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from helpers import (
    HR_NAMES,
    folder_pngs,
)

PROGRESS_CHILD = textwrap.dedent("""
    import sys
    from probdeg.degrade import degrade_folder
    degrade_folder(sys.argv[1], sys.argv[2], sys.argv[3], progress=True)
""")


def test_progress_bars_go_to_a_terminal_only(files, tmp_path):
    stderr = tmp_path / "stderr.txt"
    with open(stderr, "w") as handle:
        subprocess.run([sys.executable, "-c", PROGRESS_CHILD, str(files["G"]), str(files["hr"]), str(tmp_path / "lr")],
                       stderr=handle, check=True, timeout=120)
    assert "\r" not in stderr.read_text()
    assert len(folder_pngs(tmp_path / "lr")) == len(HR_NAMES)
    if sys.platform != "linux":
        return
    import fcntl
    import pty  # the same run on a terminal draws its bar: the test above is not vacuous
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a terminal 100 columns wide
    proc = subprocess.Popen([sys.executable, "-c", PROGRESS_CHILD, str(files["G"]), str(files["hr"]),
                             str(tmp_path / "lr_tty")], stderr=slave, stdout=subprocess.DEVNULL)
    os.close(slave)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    assert proc.wait(timeout=120) == 0
    assert b"\r" in shown and b"degrade" in shown
