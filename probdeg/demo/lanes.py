"""A small scheduler: jobs with upstream keys, run in worker processes ("lanes") as soon as what they read exists.

It knows nothing of trainings: a :class:`Job` names the keys it waits for and a picklable ``task`` to run in a
lane; the caller says what "ready" and "done" mean through callbacks. The lanes are worker processes of its own, so
an error in one can stop the others (a process pool gives no public way to stop a running task).
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

LaneTask = Callable[..., float]
"""A lane's work: a module-level function (it crosses a process boundary) that returns its seconds."""


@dataclass
class Job:
    """One unit of work.

    Attributes:
        key: unique name; other jobs name it in their ``upstream``.
        upstream: the keys that must be done before this job starts.
        cost: relative cost; of the startable jobs the most costly start first.
        first: preferred over startable jobs without it (whatever their cost).
        task, args: ``task(*args)`` runs in a lane and returns its seconds.
        payload: anything the caller keeps with the job.
    """

    key: str
    upstream: tuple[str, ...]
    cost: float
    task: LaneTask
    args: tuple[Any, ...] = ()
    first: bool = False
    payload: Any = field(default=None, repr=False)


def _exit_with_parent() -> None:
    """End this worker once the process that started it is gone (killed, not only stopped): an orphaned lane would
    go on writing the folders of a run that a rerun is about to resume."""
    parent = multiprocessing.parent_process()
    while parent is not None and parent.is_alive():
        time.sleep(1.0)
    os._exit(1)


def _lane_main(inbox: Any, results: Any, initializer: Optional[Callable[..., None]], initargs: tuple) -> None:
    """A lane's loop: run each ``(key, task, args)`` from ``inbox``, report ``(key, seconds, error)``; ``None`` ends."""
    threading.Thread(target=_exit_with_parent, daemon=True).start()
    if initializer is not None:
        initializer(*initargs)
    while True:
        message = inbox.get()
        if message is None:
            return
        key, task, args = message
        try:
            results.put((key, task(*args), None))
        except BaseException as err:  # reported to the scheduler, which raises it
            try:
                results.put((key, None, err))
            except Exception:  # an error that does not pickle
                results.put((key, None, RuntimeError(f"{type(err).__name__}: {err}")))


class Lanes:
    """``count`` worker processes (spawned, not forked: a forked child of a process that already ran OpenMP threads
    can hang), each started with ``initializer(*initargs)``."""

    def __init__(self, count: int, initializer: Optional[Callable[..., None]] = None, initargs: tuple = ()) -> None:
        context = multiprocessing.get_context("spawn")
        self.results = context.Queue()
        self._inboxes = [context.Queue() for _ in range(count)]
        self._workers = [context.Process(target=_lane_main, args=(inbox, self.results, initializer, initargs),
                                         daemon=True) for inbox in self._inboxes]
        for worker in self._workers:
            worker.start()
        self._busy: dict[int, str] = {}  # lane index -> key of the job it runs

    @property
    def free(self) -> int:
        return len(self._workers) - len(self._busy)

    def submit(self, job: Job) -> None:
        lane = next(i for i in range(len(self._workers)) if i not in self._busy)
        self._busy[lane] = job.key
        self._inboxes[lane].put((job.key, job.task, job.args))

    def next_result(self) -> tuple[str, float]:
        """Wait for a job to end; returns ``(key, seconds)`` or raises its error (or says which lane died)."""
        while True:
            try:
                key, seconds, error = self.results.get(timeout=1.0)
            except queue.Empty:
                for lane, key in self._busy.items():
                    if not self._workers[lane].is_alive():
                        raise RuntimeError(f"the worker process running {key} died (exit code "
                                           f"{self._workers[lane].exitcode})") from None
                continue
            self._busy = {lane: k for lane, k in self._busy.items() if k != key}
            if error is not None:
                raise error
            return key, seconds

    def close(self, *, stop: bool = False) -> None:
        """End the lanes: let them finish (``stop=False``) or terminate them at once."""
        for worker, inbox in zip(self._workers, self._inboxes):
            if stop:
                worker.terminate()
            else:
                inbox.put(None)
        for worker in self._workers:
            worker.join()


def run_jobs(jobs: Sequence[Job], *, lanes: int, done: Callable[[str], bool], prepare: Callable[[Job], bool],
             finished: Callable[[Job, float], None], initializer: Optional[Callable[..., None]] = None,
             initargs: tuple = (), run_here: Optional[Callable[[Job], float]] = None) -> list[Job]:
    """Run ``jobs``, each once its ``upstream`` keys are :func:`done`.

    Args:
        jobs: the work; keys unique.
        lanes: jobs at a time. With one, every job runs in this process (``run_here``, or its task).
        done: whether a key (a job's, or one the caller makes itself) is done.
        prepare: called once a job could start; ``False``: nothing to run (the caller reused an earlier result and
            has marked it done).
        finished: called in this process after a job ran, with its seconds; may make other keys done.
        initializer, initargs: each lane's start.
        run_here: how a job runs in this process when ``lanes`` is 1 (default: its task).

    Returns:
        The jobs that never started because an upstream key was never done.
    """
    waiting, ready = list(jobs), []

    def release() -> None:
        while True:
            startable = [job for job in waiting if all(done(key) for key in job.upstream)]
            if not startable:
                break
            for job in startable:
                waiting.remove(job)
                if prepare(job):
                    ready.append(job)
        ready.sort(key=lambda j: (not j.first, -j.cost))

    release()
    if lanes == 1 or not ready:
        while ready:
            job = ready.pop(0)
            if run_here is not None:
                seconds = run_here(job)
            else:
                start = time.perf_counter()
                job.task(*job.args)
                seconds = time.perf_counter() - start
            finished(job, seconds)
            release()
        return waiting
    by_key = {job.key: job for job in jobs}
    pool = Lanes(lanes, initializer, initargs)
    running = 0
    try:
        while ready or running:
            while ready and pool.free:
                pool.submit(ready.pop(0))
                running += 1
            key, seconds = pool.next_result()
            running -= 1
            finished(by_key[key], seconds)
            release()
    except BaseException:
        pool.close(stop=True)  # the other lanes' work is stopped; the caller's records say what to resume
        raise
    pool.close()
    return waiting
