"""``probdeg pipeline``: the whole method on the user's own folders, to one SR model and a short report.

Stage 1 trains the two probabilistic generators on the user's clean HR and real LR (unpaired), the scorecard says how
realistic each one's LR is against the real LR (no ground truth needed), stage 2 trains MSSR's K = 2 SR nets, which
are distilled into one (:mod:`probdeg.distill`), and the result is one checkpoint, ``model/sr.pth`` (and its ONNX
twin), with pictures of what it does on the user's real LR. Every stage is the demo's (the same tiny presets,
budgets, records): a rerun reuses what is finished and resumes what was cut off.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union

from ..checkpoint import load_checkpoint, load_network, save_checkpoint
from ..distill import distill
from ..figures import mosaic
from ..folders import distinct_images
from ..io import image_to_tensor, list_images, read_image, tensor_to_image, write_image
from .figures import busiest_window
from .plan import GENERATORS, SR_RUNS, Budget
from .report import relative_path, write_blocks
from .runner import DemoConfig, DemoRunner
from .stages import Records
from .task import check_user_folders

PathLike = Union[str, Path]

GENERATOR_KEYS = ("deresnet_prob", "han_prob")
"""The generators MSSR learns from (the demo's deterministic DeResnet is a baseline, not part of the method)."""

SR_RUN = "mssr"

DISTILL_FRACTION = 5 / 12
"""Distillation steps per MSSR iteration (1500 at the full budget's 3600, as measured)."""

PREVIEW_IMAGES = 4
PREVIEW_SIDE = 192  # SR pixels of each preview crop


@dataclass
class PipelineResult:
    """What ``probdeg pipeline`` made: the model (``.pth``, and ``.onnx`` when onnx is installed), the ensemble it
    comes from, the report, the scorecard files and the stage records."""

    model: Path
    onnx: Optional[Path]
    ensemble: list[Path]
    report_html: Path
    report_md: Path
    scorecard: dict[str, Path]
    records: Records


def run_pipeline(out: PathLike, hr: PathLike, lr: PathLike, *, budget: Union[str, Budget] = "full", seed: int = 0,
                 val_hr: Optional[PathLike] = None, val_lr: Optional[PathLike] = None, progress: bool = True,
                 lanes: Optional[int] = None, match_jpeg: bool = True, command: Optional[str] = None
                 ) -> PipelineResult:
    """Train the method on ``hr`` (clean HR images) and ``lr`` (real LR images, unpaired) into ``out``.

    Args:
        out: output folder; a rerun reuses its finished stages.
        hr, lr: the user's folders.
        budget: ``quick``, ``full`` or a :class:`~probdeg.demo.plan.Budget`.
        seed: training seed.
        val_hr, val_lr: paired validation folders, if the user has any (else every fifth HR image is held out with a
            stand-in degradation, only so that the trainings' own validation runs: its figures are not reported).
        progress: progress bars.
        lanes: trainings side by side (default: one per core, up to 2).
        match_jpeg: compress the generators' LR to the real LR's JPEG blocking before stage 2.
        command: the command line, for the report.

    Returns:
        The model, the ensemble it comes from, the report and the scorecard files.
    """
    from ..metrics.scorecard import score_generators, write_scorecard

    config = DemoConfig(out=out, budget=budget, seed=seed, hr=hr, lr=lr, val_hr=val_hr, val_lr=val_lr,
                        progress=progress, lanes=lanes, match_jpeg=match_jpeg, command=command)
    runner = DemoRunner(config)
    user = check_user_folders(runner.out, *(Path(p) if p is not None else None for p in (hr, lr, val_hr, val_lr)))
    generators = [run for run in GENERATORS if run.key in GENERATOR_KEYS]
    sr_run = next(run for run in SR_RUNS if run.key == SR_RUN)
    runner.expect("data", *(f"g_{run.key}" for run in generators), *(f"lr_{run.key}" for run in generators),
                  f"sr_{sr_run.key}", "scorecard", "distil", "model and report")
    runner.out.mkdir(parents=True, exist_ok=True)
    data = runner.data(user)
    synthetic = {run.key: runner.synthetic_folder(run.key) for run in generators}
    then = {f"g_{run.key}": lambda run=run: runner.synthesise_one(data, run) for run in generators}
    runner.train_all(runner.stage1_jobs(data, generators) + runner.stage2_jobs(data, synthetic, [sr_run]), then)

    runner.announce("scorecard", "scorecard: each generator's LR against your real LR")
    checkpoints = runner.generators(generators)
    card, nets = score_generators([checkpoints[run.key] for run in generators], data.train_hr, user.lr,
                                  seed=seed, progress=False, labels=[run.label for run in generators])
    scorecard = write_scorecard(card, runner.out / "scorecard", generators=nets)

    ensemble = [Path(p) for p in runner.records.sr(sr_run.key).model_paths]
    student = distilled_model(runner, ensemble, [synthetic[run.key] for run in generators] + [Path(user.lr)])
    runner.announce("model and report", "the model (exported and checked) and the report")
    model, onnx = export_one_model(student, ensemble, runner.out / "model")
    preview = preview_figure(model, Path(user.lr), runner.out / "model" / "preview.png")
    html, md = write_pipeline_report(runner.out, model=model, onnx=onnx, ensemble=ensemble, card=card,
                                     scorecard=scorecard, preview=preview, records=runner.records,
                                     budget=runner.budget, config=config)
    runner.say(f"      model: {model}" + (f" (and {onnx.name})" if onnx else "") + f"\n      report: {html}")
    return PipelineResult(model, onnx, ensemble, html, md, scorecard, runner.records)


def distilled_model(runner: DemoRunner, ensemble: list[Path], lr_folders: list[Path]) -> Path:
    """The one model: MSSR's ensemble distilled into its first member (:func:`probdeg.distill.distill` on the LR the
    run trained on: the generators' offline LR and the real LR), under a stage record reused when nothing changed.
    Why distilled, not a member or the ensemble: docs/RESULTS.md, "One model"."""
    folder = runner.out / "distilled"
    iterations = max(1, int(runner.budget.stage2_iters * DISTILL_FRACTION))
    config = {"iterations": iterations, "seed": runner.config.seed,
              "upstream": {key: runner.records.run_id(key) for key in runner.records if key.startswith("lr_")
                           or key == f"sr_{SR_RUN}"}}

    def make() -> None:
        from ..integrations.basicsr import resolve_arch

        teachers = [load_network(path, resolve=resolve_arch) for path in ensemble]
        student = distill(teachers, load_network(ensemble[0], resolve=resolve_arch),
                          [image_to_tensor(read_image(p)) for folder_ in lr_folders for p in list_images(folder_)],
                          iterations=iterations, seed=runner.config.seed, progress=runner.config.progress)
        save_checkpoint(folder / "sr.pth", student, load_checkpoint(ensemble[0])["probdeg"]["network"])

    runner.make_folder("distil", config, f"MSSR's two nets distilled into one ({iterations} steps)", folder, make)
    return folder / "sr.pth"


def export_one_model(model: Path, ensemble: list[Path], folder: Path) -> tuple[Path, Optional[Path]]:
    """``model`` as ``folder/sr.pth`` (Real-ESRGAN's layout, checked by loading it back with spandrel) and, when onnx
    is installed (``probdeg[export]``), ``folder/sr.onnx`` and the whole ensemble's mean as
    ``folder/sr_ensemble.onnx`` (checked with onnxruntime). Returns the ``.pth`` and the ``.onnx``."""
    from ..export import export_model
    from ..integrations.basicsr import resolve_arch

    folder.mkdir(parents=True, exist_ok=True)
    exported = export_model([model], folder / "sr.pth", resolve=resolve_arch).path
    if importlib.util.find_spec("onnx") is None:
        return exported, None
    export_model(ensemble, folder / "sr_ensemble.onnx", resolve=resolve_arch)
    return exported, export_model([model], folder / "sr.onnx", resolve=resolve_arch).path


def preview_figure(model: Path, real_lr: Path, path: Path) -> Path:
    """What the model does on the user's real LR: per image (up to :data:`PREVIEW_IMAGES`, each photo once), the
    busiest crop of the LR input (nearest-neighbour enlarged) beside the model's output."""
    from ..integrations.basicsr import resolve_arch
    from ..sr import load_ensemble, super_resolve

    nets, info = load_ensemble([model], resolve=resolve_arch)
    images = list_images(real_lr)
    rows = []
    for index in distinct_images(images, PREVIEW_IMAGES):
        lr = read_image(images[index])
        sr = tensor_to_image(super_resolve(nets, image_to_tensor(lr), info=info))
        side = min(PREVIEW_SIDE, sr.shape[0], sr.shape[1])
        side -= side % info.scale
        top, left = busiest_window(sr, side)
        top, left = top - top % info.scale, left - left % info.scale
        s = info.scale
        crop_lr = lr[top // s:(top + side) // s, left // s:(left + side) // s].repeat(s, axis=0).repeat(s, axis=1)
        rows.append([(crop_lr, f"{images[index].name}: real LR"), (sr[top:top + side, left:left + side], "SR")])
    write_image(path, mosaic(rows, cell_h=PREVIEW_SIDE, cell_w=PREVIEW_SIDE))
    return path


def write_pipeline_report(out: Path, *, model: Path, onnx: Optional[Path], ensemble: list[Path], card: Any,
                          scorecard: dict[str, Path],
                          preview: Path, records: Records, budget: Budget, config: DemoConfig) -> tuple[Path, Path]:
    """``report.html`` (self-contained) and ``report.md``: what was trained, how real each degradation is, the model
    and what it does on the real LR."""
    trainings = [r for r in records.trained() if r.key.startswith(("g_", "sr_"))]
    header, rows = card.cells()
    blocks = [
        ("h", 1, "probdeg pipeline: one SR model for your real LR images"),
        ("p", f"Your model: {model} (Real-ESRGAN's layout: probdeg sr, spandrel, chaiNNer, ComfyUI or "
              "Real-ESRGAN's inference script run it)" + (f", and {onnx} (ONNX, any image size)" if onnx else "")
              + ". It is MSSR, distilled into one net: two SR nets trained collaboratively on the LR of two learned "
              "probabilistic degradation generators and on your real LR images through pseudo-labels, then the "
              "first fine-tuned towards both nets' mean on that LR (no ground truth needed)."
              + (f" Both nets' mean itself, a little better at twice the cost: {onnx.with_name('sr_ensemble.onnx')}."
                 if onnx else "")),
        ("ul", [f"Data: your clean HR images {config.hr} and real LR images {config.lr} (unpaired).",
                f"Budget: {budget.name}, {budget.stage1_iters} iterations per generator, {budget.stage2_iters} for "
                f"MSSR; seed {config.seed}.",
                f"Trainings: {len(trainings)}, {sum(r.seconds for r in trainings) / 60:.1f} min of work.",
                "The ensemble of both nets: probdeg sr --model " + ",".join(str(p) for p in ensemble) + "."]),
        ("h", 2, "How real is each degradation? (no ground truth needed)"),
        ("p", "Each generator's LR of your HR images against your real LR images: the noise level over the real "
              "LR's (1 = the same), rho (the samples' spread over the real noise level: 0 = deterministic), the patch "
              "distance (sliced Wasserstein distance of high-pass patches: 0 = the same degradation) and the JPEG "
              "blocking where measured. Bicubic and bicubic + noise are the reference rows."),
        ("table", header, rows),
        ("img", relative_path(scorecard["histogram"], out), "noise levels of real and generated LR patches"),
        ("p", "Per generator, Figure 3 of the paper: per row one of your HR images, bicubic downscaling, three LR "
              "samples and their differences (amplified by the gain in each label; the bar is the colour scale)."),
        *[block for key, path in scorecard.items() if key.startswith("grid:")
          for block in (("h", 3, key.split(":", 1)[1]), ("img", relative_path(path, out), key.split(":", 1)[1]))],
        ("h", 2, "Your model on your real LR"),
        ("p", "The most detailed crop of each real LR image (enlarged, nearest neighbour) and the model's output."),
        ("img", relative_path(preview, out), "the model on your real LR"),
        ("h", 2, "Commands"),
        ("code", config.command or f"probdeg pipeline --hr {config.hr} --lr {config.lr} --out {out}"),
        *[("code", f"# {r.key}: {r.seconds:.0f} s\n{r.command}") for r in trainings],
    ]
    return write_blocks(out, blocks)
