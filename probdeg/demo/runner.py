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
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

from ..io import atomic_path, list_images, read_image, write_image
from ..presets import preset_path
from ..runtime import bf16_is_native, keep_freed_memory
from ..sample_task import TrueDegradation, apply_true_degradation, camera_degradation, describe_true_degradation
from .figures import sr_crops
from .lanes import Job, run_jobs
from .plan import BUDGETS, GENERATORS, SR_RUNS, SYNTHETIC_SAMPLES, TRUE, Budget, GeneratorRun, SRRun
from .report import write_report
from .stages import Records, StageRecord, StageStore
from .task import SCALE, DemoData, UserFolders, check_user_folders, prepare_data

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
    records: Records
    scores: dict[str, Any]
    seconds: float


Overrides = dict[str, Any]
"""``--set`` overrides as a mapping of ``section:key`` to value, rendered to text once (:func:`render_overrides`)."""


def render_value(value: Any) -> str:
    """A value as ``--set`` text: paths as JSON strings (a JSON string is a YAML string, whatever characters the path
    holds), lists and mappings as JSON, booleans as YAML's, other values as they print."""
    if isinstance(value, Path):
        return json.dumps(str(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value)
    return str(value)


def render_overrides(overrides: Overrides) -> list[str]:
    """``key=value`` words for ``probdeg train --set`` (and for :func:`run_training`)."""
    return [f"{key}={render_value(value)}" for key, value in overrides.items()]


def parse_overrides(words: Sequence[str]) -> Overrides:
    """``key=value`` words as a mapping (values kept as text: they render as given)."""
    return dict(word.split("=", 1) for word in words)


def _preset_train(preset: str) -> dict[str, Any]:
    from ..integrations.basicsr.options import read_yaml

    return read_yaml(preset_path(preset))["train"]


def _common_overrides(key: str, preset: str, iters: int, seed: int) -> Overrides:
    from ..integrations.basicsr.options import scaled_schedule

    return {"name": f"demo_{key}", "manual_seed": seed, "num_gpu": 0, "train:total_iter": iters,
            "logger:print_freq": max(1, iters // 10), "logger:save_checkpoint_freq": max(1, iters // 4),
            "val:val_freq": iters + 1, "val:save_img": False,  # validated once, at the end
            **scaled_schedule(_preset_train(preset), iters)}  # the preset's own schedule, rescaled


def generator_overrides(run: GeneratorRun, data: DemoData, iters: int, seed: int) -> Overrides:
    """The ``--set`` overrides of a stage-1 training."""
    return {**_common_overrides(f"g_{run.key}", run.preset, iters, seed),
            "datasets:train:dataroot_hr": data.train_hr, "datasets:train:dataroot_lr": data.train_lr,
            "datasets:val:dataroot_hr": data.val_hr, "datasets:val:dataroot_lr": data.val_lr,
            "datasets:val:dataroot_real_lr": data.train_lr, **parse_overrides(run.overrides)}


def sr_overrides(run: SRRun, data: DemoData, synthetic: dict[str, Path], iters: int, seed: int) -> Overrides:
    """The ``--set`` overrides of a stage-2 training; ``synthetic`` maps source keys (generator keys, ``true``) to
    the folders of LR samples made from the training HR images."""
    overrides = {**_common_overrides(f"sr_{run.key}", run.preset, iters, seed),
                 "datasets:train:dataroot_hr": data.train_lr if run.hr_from_lr else data.train_hr,
                 "datasets:train:dataroot_lr": data.train_lr,
                 "datasets:val:dataroot_gt": data.val_hr, "datasets:val:dataroot_lq": data.val_lr}
    if run.sources is not None:
        from ..integrations.basicsr.sources import OfflineSource, write_entry

        used = sorted({k for keys in run.sources for k in keys})
        overrides["datasets:train:synthetic_lr"] = {k: str(synthetic[k]) for k in used}
        overrides["degradations"] = [write_entry([OfflineSource(offline=k) for k in keys]) for keys in run.sources]
    if run.num_models is not None:
        overrides["num_models"] = run.num_models
    return {**overrides, **parse_overrides(run.overrides)}


def train_command(preset: Path, root: Path, overrides: Sequence[str]) -> str:
    """The shell command that runs the same training."""
    words = ["probdeg", "train", "-opt", str(preset), "--root", str(root), "--auto_resume", "--set", *overrides]
    return " ".join(shlex.quote(w) for w in words)


def run_training(preset: Path, overrides: Sequence[str], root: Path, *, progress: bool = True) -> Path:
    """``probdeg train -opt PRESET --root ROOT --auto_resume --set OVERRIDES`` in this process, BasicSR's console log
    kept to warnings (it stays in each experiment's log file); returns the experiment folder."""
    from ..integrations.basicsr.pipeline import train

    return train(preset, root=root, overrides=list(overrides), auto_resume=True, progress=progress,
                 console_log=False)


def _timed_training(preset: Path, overrides: list[str], root: Path) -> float:
    """A lane's job: :func:`run_training` without progress bars; returns its seconds (not the time it queued)."""
    start = time.perf_counter()
    run_training(preset, overrides, root, progress=False)
    return time.perf_counter() - start


def _start_lane(threads: int) -> None:
    """A lane's worker process: its share of the cores, glibc's memory kept (probdeg.runtime), warnings on one line."""
    import torch

    keep_freed_memory()
    torch.set_num_threads(threads)
    warnings.formatwarning = lambda message, *args, **kwargs: f"probdeg demo: warning: {message}\n"


def default_lanes() -> int:
    """Trainings run side by side: one per core, up to 2. On 2 cores one small training uses one core as fast as it
    uses two (benchmarks/bench_training.py), so two trainings at once nearly halve the demo's time."""
    return max(1, min(2, os.cpu_count() or 1))


@dataclass(frozen=True)
class Training:
    """What one training job runs: a preset with its overrides (rendered once), and what it must write."""

    preset: str
    overrides: tuple[str, ...]
    what: str
    models: tuple[str, ...]
    iters: int


def training_job(key: str, training: Training, upstream: Sequence[str], *, cost: float, root: Path,
                 first: bool = False) -> Job:
    """A :class:`~probdeg.demo.lanes.Job` that runs ``training`` in a lane."""
    return Job(key, tuple(upstream), cost, _timed_training, (preset_path(training.preset), list(training.overrides),
                                                            root), first=first, payload=training)


class DemoRunner:
    """The demo's stages on one output folder: reused when finished, resumed when interrupted, run in lanes.

    The ``[k/N]`` counter counts the steps that :meth:`expect` was told of (every job :meth:`train_all` gets, every
    folder :meth:`make_folder` makes, and what the caller adds)."""

    def __init__(self, config: DemoConfig) -> None:
        self.config = config
        self.budget = config.resolved_budget()
        self.out = Path(config.out).expanduser().resolve()
        self.store = StageStore(self.out / "stages")
        self.records = Records()
        self.lanes = config.lanes or default_lanes()
        self._expected: list[str] = []
        self._announced: set[str] = set()

    def say(self, text: str) -> None:
        print(text, flush=True)

    def expect(self, *steps: str) -> None:
        """Count ``steps`` (keys) in the ``[k/N]`` counter; a key counts once."""
        self._expected += [step for step in steps if step not in self._expected]

    def announce(self, step: str, text: str) -> None:
        self.expect(step)
        self._announced.add(step)
        self.say(f"[{len(self._announced)}/{len(self._expected)}] {text}")

    # ------------------------------------------------------------------------------------------------------ data
    def data(self, user: Optional[UserFolders] = None) -> DemoData:
        """Make (or reuse) the task's folders: ``user`` from :func:`check_user_folders`, ``None`` for the built-in
        task."""
        user = user or UserFolders()
        name = describe_true_degradation(self.config.degradation)
        config = {"user": user.as_record(), "seed": self.config.data_seed, "degradation": name}
        self.announce("data", "data: " + ("your folders" if user.given else
                                          "the sample task from scikit-image's photos"))
        record = self.store.finished("data", config)
        if record is not None and not all(Path(record.made["folders"][k]).is_dir() for k in ("train_hr", "val_hr")):
            record = None  # deleted since: make it again
        if record is None:
            start = time.perf_counter()
            self.store.start("data", config)
            data = prepare_data(self.out / "data", user, self.config.degradation, seed=self.config.data_seed,
                                degradation_name=name)
            record = self.store.finish("data", config, time.perf_counter() - start, folders=data.as_record())
            self.say(f"      made in {record.seconds:.1f} s")
        else:
            self.say("      reused (made by an earlier run)")
        self.records.add(record)
        return DemoData.from_record(record.made["folders"])

    # -------------------------------------------------------------------------------------------------- training
    def _prepare(self, job: Job) -> bool:
        """Reuse the job's finished record (``False``), or ready its experiment folder to (re)start (``True``)."""
        training: Training = job.payload
        config = self._config(job)
        record = self.store.finished(job.key, config)
        if record is not None and all(p.is_file() for p in record.models):
            self.records.add(record)
            self.announce(job.key, f"{training.what}: reused (trained by an earlier run in {record.seconds:.0f} s)")
            return False
        experiment = self.out / "experiments" / f"demo_{job.key}"
        resuming = self.store.interrupted(job.key, config) and any((experiment / "training_states").glob("*.state"))
        if not resuming and experiment.exists():
            shutil.rmtree(experiment)  # other settings, or nothing to resume from: start clean
        if resuming:
            self.say(f"      {training.what}: resuming an interrupted run from its last training state")
        self.store.start(job.key, config)
        return True

    def _config(self, job: Job) -> dict[str, Any]:
        from ..integrations.basicsr.options import read_yaml

        training: Training = job.payload
        # The preset's options too: a changed preset (a new probdeg) retrains instead of reusing a stale stage. Parsed,
        # not the file's text: an edited comment must not throw away finished trainings.
        options = json.dumps(read_yaml(preset_path(training.preset)), sort_keys=True, default=str)
        return {"preset": training.preset, "preset_options_sha1": hashlib.sha1(options.encode()).hexdigest(),
                "overrides": list(training.overrides),
                "upstream": {k: self.records.run_id(k) for k in job.upstream}}

    def _finish(self, job: Job, seconds: float) -> StageRecord:
        training: Training = job.payload
        experiment = self.out / "experiments" / f"demo_{job.key}"
        paths = [experiment / "models" / name for name in training.models]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise RuntimeError(f"training {job.key} finished without writing {', '.join(missing)}")
        prune_experiment(experiment)
        return self.store.finish(job.key, self._config(job), seconds,
                                 command=train_command(preset_path(training.preset), self.out, training.overrides),
                                 experiment=str(experiment), models=[str(p) for p in paths])

    def train_all(self, jobs: list[Job], then: Optional[dict[str, Callable[[], object]]] = None) -> None:
        """Run the jobs in :attr:`lanes` worker processes, each as soon as the stages it reads (``upstream``) are
        finished; of the startable ones, ``first`` jobs, then the costliest. ``then[key]()`` runs in this process once
        job ``key`` is finished (or reused), and may finish the stages other jobs wait for (a lane waits meanwhile:
        making an LR folder takes seconds, and the job it unlocks may be the longest). Finished jobs are reused,
        interrupted ones resumed; an error stops the other lanes' trainings, which a rerun resumes."""
        then = then or {}
        self.expect(*(job.key for job in jobs))

        def prepare(job: Job) -> bool:
            if self._prepare(job):
                return True
            then.get(job.key, lambda: None)()
            return False

        def finished(job: Job, seconds: float) -> None:
            training: Training = job.payload
            record = self.records.add(self._finish(job, seconds))
            self.announce(job.key, f"{training.what} ({training.preset}, {training.iters} iterations): trained in "
                                   f"{record.seconds:.0f} s")
            then.get(job.key, lambda: None)()

        def run_here(job: Job) -> float:
            training: Training = job.payload
            start = time.perf_counter()
            run_training(job.args[0], training.overrides, self.out, progress=self.config.progress)
            return time.perf_counter() - start

        threads = max(1, (os.cpu_count() or 1) // self.lanes)
        waiting = run_jobs(jobs, lanes=self.lanes, done=lambda key: key in self.records, prepare=prepare,
                           finished=finished, initializer=_start_lane, initargs=(threads,), run_here=run_here)
        if waiting:
            raise RuntimeError(f"stages {', '.join(j.key for j in waiting)} wait for stages that were never made: "
                               f"{', '.join(sorted({k for j in waiting for k in j.upstream} - set(self.records)))}")

    def stage1_jobs(self, data: DemoData, runs: Sequence[GeneratorRun] = GENERATORS) -> list[Job]:
        """The stage-1 trainings of ``runs`` (for :meth:`train_all`)."""
        iters = self.budget.stage1_iters
        return [training_job(f"g_{run.key}", Training(
                    run.preset, tuple(render_overrides(generator_overrides(run, data, iters, self.config.seed))),
                    f"stage 1: {run.label}", ("net_g_latest.pth",), iters),
                    ["data"], cost=iters * run.cost, root=self.out, first=True)
                for run in runs]

    def generators(self, runs: Sequence[GeneratorRun] = GENERATORS) -> dict[str, Path]:
        """The trained generators' checkpoints by key."""
        return {run.key: self.records.generator(run.key) for run in runs}

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
            k: self.records.run_id(k) for k in ("data", f"g_{run.key}")}}
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
                  "upstream": {"data": self.records.run_id("data")}}
        self.make_folder(f"lr_{TRUE}", config, "LR of the true degradation (the oracle's)", folder,
                         lambda: true_degradation_samples(data.train_hr, folder, self.config.degradation,
                                                          seed=self.config.data_seed))
        return folder

    def synthesise(self, data: DemoData, oracle: bool, runs: Sequence[GeneratorRun] = GENERATORS) -> dict[str, Path]:
        """The offline LR of stage 2 of every (trained) generator run in ``runs``, and with ``oracle`` the true
        degradation's; returns the folders by key."""
        self.expect(*(f"lr_{run.key}" for run in runs), *([f"lr_{TRUE}"] if oracle else []))
        folders = {run.key: self.synthesise_one(data, run) for run in runs}
        if oracle:
            folders[TRUE] = self.synthesise_true(data)
        return folders

    def make_folder(self, key: str, config: dict[str, Any], what: str, folder: Path, make: Callable[[], Any]) -> None:
        """Fill ``folder`` with ``make()`` under the stage record ``key``, or reuse it when a finished record has the
        same ``config`` (a folder left by an interrupted ``make`` is removed first)."""
        record = self.store.finished(key, config)
        if record is not None and folder.is_dir():
            self.records.add(record)
            self.announce(key, f"{what}: reused")
            return
        if folder.exists():
            shutil.rmtree(folder)
        self.store.start(key, config)
        start = time.perf_counter()
        make()
        record = self.records.add(self.store.finish(key, config, time.perf_counter() - start, folder=str(folder)))
        self.announce(key, f"{what}: made in {record.seconds:.0f} s")

    def stage2_jobs(self, data: DemoData, synthetic: dict[str, Path], runs: Sequence[SRRun]) -> list[Job]:
        """The SR trainings of ``runs`` (for :meth:`train_all`); ``synthetic`` maps LR sources to their folders,
        which need not exist yet: each job waits for its folders' stage records."""
        from ..integrations.basicsr.options import read_yaml

        iters, jobs = self.budget.stage2_iters, []
        for run in runs:
            overrides = render_overrides(sr_overrides(run, data, synthetic, iters, self.config.seed))
            upstream = ["data"] + [f"lr_{k}" for k in sorted({k for keys in run.sources or () for k in keys})]
            models = run.num_models or int(read_yaml(preset_path(run.preset))["num_models"])
            training = Training(run.preset, tuple(overrides), f"stage 2: {run.key}",
                                tuple(f"net_sr{i}_latest.pth" for i in range(models)), iters)
            jobs.append(training_job(f"sr_{run.key}", training, upstream, cost=iters * run.cost, root=self.out))
        return jobs

    def stage2(self, data: DemoData, synthetic: dict[str, Path], runs: Optional[Sequence[SRRun]] = None) -> None:
        """Train the SR runs (default: the demo's, the oracle when its LR is in ``synthetic``)."""
        self.train_all(self.stage2_jobs(data, synthetic, runs if runs is not None
                                        else self.sr_runs(oracle=TRUE in synthetic)))

    def both_stages(self, data: DemoData, oracle: bool) -> dict[str, Path]:
        """Stage 1, the offline LR and stage 2 as one schedule: an SR run starts as soon as the LR it reads exists,
        so the runs on bicubic, real or true LR fill the lane stage 1 leaves idle. Returns the generators by key."""
        jobs = self.stage1_jobs(data) + self.stage2_jobs(data, {run.key: self.synthetic_folder(run.key)
                                                                for run in GENERATORS}
                                                         | ({TRUE: self.synthetic_folder(TRUE)} if oracle else {}),
                                                         self.sr_runs(oracle))
        then = {f"g_{run.key}": lambda run=run: self.synthesise_one(data, run) for run in GENERATORS}
        self.expect(*self.both_stages_steps(oracle))
        if oracle:
            self.synthesise_true(data)
        self.train_all(jobs, then)
        return self.generators()

    @classmethod
    def both_stages_steps(cls, oracle: bool) -> list[str]:
        """The steps :meth:`both_stages` runs, in the counter's order (known before the data exists)."""
        return ([f"lr_{TRUE}"] if oracle else []) + [f"g_{run.key}" for run in GENERATORS] + \
            [f"lr_{run.key}" for run in GENERATORS] + [f"sr_{run.key}" for run in cls.sr_runs(oracle)]

    @staticmethod
    def sr_runs(oracle: bool) -> list[SRRun]:
        return [run for run in SR_RUNS if oracle or not run.oracle]


def prune_experiment(experiment: Path) -> int:
    """Keep a finished training's latest files only: the ``_latest`` checkpoints, the newest training state and the
    numbered checkpoints of its iteration (what a resume from it loads); older states and checkpoints are removed.
    Returns the bytes freed."""
    def iteration(path: Path) -> int:
        number = path.stem.rpartition("_")[2] if path.suffix == ".pth" else path.stem
        return int(number) if number.isdigit() else -1

    states = sorted((experiment / "training_states").glob("*.state"), key=iteration)
    newest = iteration(states[-1]) if states else -1
    numbered = [p for p in (experiment / "models").glob("*.pth") if iteration(p) >= 0]
    freed = 0
    for path in states[:-1] + [p for p in numbered if iteration(p) != newest]:
        freed += path.stat().st_size
        path.unlink()
    return freed


def true_degradation_samples(train_hr: Path, folder: Path, degradation: TrueDegradation, *, seed: int) -> None:
    """``SYNTHETIC_SAMPLES`` draws of the true degradation of every training HR image, named as ``probdeg degrade``
    names its samples (``<stem>_s<k>.png``); fresh draws (seeded apart from the task's own)."""
    import numpy as np

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

    return {"python": platform.python_version(), "torch": torch.__version__, "platform": platform.platform(),
            "cpus": os.cpu_count(), "lanes": lanes, "torch_threads": max(1, (os.cpu_count() or 1) // lanes),
            "bf16_forwards": bf16_is_native(torch.device("cpu"))}


def run_demo(config: DemoConfig) -> DemoResult:
    """Run the whole demo (see the module doc) and write ``report.html`` and ``report.md`` into ``config.out``.

    Raises:
        ValueError / FileNotFoundError: bad folders or settings, named in the message.
    """
    from .scoring import demo_scorecard, robustness, score_methods

    start = time.perf_counter()
    runner = DemoRunner(config)
    user = check_user_folders(runner.out, *(Path(p) if p is not None else None
                                            for p in (config.hr, config.lr, config.val_hr, config.val_lr)))
    oracle = not user.given  # the built-in task: its true degradation is known
    runner.out.mkdir(parents=True, exist_ok=True)
    runner.expect("data", *runner.both_stages_steps(oracle), "report")
    data = runner.data(user)
    generators = runner.both_stages(data, oracle)
    runner.announce("report", "scores, figures and report")
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
