"""``probdeg demo``'s run: data, stage 1, stage 2 through the tiny BasicSR presets, then scores, figures and report.

Every training goes through ``probdeg train`` (the same function, option file and ``--set`` overrides a user would
type); the report lists those commands. Finished trainings are reused on a rerun, interrupted ones resume from their
last training state (see :mod:`probdeg.demo.stages`).
"""

from __future__ import annotations

import json
import platform
import shlex
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

from ..io import atomic_path
from ..sample_task import TrueDegradation, camera_degradation, describe_true_degradation
from .plan import BUDGETS, GENERATORS, PRETRAIN, SR_RUNS, Budget, GeneratorRun, SRRun
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
        f"datasets:val:dataroot_real_lr={_quoted(data.train_lr)}"]


def sr_overrides(run: SRRun, data: DemoData, generators: dict[str, Path], iters: int, seed: int,
                 init: Optional[Path] = None) -> list[str]:
    """The ``--set`` overrides of a stage-2 training; ``generators`` maps generator keys to checkpoints, ``init`` is
    the checkpoint every model starts from (``None``: random initialisation)."""
    overrides = _common_overrides(f"sr_{run.key}", iters, seed) + [
        f"train:scheduler:milestones=[{max(1, iters * 3 // 4)}]",  # the preset's 150 of 200
        f"datasets:train:dataroot_hr={_quoted(data.train_lr if run.hr_from_lr else data.train_hr)}",
        f"datasets:train:dataroot_lr={_quoted(data.train_lr)}",
        f"datasets:val:dataroot_gt={_quoted(data.val_hr)}", f"datasets:val:dataroot_lq={_quoted(data.val_lr)}"]
    if run.sources is not None:
        def source(keys: tuple[str, ...]) -> Any:
            entries = [{"generator": str(generators[k])} for k in keys]
            return entries[0] if len(entries) == 1 else entries

        overrides.append(f"degradations={json.dumps([source(keys) for keys in run.sources])}")
    if run.full_progress:
        overrides.append(f"collab:total_progress={iters}")
    if init is not None:
        overrides.append(f"path:pretrain_network_sr={_quoted(init)}")
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


class _Runner:
    def __init__(self, config: DemoConfig) -> None:
        self.config = config
        self.budget = config.resolved_budget()
        self.out = Path(config.out).expanduser().resolve()
        self.store = StageStore(self.out / "stages")
        self.records: dict[str, dict[str, Any]] = {}
        self.total = 1 + len(GENERATORS) + len(SR_RUNS) + 1
        self.step = 0

    def say(self, text: str) -> None:
        print(text, flush=True)

    def announce(self, text: str) -> None:
        self.step += 1
        self.say(f"[{self.step}/{self.total}] {text}")

    # ------------------------------------------------------------------------------------------------------ data
    def data(self, user: dict[str, Optional[Path]]) -> DemoData:
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
    def train(self, key: str, preset_name: str, overrides: list[str], upstream: list[str], what: str,
              models: list[str], iters: int) -> dict[str, Any]:
        from ..presets import preset_path

        preset = preset_path(preset_name)
        config = {"preset": preset_name, "overrides": overrides,
                  "upstream": {k: self.records[k]["run_id"] for k in upstream}}
        command = train_command(preset, self.out, overrides)
        experiment = self.out / "experiments" / f"demo_{key}"
        self.announce(f"{what} ({preset_name}, {iters} iterations)")
        record = self.store.finished(key, config)
        if record is not None and all(Path(p).is_file() for p in record["models"]):
            self.say(f"      reused (trained by an earlier run in {record['seconds']:.0f} s)")
            self.records[key] = record
            return record
        resuming = self.store.interrupted(key, config) and any((experiment / "training_states").glob("*.state"))
        if not resuming and experiment.exists():
            shutil.rmtree(experiment)  # other settings, or nothing to resume from: start clean
        if resuming:
            self.say("      resuming an interrupted run from its last training state")
        self.store.start(key, config)
        start = time.perf_counter()
        run_training(preset, overrides, self.out, progress=self.config.progress)
        paths = [experiment / "models" / name for name in models]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise RuntimeError(f"training {key} finished without writing {', '.join(missing)}")
        record = self.store.finish(key, config, time.perf_counter() - start, command=command,
                                   experiment=str(experiment), models=[str(p) for p in paths])
        self.say(f"      trained in {record['seconds']:.1f} s -> {experiment}")
        self.records[key] = record
        return record

    def stage1(self, data: DemoData) -> dict[str, Path]:
        checkpoints = {}
        for run in GENERATORS:
            overrides = generator_overrides(run, data, self.budget.stage1_iters, self.config.seed)
            record = self.train(f"g_{run.key}", run.preset, overrides, ["data"], f"stage 1: {run.label}",
                                ["net_g_latest.pth"], self.budget.stage1_iters)
            checkpoints[run.key] = Path(record["models"][0])
        return checkpoints

    def stage2(self, data: DemoData, generators: dict[str, Path]) -> None:
        from ..integrations.basicsr.options import read_yaml
        from ..presets import preset_path

        for run in SR_RUNS:
            init = Path(self.records[f"sr_{PRETRAIN}"]["models"][0]) if run.init else None
            iters = self.budget.stage2_iters if run.init else self.budget.pretrain_iters
            overrides = sr_overrides(run, data, generators, iters, self.config.seed, init)
            upstream = ["data"] + [f"g_{k}" for k in sorted({k for keys in run.sources or () for k in keys})]
            models = run.num_models or int(read_yaml(preset_path(run.preset))["num_models"])
            self.train(f"sr_{run.key}", run.preset, overrides, upstream + ([f"sr_{PRETRAIN}"] if run.init else []),
                       f"stage 2: {run.key}" + (f" (from {PRETRAIN})" if run.init else ""),
                       [f"net_sr{i}_latest.pth" for i in range(models)], iters)


def environment() -> dict[str, Any]:
    """The machine and software, for the report."""
    import os

    import torch

    return {"python": platform.python_version(), "torch": torch.__version__, "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads()}


def run_demo(config: DemoConfig) -> DemoResult:
    """Run the whole demo (see the module doc) and write ``report.html`` and ``report.md`` into ``config.out``.

    Raises:
        ValueError / FileNotFoundError: bad folders or settings, named in the message.
    """
    from .figures import sr_crops
    from .report import write_report
    from .scoring import robustness, score_generators, score_methods

    start = time.perf_counter()
    runner = _Runner(config)
    user = check_user_folders(runner.out, *(Path(p) if p is not None else None
                                            for p in (config.hr, config.lr, config.val_hr, config.val_lr)))
    runner.out.mkdir(parents=True, exist_ok=True)
    data = runner.data(user)
    generators = runner.stage1(data)
    runner.stage2(data, generators)
    runner.announce("scores, figures and report")
    methods = score_methods(runner.out, data, runner.records, progress=config.progress)
    scores = {"methods": methods,
              "generators": score_generators(runner.out, data, generators, seed=config.seed),
              "robustness": robustness(runner.out, data, runner.records, seed=config.seed, progress=config.progress),
              "figures": {"crops": sr_crops(runner.out, data, methods)}}
    with atomic_path(runner.out / "scores.json") as tmp:
        tmp.write_text(json.dumps(scores, indent=2, default=str) + "\n", encoding="utf-8")
    seconds = time.perf_counter() - start
    html, md = write_report(runner.out, data=data, budget=runner.budget, config=config, records=runner.records,
                            scores=scores, seconds=seconds, environment=environment())
    runner.say(f"      report: {html} (and {md.name}); {seconds / 60:.1f} min in all")
    return DemoResult(runner.out, html, md, runner.records, scores, seconds)
