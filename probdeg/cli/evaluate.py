"""``probdeg eval``: PSNR / SSIM (/ LPIPS) of an SR folder against its GT, or the robustness sweep of Figure 7.

Two forms (see :data:`DESCRIPTION`)::

    probdeg eval --sr SR_DIR --gt GT_DIR [--crop-border 4] [--y-channel] [--out DIR]
    probdeg eval --noise-sigmas 0,5,10,15 --lr LR_DIR --gt GT_DIR --out DIR \\
        --model A.pth,B.pth --label ensemble --model C.pth --label single

In the sweep each ``--model`` is one curve (several comma-separated checkpoints are averaged as an ensemble), and
each ``--label`` names the ``--model`` just before it.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .common import add_device_argument, add_tile_arguments

DESCRIPTION = """score SR images against their ground truth, without one, or sweep LR noise levels for several models:

  probdeg eval --sr SR_DIR --gt GT_DIR [--crop-border 4] [--y-channel] [--out DIR]
  probdeg eval --sr SR_DIR [--lr LR_DIR [--generator G.pth]] [--no-niqe] [--out DIR]
  probdeg eval --noise-sigmas 0,5,10,15 --lr LR_DIR --gt GT_DIR --out DIR \\
      --model A.pth,B.pth --label ensemble --model C.pth --label single

The first writes metrics.csv and metrics.json (PSNR and SSIM as BasicSR computes them, LPIPS when its weights exist).
The second, for real LR without ground truth, writes no_reference.csv and .json: NIQE of each SR image (BasicSR's;
lower looks more natural) and, with --lr, the LR consistency: the SR image degraded back (bicubic, or --generator's
learned degradation at its latent means) against its LR, as PSNR (see docs/evaluation.md for what each tells).
The third adds Gaussian noise to the LR images, super-resolves them with each --model (comma-separated checkpoints
are averaged as an ensemble; each --label names the --model just before it) and writes robustness.csv, .json and a
PSNR-vs-sigma plot, robustness.png. Exit code 1 when some GT images were not scored."""

HELP = ("score SR images against GT (PSNR, SSIM, LPIPS when its weights exist), without GT (NIQE, LR consistency), "
        "or sweep LR noise levels for several models (exit code 1 when some images were not scored)")


class _ModelAction(argparse.Action):
    """``--model A.pth[,B.pth]``: starts a new model group."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        groups = list(getattr(namespace, self.dest) or [])
        groups.append({"model": values, "label": None})
        setattr(namespace, self.dest, groups)


class _LabelAction(argparse.Action):
    """``--label NAME``: names the ``--model`` group given just before it."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        groups = getattr(namespace, "models", None)
        if not groups:
            parser.error(f"--label {values!r} comes before any --model: each --label names the --model before it")
        if groups[-1]["label"] is not None:
            parser.error(f"--model {groups[-1]['model']} got two labels, {groups[-1]['label']!r} and {values!r}")
        groups[-1]["label"] = values


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = DESCRIPTION
    parser.add_argument("--sr", default=None, metavar="SR_DIR",
                        help="folder of SR images to score (searched recursively)")
    parser.add_argument("--gt", default=None, metavar="GT_DIR", help="folder of ground-truth HR images; files pair "
                        "by relative path without extension, or as BasicSR's <stem>_<suffix>.png (without it: the "
                        "no-reference scores)")
    parser.add_argument("--crop-border", type=int, default=4, help="pixels left out on every side (default: 4)")
    parser.add_argument("--y-channel", action="store_true", help="PSNR and SSIM on the Y channel of YCbCr")
    parser.add_argument("--out", default=None, metavar="DIR", help="folder for metrics.csv / metrics.json (default: "
                        "the --sr folder), or for robustness.csv / .json / .png (required with --noise-sigmas)")
    parser.add_argument("--no-lpips", action="store_true", help="skip LPIPS even when its weights exist")
    parser.add_argument("--lpips-weights", default=None, metavar="FILE", help="torchvision's AlexNet checkpoint for "
                        "LPIPS (default: the torch hub cache)")
    no_gt = parser.add_argument_group("without ground truth (SR images of real LR)")
    no_gt.add_argument("--generator", default=None, metavar="G.pth", help="degradation generator for the LR "
                       "consistency (default: bicubic); goes with --lr")
    no_gt.add_argument("--no-niqe", action="store_true", help="skip NIQE")
    sweep = parser.add_argument_group("robustness sweep (MSSR Figure 7)")
    sweep.add_argument("--noise-sigmas", default=None, metavar="0,5,10,15", help="Gaussian noise levels in 8-bit "
                       "units added to the LR images; switches to the sweep")
    sweep.add_argument("--lr", default=None, metavar="LR_DIR", help="folder of LR images: clean ones paired with "
                       "--gt by name (the sweep), or the real LR that --sr's images came from (no ground truth)")
    sweep.add_argument("--model", dest="models", action=_ModelAction, default=None, metavar="A.pth[,B.pth...]",
                       help="one curve: a checkpoint, or several comma-separated ones averaged as an ensemble; "
                       "repeat for more curves")
    sweep.add_argument("--label", action=_LabelAction, default=argparse.SUPPRESS, help="name of the --model just "
                       "before it (default: the checkpoint stems joined by +)")
    sweep.add_argument("--seed", type=int, default=0, help="seed of the noise (default: 0)")
    add_tile_arguments(sweep)
    add_device_argument(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _report(lines: list[str], kind: str) -> None:
    for line in lines:
        print(f"probdeg eval: {kind}: {line}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from ..errors import UserError
    from .common import resolve_device

    if args.noise_sigmas is not None:
        return _run_sweep(args, resolve_device(args.device))
    if args.sr is None:
        raise UserError("give --sr SR_DIR to score, or --noise-sigmas with --lr and --model for the noise sweep")
    if args.gt is None:
        return _run_without_gt(args, resolve_device(args.device))
    if args.generator is not None or args.no_niqe:
        raise UserError("--generator and --no-niqe go with the scores without ground truth: leave out --gt")
    stray = [flag for flag, value in (("--lr", args.lr), ("--model", args.models)) if value is not None]
    if stray:
        raise UserError(f"{' and '.join(stray)} only go with --noise-sigmas (the noise sweep)")
    from ..metrics.sr_scores import evaluate_folders, write_metrics

    evaluation = evaluate_folders(args.sr, args.gt, crop_border=args.crop_border, y_channel=args.y_channel,
                                  lpips=False if args.no_lpips else None, lpips_weights=args.lpips_weights,
                                  device=resolve_device(args.device), progress=not args.no_progress)
    _report(evaluation.notes, "note")
    _report(evaluation.matching.problems("SR"), "warning")
    _report(evaluation.failures, "warning")
    print(evaluation.table())  # before writing: a folder that cannot be written loses no result
    csv_path, json_path = write_metrics(evaluation, args.out if args.out is not None else args.sr)
    print(f"eval: {len(evaluation.rows)} images scored (crop border {args.crop_border}"
          f"{', Y channel' if args.y_channel else ', RGB'}) -> {csv_path}, {json_path}")
    return 0 if evaluation.complete else 1


def _run_without_gt(args: argparse.Namespace, device: str) -> int:
    from ..errors import UserError
    from ..metrics.no_reference import evaluate_without_gt, generator_degradation
    from ..metrics.sr_scores import NO_REFERENCE_STEM, write_metrics
    from .common import basicsr_archs, warnings_as_lines

    if args.models is not None:
        raise UserError("--model goes with --noise-sigmas (the noise sweep)")
    if args.generator is not None and args.lr is None:
        raise UserError("--generator degrades the SR images back for the LR consistency: give --lr LR_DIR too")
    niqe = None
    if not args.no_niqe:
        from ..integrations.basicsr.niqe import niqe
    degrade = None if args.generator is None else generator_degradation(args.generator, device=device,
                                                                        seed=args.seed, resolve=basicsr_archs)
    with warnings_as_lines("eval"):
        evaluation = evaluate_without_gt(args.sr, lr_dir=args.lr, niqe=niqe, degrade=degrade,
                                         degradation=args.generator or "bicubic", crop_border=args.crop_border,
                                         progress=not args.no_progress)
    _report(evaluation.notes, "note")
    if evaluation.matching is not None:
        _report(evaluation.matching.problems("SR"), "warning")
    _report(evaluation.failures, "warning")
    print(evaluation.table())
    csv_path, json_path = write_metrics(evaluation, args.out if args.out is not None else args.sr,
                                        stem=NO_REFERENCE_STEM)
    print(f"eval: {len(evaluation.rows)} images scored without ground truth "
          f"({', '.join(evaluation.metrics)}) -> {csv_path}, {json_path}")
    return 0 if evaluation.complete else 1


def _run_sweep(args: argparse.Namespace, device: str) -> int:
    from ..errors import UserError
    from ..metrics.robustness import noise_sweep, write_sweep
    from .common import basicsr_archs

    missing = [flag for flag, value in (("--gt", args.gt), ("--lr", args.lr), ("--model", args.models),
                                        ("--out", args.out)) if value is None]
    if missing:
        raise UserError(f"the noise sweep needs {', '.join(missing)}")
    if args.sr is not None:
        raise UserError("--sr does not go with --noise-sigmas: the sweep makes its own SR images from --lr")
    groups: list[dict[str, Any]] = args.models
    sweep = noise_sweep([g["model"] for g in groups], args.lr, args.gt, sigmas=args.noise_sigmas,
                        labels=[g["label"] for g in groups], seed=args.seed, crop_border=args.crop_border,
                        y_channel=args.y_channel, tile=args.tile, tile_pad=args.tile_pad, device=device,
                        progress=not args.no_progress, resolve=basicsr_archs)
    _report(sweep.matching.problems("LR"), "warning")
    _report(sweep.failures, "warning")
    print(sweep.table())
    paths = write_sweep(sweep, args.out)
    scored = len(next(iter(sweep.per_image.values())))
    print(f"eval: noise sweep over {scored} images, {len(sweep.labels)} model(s) -> {', '.join(map(str, paths))}")
    return 0 if sweep.matching.complete and not sweep.failures else 1
