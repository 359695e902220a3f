"""probdeg.demo.lanes: jobs start once their upstream keys are done, stage-1-like `first` jobs and the costliest
lead, work runs in worker processes, and an error or a dead worker stops the run with its cause."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from probdeg.demo.lanes import Job, run_jobs


def write_marker(folder: str, key: str) -> float:
    Path(folder, key).write_text(str(os.getpid()))
    return 1.5


def fail(message: str) -> float:
    raise ValueError(message)


def die() -> float:
    os._exit(3)


def test_jobs_run_in_dependency_then_first_then_cost_order_in_one_lane(tmp_path):
    done, order = set(), []

    def job(key, upstream=(), cost=1.0, first=False):
        return Job(key, tuple(upstream), cost, write_marker, (str(tmp_path), key), first=first)

    jobs = [job("small", cost=1), job("big", cost=9), job("after_a", ["a"], cost=20), job("a", first=True),
            job("orphan", ["never"])]

    def finished(j, reported):
        order.append(j.key)
        done.add(j.key)
        assert reported >= 0  # this lane measured the task itself

    waiting = run_jobs(jobs, lanes=1, done=done.__contains__, prepare=lambda j: True, finished=finished)
    assert order == ["a", "after_a", "big", "small"]  # a first; its dependant then outranks the cheaper ones
    assert [j.key for j in waiting] == ["orphan"]
    assert Path(tmp_path, "big").read_text() == str(os.getpid())  # one lane: in this process


def test_prepared_as_reused_jobs_do_not_run(tmp_path):
    done = set()

    def prepare(job):
        done.add(job.key)  # the caller reused an earlier result
        return False

    jobs = [Job("a", (), 1.0, write_marker, (str(tmp_path), "a")),
            Job("b", ("a",), 1.0, write_marker, (str(tmp_path), "b"))]
    assert run_jobs(jobs, lanes=2, done=done.__contains__, prepare=prepare, finished=pytest.fail) == []
    assert done == {"a", "b"} and not list(tmp_path.iterdir())


def test_two_lanes_run_in_worker_processes_and_report_their_seconds(tmp_path):
    done, reported = set(), {}

    def finished(job, value):
        reported[job.key] = value
        done.add(job.key)

    jobs = [Job(k, ("a",) if k == "c" else (), 1.0, write_marker, (str(tmp_path), k)) for k in ("a", "b", "c")]
    assert run_jobs(jobs, lanes=2, done=done.__contains__, prepare=lambda j: True, finished=finished) == []
    assert reported == {"a": 1.5, "b": 1.5, "c": 1.5}  # what each lane's task returned
    assert {Path(tmp_path, k).read_text() for k in "abc"} - {str(os.getpid())} == \
        {Path(tmp_path, k).read_text() for k in "abc"}  # none ran in this process


def test_an_error_in_a_lane_stops_the_run_with_that_error(tmp_path):
    done = set()
    jobs = [Job("bad", (), 2.0, fail, ("disk full in bad",)), Job("ok", (), 1.0, write_marker, (str(tmp_path), "ok"))]
    with pytest.raises(ValueError, match="disk full in bad"):
        run_jobs(jobs, lanes=2, done=done.__contains__, prepare=lambda j: True,
                 finished=lambda job, s: done.add(job.key))


def test_a_worker_that_dies_is_named(tmp_path):
    with pytest.raises(RuntimeError, match=r"running crash died \(exit code 3\)"):
        run_jobs([Job("crash", (), 1.0, die)], lanes=2, done=lambda key: False, prepare=lambda j: True,
                 finished=lambda job, s: None)


CHILD = """
import os, sys, time
from probdeg.demo.lanes import Job, run_jobs
print(os.getpid(), flush=True)
run_jobs([Job("long", (), 1.0, time.sleep, (300,)), Job("long2", (), 1.0, time.sleep, (300,))], lanes=2,
         done=lambda key: False, prepare=lambda job: True, finished=lambda job, s: None)
"""


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _running(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_lanes_end_when_the_process_that_started_them_is_killed():
    import signal
    import subprocess
    import sys
    import time

    child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True)
    pid = int(child.stdout.readline())
    lanes = []
    for _ in range(600):  # until both lanes have started (spawned workers import probdeg first)
        lanes = [p for p in _children(pid) if "spawn_main" in (Path("/proc") / str(p) / "cmdline").read_text()]
        if len(lanes) == 2:
            break
        time.sleep(0.1)
    assert len(lanes) == 2
    os.kill(pid, signal.SIGKILL)
    child.wait()
    for _ in range(600):  # each lane notices within about a second; the loop only bounds a broken run
        if not any(_running(p) for p in lanes):
            break
        time.sleep(0.1)
    assert not any(_running(p) for p in lanes)  # not left running its 300-second task
