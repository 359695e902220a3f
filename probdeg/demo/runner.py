"""``probdeg demo``'s run: data, stage 1, stage 2 through the tiny BasicSR presets, then scores, figures and report.

Every training goes through ``probdeg train`` (the same function, option file and ``--set`` overrides a user would
type); the report lists those commands. Finished trainings are reused on a rerun, interrupted ones resume from their
last training state (see :mod:`probdeg.demo.stages`).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shlex
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

from ..io import atomic_path
from ..sample_task import TrueDegradation, camera_degradation, describe_true_degradation
from .plan import BUDGETS, GENERATORS, SR_RUNS, SYNTHETIC_SAMPLES, TRUE, Budget, GeneratorRun, SRRun
from .stages import StageStore
from .task import DemoData, check_user_folders, prepare_data

PathLike = Union[str, Path]


@dataclass
class DemoConfig:
    """Settings of one demo run.

    Attributes:
        out: the output folder (report, data, experiments, SR images, stage records).
        budget: a :data:`~probdeg.demo.plan.BUDGETS` name or a :class:`~probdeg.demo.plan.Budget`.
        seed: training seed (every stage's ``manual_seed``) and seed of the scores' noise.
        data_seed: seed of the sample task's degradation (or of the held-out validation's).
        hr, lr: the user's HR and real-LR folders (both or neither; neither: scikit-image's photos).
        val_hr, val_lr: the user's validation pairs (both or neither; neither: held out from ``hr``).
        degradation: the "real" degradation of the sample task and of held-out validation: ``f(hr, scale, rng)``.
        progress: show progress bars.
        lanes: trainings run side by side (default :func:`default_lanes`).
        match_jpeg: compress each generator's LR to the real LR's JPEG blocking before stage 2 (none where the real
            LR shows none; :func:`probdeg.degrade.matching_jpeg`); off: the LR as generated.
    """

    out: PathLike = "demo_out"
    budget: Union[str, Budget] = "full"
    seed: int = 0
    data_seed: int = 0
    hr: Optional[PathLike] = None
    lr: Optional[PathLike] = None
    val_hr: Optional[PathLike] = None
    val_lr: Optional[PathLike] = None
    degradation: TrueDegradation = camera_degradation
    progress: bool = True
    lanes: Optional[int] = None
    match_jpeg: bool = True
    command: Optional[str] = field(default=None, repr=False)  # how the report says the run was started

    def resolved_budget(self) -> Budget:
        if isinstance(self.budget, Budget):
            return self.budget
        if self.budget not in BUDGETS:
            raise ValueError(f"unknown budget {self.budget!r}; known: {', '.join(BUDGETS)}")
        return BUDGETS[self.budget]


@dataclass
class DemoResult:
    """What a demo run made: the report paths, the stage records and the scores."""

    out: Path
    report_html: Path
    report_md: Path
    records: dict[str, dict[str, Any]]
    scores: dict[str, Any]
    seconds: float


def _quoted(path: Path) -> str:
    """A path as an override value: a JSON string is a YAML string, whatever characters the path holds."""
    return json.dumps(str(path))


def _common_overrides(key: str, iters: int, seed: int) -> list[str]:
    return [f"name=demo_{key}", f"manual_seed={seed}", "num_gpu=0", f"train:total_iter={iters}",
            f"logger:print_freq={max(1, iters // 10)}", f"logger:save_checkpoint_freq={max(1, iters // 4)}",
            f"val:val_freq={iters + 1}", "val:save_img=false"]  # validated once, at the end


def generator_overrides(run: GeneratorRun, data: DemoData, iters: int, seed: int) -> list[str]:
    """The ``--set`` overrides of a stage-1 training."""
    return _common_overrides(f"g_{run.key}", iters, seed) + [
        f"train:scheduler:decay_start={iters * 2 // 3}",  # the preset's 200 of 300
        f"datasets:train:dataroot_hr={_quoted(data.train_hr)}", f"datasets:train:dataroot_lr={_quoted(data.train_lr)}",
        f"datasets:val:dataroot_hr={_quoted(data.val_hr)}", f"datasets:val:dataroot_lr={_quoted(data.val_lr)}",
        f"datasets:val:dataroot_real_lr={_quoted(data.train_lr)}"] + list(run.overrides)


def sr_overrides(run: SRRun, data: DemoData, synthetic: dict[str, Path], iters: int, seed: int) -> list[str]:
    """The ``--set`` overrides of a stage-2 training; ``synthetic`` maps source keys (generator keys, ``true``) to
    the folders of LR samples made from the training HR images."""
    overrides = _common_overrides(f"sr_{run.key}", iters, seed) + [
        f"train:scheduler:milestones=[{max(1, iters * 3 // 4)}]",
        f"datasets:train:dataroot_hr={_quoted(data.train_lr if run.hr_from_lr else data.train_hr)}",
        f"datasets:train:dataroot_lr={_quoted(data.train_lr)}",
        f"datasets:val:dataroot_gt={_quoted(data.val_hr)}", f"datasets:val:dataroot_lq={_quoted(data.val_lr)}"]
    if run.sources is not None:
        from ..integrations.basicsr.sources import OfflineSource, write_entry

        used = sorted({k for keys in run.sources for k in keys})
        entries = [write_entry([OfflineSource(offline=k) for k in keys]) for keys in run.sources]
        overrides += [f"datasets:train:synthetic_lr={json.dumps({k: str(synthetic[k]) for k in used})}",
                      f"degradations={json.dumps(entries)}"]
    if run.num_models is not None:
        overrides.append(f"num_models={run.num_models}")
    return overrides + list(run.overrides)


def train_command(preset: Path, root: Path, overrides: list[str]) -> str:
    """The shell command that runs the same training."""
    words = ["probdeg", "train", "-opt", str(preset), "--root", str(root), "--auto_resume", "--set", *overrides]
    return " ".join(shlex.quote(w) for w in words)


def run_training(preset: Path, overrides: list[str], root: Path, *, progress: bool = True) -> Path:
    """``probdeg train -opt PRESET --root ROOT --auto_resume --set OVERRIDES`` in this process, BasicSR's console log
    kept to warnings (it stays in each experiment's log file); returns the experiment folder."""
    from ..integrations.basicsr.pipeline import train

    return train(preset, root=root, overrides=overrides, auto_resume=True, progress=progress, console_log=False)


def _timed_training(preset: Path, overrides: list[str], root: Path) -> float:
    """A lane's job: :func:`run_training` without progress bars; returns its seconds (not the time it queued)."""
    start = time.perf_counter()
    run_training(preset, overrides, root, progress=False)
    return time.perf_counter() - start


def _start_lane(threads: int) -> None:
    """A lane's worker process: its share of the cores, glibc's memory kept (probdeg.runtime), warnings on one line."""
    import warnings

    import torch

    from ..runtime import keep_freed_memory

    keep_freed_memory()
    torch.set_num_threads(threads)
    warnings.formatwarning = lambda message, *args, **kwargs: f"probdeg demo: warning: {message}\n"


def default_lanes() -> int:
    """Trainings run side by side: one per core, up to 2. On 2 cores one small training uses one core as fast as it
    uses two (benchmarks/bench_training.py), so two trainings at once nearly halve the demo's time."""
    return max(1, min(2, os.cpu_count() or 1))


@dataclass
class _Job:
    key: str
    preset: str
    overrides: list[str]
    upstream: list[str]  # the stages it reads: it starts once all of them are finished
    what: str
    models: list[str]
    iters: int
    first: bool = False  # preferred over startable jobs without it (stage 1: the SR runs wait for its LR)


class DemoRunner:
    """The demo's stages on one output folder: reused when finished, resumed when interrupted, run in lanes."""

    def __init__(self, config: DemoConfig) -> None:
        self.config = config
        self.budget = config.resolved_budget()
        self.out = Path(config.out).expanduser().resolve()
        self.store = StageStore(self.out / "stages")
        self.records: dict[str, dict[str, Any]] = {}
        self.lanes = config.lanes or default_lanes()
        self.total = 0
        self.step = 0

    def say(self, text: str) -> None:
        print(text, flush=True)

    def announce(self, text: str) -> None:
        self.step += 1
        self.say(f"[{self.step}/{self.total}] {text}")

    # ------------------------------------------------------------------------------------------------------ data
    def data(self, user: Optional[dict[str, Optional[Path]]] = None) -> DemoData:
        """Make (or reuse) the task's folders: ``user`` from :func:`check_user_folders`, ``None`` for the built-in
        task."""
        user = user or {"--hr": None, "--lr": None, "--val-hr": None, "--val-lr": None}
        name = describe_true_degradation(self.config.degradation)
        config = {"user": {k: str(v) if v else None for k, v in user.items()}, "seed": self.config.data_seed,
                  "degradation": name}
        self.announce("data: " + ("your folders" if user["--hr"] else "the sample task from scikit-image's photos"))
        record = self.store.finished("data", config)
        if record is not None and not all(Path(record["folders"][k]).is_dir() for k in ("train_hr", "val_hr")):
            record = None  # deleted since: make it again
        if record is None:
            start = time.perf_counter()
            self.store.start("data", config)
            data = prepare_data(self.out / "data", user, self.config.degradation, seed=self.config.data_seed,
                                degradation_name=name)
            record = self.store.finish("data", config, time.perf_counter() - start,
                                       folders=data.as_record())
            self.say(f"      made in {record['seconds']:.1f} s")
        else:
            self.say("      reused (made by an earlier run)")
        self.records["data"] = record
        return DemoData.from_record(record["folders"])

    # -------------------------------------------------------------------------------------------------- training
    def _prepare(self, job: _Job) -> Optional[dict[str, Any]]:
        """The job's finished record to reuse, or ``None`` after readying its experiment folder to (re)start."""
        config = self._config(job)
        record = self.store.finished(job.key, config)
        if record is not None and all(Path(p).is_file() for p in record["models"]):
            return record
        experiment = self.out / "experiments" / f"demo_{job.key}"
        resuming = self.store.interrupted(job.key, config) and any((experiment / "training_states").glob("*.state"))
        if not resuming and experiment.exists():
            shutil.rmtree(experiment)  # other settings, or nothing to resume from: start clean
        if resuming:
            self.say(f"      {job.what}: resuming an interrupted run from its last training state")
        self.store.start(job.key, config)
        return None

    def _config(self, job: _Job) -> dict[str, Any]:
        from ..integrations.basicsr.options import read_yaml
        from ..presets import preset_path

        # The preset's options too: a changed preset (a new probdeg) retrains instead of reusing a stale stage. Parsed,
        # not the file's text: an edited comment must not throw away finished trainings.
        options = json.dumps(read_yaml(preset_path(job.preset)), sort_keys=True, default=str)
        return {"preset": job.preset, "preset_options_sha1": hashlib.sha1(options.encode()).hexdigest(),
                "overrides": job.overrides, "upstream": {k: self.records[k]["run_id"] for k in job.upstream}}

    def _finish(self, job: _Job, seconds: float) -> dict[str, Any]:
        from ..presets import preset_path

        experiment = self.out / "experiments" / f"demo_{job.key}"
        paths = [experiment / "models" / name for name in job.models]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise RuntimeError(f"training {job.key} finished without writing {', '.join(missing)}")
        return self.store.finish(job.key, self._config(job), seconds,
                                 command=train_command(preset_path(job.preset), self.out, job.overrides),
                                 experiment=str(experiment), models=[str(p) for p in paths])

    def train_all(self, jobs: list[_Job], then: Optional[dict[str, Callable[[], object]]] = None) -> None:
        """Run the jobs in :attr:`lanes` worker processes, each as soon as the stages it reads (``upstream``) are
        finished; of the startable ones, ``first`` jobs, then the longest. ``then[key]()`` runs in this process once
        job ``key`` is finished (or reused), and may finish the stages other jobs wait for (a lane waits meanwhile:
        making an LR folder takes seconds, and the job it unlocks may be the longest). Finished jobs are reused,
        interrupted ones resumed; an error stops the other lanes' trainings, which a rerun resumes."""
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
        from multiprocessing import get_context

        from ..presets import preset_path

        then = then or {}
        waiting = list(jobs)
        ready: list[_Job] = []

        def release() -> None:
            """Move the jobs whose upstream is finished from ``waiting`` to ``ready``; reuse the finished ones."""
            while True:
                startable = [job for job in waiting if all(key in self.records for key in job.upstream)]
                if not startable:
                    return
                for job in startable:
                    waiting.remove(job)
                    record = self._prepare(job)
                    if record is None:
                        ready.append(job)
                        continue
                    self.records[job.key] = record
                    self.announce(f"{job.what}: reused (trained by an earlier run in {record['seconds']:.0f} s)")
                    then.get(job.key, lambda: None)()
                ready.sort(key=lambda j: (not j.first, -self._cost(j)))

        def finished(job: _Job, seconds: float) -> None:
            self._done(job, seconds)
            then.get(job.key, lambda: None)()
            release()

        release()
        if self.lanes == 1:  # one at a time: in this process, no worker to start
            while ready:
                job = ready.pop(0)
                start = time.perf_counter()
                run_training(preset_path(job.preset), job.overrides, self.out, progress=self.config.progress)
                finished(job, time.perf_counter() - start)
        elif ready:
            threads = max(1, (os.cpu_count() or 1) // self.lanes)
            # spawn, not fork: a forked child of a process that already ran OpenMP threads can hang.
            with ProcessPoolExecutor(max_workers=self.lanes, mp_context=get_context("spawn"),
                                     initializer=_start_lane, initargs=(threads,)) as pool:
                running: dict[Any, _Job] = {}
                try:
                    while ready or running:
                        while ready and len(running) < self.lanes:
                            job = ready.pop(0)
                            running[pool.submit(_timed_training, preset_path(job.preset), job.overrides,
                                                self.out)] = job
                        done, _ = wait(running, return_when=FIRST_COMPLETED)
                        for future in done:
                            # A training's error (a user error included) stops the demo here.
                            finished(running.pop(future), future.result())
                except BaseException:
                    # Stop the other lanes' trainings (no public way to stop a running task): their stage records
                    # stay "started", and a rerun resumes them from their last training state.
                    for process in list((getattr(pool, "_processes", None) or {}).values()):
                        process.terminate()
                    raise
        if waiting:
            raise RuntimeError(f"stages {', '.join(j.key for j in waiting)} wait for stages that were never made: "
                               f"{', '.join(sorted({k for j in waiting for k in j.upstream} - set(self.records)))}")

    def _done(self, job: _Job, seconds: float) -> None:
        record = self._finish(job, seconds)
        self.records[job.key] = record
        self.announce(f"{job.what} ({job.preset}, {job.iters} iterations): trained in {record['seconds']:.0f} s")

    @staticmethod
    def _cost(job: _Job) -> float:
        """A rough relative cost, to start the longest trainings first."""
        k = len(job.models)
        return job.iters * k * (3 if "mssr" in job.preset and "cl_synth" not in job.preset else 2 if k > 1 else 1)

    def stage1_jobs(self, data: DemoData, runs: Sequence[GeneratorRun] = GENERATORS) -> list[_Job]:
        """The stage-1 trainings of ``runs`` (for :meth:`train_all`)."""
        return [_Job(f"g_{run.key}", run.preset, generator_overrides(run, data, self.budget.stage1_iters,
                                                                      self.config.seed),
                     ["data"], f"stage 1: {run.label}", ["net_g_latest.pth"], self.budget.stage1_iters, first=True)
                for run in runs]

    def generators(self, runs: Sequence[GeneratorRun] = GENERATORS) -> dict[str, Path]:
        """The trained generators' checkpoints by key."""
        return {run.key: Path(self.records[f"g_{run.key}"]["models"][0]) for run in runs}

    def stage1(self, data: DemoData, runs: Sequence[GeneratorRun] = GENERATORS) -> dict[str, Path]:
        """Train the generators; returns their checkpoints by key."""
        self.train_all(self.stage1_jobs(data, runs))
        return self.generators(runs)

    def synthetic_folder(self, key: str) -> Path:
        """Where the offline LR of generator ``key`` (or of :data:`TRUE`) goes."""
        return self.out / "synthetic" / key

    def synthesise_one(self, data: DemoData, run: GeneratorRun) -> Path:
        """The offline LR of stage 2 from one trained generator: its samples of the training HR images (``probdeg
        degrade``), under a stage record reused when nothing changed."""
        from ..degrade import degrade_folder, matching_jpeg

        key, folder = f"lr_{run.key}", self.synthetic_folder(run.key)
        generator = self.generators([run])[run.key]
        samples = SYNTHETIC_SAMPLES if run.stochastic else 1
        config: dict[str, Any] = {"samples": samples, "seed": self.config.seed, "upstream": {
            k: self.records[k]["run_id"] for k in ("data", f"g_{run.key}")}}
        what = f"LR of {run.label}: {samples} sample(s) per training HR image"
        # A few seconds; recomputed on reuse, as the record's settings hold its result.
        jpeg = matching_jpeg(generator, data.train_hr, data.train_lr, seed=self.config.seed) \
            if self.config.match_jpeg else None
        if jpeg is not None:  # only then: the records of LR without JPEG stay valid
            config["jpeg"] = list(jpeg)
            what += f", JPEG quality {jpeg[0]}-{jpeg[1]} (the real LR's blocking)"
        self.make_folder(key, config, what, folder,
                         lambda: degrade_folder(generator, data.train_hr, folder, samples=samples,
                                                seed=self.config.seed, progress=False, overwrite=True, jpeg=jpeg))
        return folder

    def synthesise_true(self, data: DemoData) -> Path:
        """The oracle's LR: the true degradation's samples of the training HR images (the built-in task only)."""
        folder = self.synthetic_folder(TRUE)
        config = {"samples": SYNTHETIC_SAMPLES, "seed": self.config.data_seed,
                  "upstream": {"data": self.records["data"]["run_id"]}}
        self.make_folder(f"lr_{TRUE}", config, "LR of the true degradation (the oracle's)", folder,
                         lambda: true_degradation_samples(data.train_hr, folder, self.config.degradation,
                                                          seed=self.config.data_seed))
        return folder

    def synthesise(self, data: DemoData, oracle: bool, runs: Sequence[GeneratorRun] = GENERATORS) -> dict[str, Path]:
        """The offline LR of stage 2 of every (trained) generator run in ``runs``, and with ``oracle`` the true
        degradation's; returns the folders by key."""
        folders = {run.key: self.synthesise_one(data, run) for run in runs}
        if oracle:
            folders[TRUE] = self.synthesise_true(data)
        return folders

    def make_folder(self, key: str, config: dict[str, Any], what: str, folder: Path, make: Callable[[], Any]) -> None:
        """Fill ``folder`` with ``make()`` under the stage record ``key``, or reuse it when a finished record has the
        same ``config`` (a folder left by an interrupted ``make`` is removed first)."""
        record = self.store.finished(key, config)
        if record is not None and folder.is_dir():
            self.records[key] = record
            self.announce(f"{what}: reused")
            return
        if folder.exists():
            shutil.rmtree(folder)
        self.store.start(key, config)
        start = time.perf_counter()
        make()
        self.records[key] = self.store.finish(key, config, time.perf_counter() - start, folder=str(folder))
        self.announce(f"{what}: made in {self.records[key]['seconds']:.0f} s")

    def stage2_jobs(self, data: DemoData, synthetic: dict[str, Path], runs: Sequence[SRRun]) -> list[_Job]:
        """The SR trainings of ``runs`` (for :meth:`train_all`); ``synthetic`` maps LR sources to their folders,
        which need not exist yet: each job waits for its folders' stage records."""
        from ..integrations.basicsr.options import read_yaml
        from ..presets import preset_path

        jobs = []
        for run in runs:
            overrides = sr_overrides(run, data, synthetic, self.budget.stage2_iters, self.config.seed)
            upstream = ["data"] + [f"lr_{k}" for k in sorted({k for keys in run.sources or () for k in keys})]
            models = run.num_models or int(read_yaml(preset_path(run.preset))["num_models"])
            jobs.append(_Job(f"sr_{run.key}", run.preset, overrides, upstream, f"stage 2: {run.key}",
                             [f"net_sr{i}_latest.pth" for i in range(models)], self.budget.stage2_iters))
        return jobs

    def stage2(self, data: DemoData, synthetic: dict[str, Path], runs: Optional[Sequence[SRRun]] = None) -> None:
        """Train the SR runs (default: the demo's, the oracle when its LR is in ``synthetic``)."""
        self.train_all(self.stage2_jobs(data, synthetic, runs if runs is not None
                                        else self.sr_runs(oracle=TRUE in synthetic)))

    def both_stages(self, data: DemoData, oracle: bool) -> dict[str, Path]:
        """Stage 1, the offline LR and stage 2 as one schedule: an SR run starts as soon as the LR it reads exists,
        so the runs on bicubic, real or true LR fill the lane stage 1 leaves idle. Returns the generators by key."""
        synthetic = {run.key: self.synthetic_folder(run.key) for run in GENERATORS}
        if oracle:
            synthetic[TRUE] = self.synthesise_true(data)
        then = {f"g_{run.key}": lambda run=run: self.synthesise_one(data, run) for run in GENERATORS}
        self.train_all(self.stage1_jobs(data) + self.stage2_jobs(data, synthetic, self.sr_runs(oracle)), then)
        return self.generators()

    @staticmethod
    def sr_runs(oracle: bool) -> list[SRRun]:
        return [run for run in SR_RUNS if oracle or not run.oracle]


def true_degradation_samples(train_hr: Path, folder: Path, degradation: TrueDegradation, *, seed: int) -> None:
    """``SYNTHETIC_SAMPLES`` draws of the true degradation of every training HR image, named as ``probdeg degrade``
    names its samples (``<stem>_s<k>.png``); fresh draws (seeded apart from the task's own)."""
    import numpy as np

    from ..io import list_images, read_image, write_image
    from ..sample_task import apply_true_degradation
    from .task import SCALE

    for index, path in enumerate(list_images(train_hr)):
        hr = read_image(path)
        hr = hr[: hr.shape[0] - hr.shape[0] % SCALE, : hr.shape[1] - hr.shape[1] % SCALE]
        relative = path.relative_to(train_hr)
        for k in range(SYNTHETIC_SAMPLES):
            rng = np.random.default_rng([seed, 7919, index, k])
            write_image(folder / relative.with_name(f"{relative.stem}_s{k}.png"),
                        apply_true_degradation(degradation, hr, SCALE, rng, str(path)))


def environment(lanes: int) -> dict[str, Any]:
    """The machine and software, for the report."""
    import torch

    from ..runtime import bf16_is_native

    return {"python": platform.python_version(), "torch": torch.__version__, "platform": platform.platform(),
            "cpus": os.cpu_count(), "lanes": lanes, "torch_threads": max(1, (os.cpu_count() or 1) // lanes),
            "bf16_forwards": bf16_is_native(torch.device("cpu"))}


def run_demo(config: DemoConfig) -> DemoResult:
    """Run the whole demo (see the module doc) and write ``report.html`` and ``report.md`` into ``config.out``.

    Raises:
        ValueError / FileNotFoundError: bad folders or settings, named in the message.
    """
    from .figures import sr_crops
    from .report import write_report
    from .scoring import demo_scorecard, robustness, score_methods

    start = time.perf_counter()
    runner = DemoRunner(config)
    user = check_user_folders(runner.out, *(Path(p) if p is not None else None
                                            for p in (config.hr, config.lr, config.val_hr, config.val_lr)))
    oracle = user["--hr"] is None  # the built-in task: its true degradation is known
    runner.total = 2 + 2 * len(GENERATORS) + int(oracle) + len(runner.sr_runs(oracle)) + 1
    runner.out.mkdir(parents=True, exist_ok=True)
    data = runner.data(user)
    generators = runner.both_stages(data, oracle)
    runner.announce("scores, figures and report")
    methods = score_methods(runner.out, data, runner.records, progress=config.progress)
    scores = {"methods": methods,
              "generators": demo_scorecard(runner.out, data, generators, seed=config.seed),
              "robustness": robustness(runner.out, data, runner.records, seed=config.seed, progress=config.progress),
              "figures": {"crops": sr_crops(runner.out, data, methods)}}
    with atomic_path(runner.out / "scores.json") as tmp:
        tmp.write_text(json.dumps(scores, indent=2, default=str) + "\n", encoding="utf-8")
    seconds = time.perf_counter() - start
    html, md = write_report(runner.out, data=data, budget=runner.budget, config=config, records=runner.records,
                            scores=scores, seconds=seconds, environment=environment(runner.lanes))
    runner.say(f"      report: {html} (and {md.name}); {seconds / 60:.1f} min in all")
    return DemoResult(runner.out, html, md, runner.records, scores, seconds)
