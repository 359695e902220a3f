"""``probdeg fit-degradation``: fit Real-ESRGAN's hand-made pipeline to unpaired real LR, and score it beside the
preset and the learned generators."""

from __future__ import annotations

import argparse

HELP = ("fit the hand-made pipeline (Real-ESRGAN's second-order degradation) to real LR by a seeded random search on "
        "unpaired statistics; writes the fitted option block, the fit's table and a scorecard of the preset, the "
        "fitted pipeline and the generators")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hr", required=True, metavar="HR_DIR", help="clean HR images to degrade")
    parser.add_argument("--real-lr", required=True, metavar="LR_DIR", help="real LR images (unpaired with --hr)")
    parser.add_argument("--out", default="fit", metavar="DIR", help="output folder (default: fit)")
    parser.add_argument("--base", default="realesrgan", help="the preset the search starts from (default: realesrgan)")
    parser.add_argument("--model", default="", metavar="G.pth[,G2.pth...]", help="generator checkpoints scored on the "
                        "same crops and in the scorecard (their scale is the fit's)")
    parser.add_argument("--known-lr", default=None, metavar="DIR", help="LR made from --hr by a known degradation "
                        "(paired by name): the report ranks it among the candidates, the check of the objective")
    parser.add_argument("--scale", type=int, default=4, help="down-sampling factor without --model (default: 4)")
    parser.add_argument("--candidates", type=int, default=64, help="settings tried at most (default: 64)")
    parser.add_argument("--minutes", type=float, default=10.0, help="stop drawing candidates after this long "
                        "(default: 10)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the candidates and the samples (default: 0)")
    parser.add_argument("--max-images", type=int, default=16, help="HR and real LR images read at most (default: 16)")
    parser.add_argument("--crop", type=int, default=128, help="side of the HR tiles degraded, 0 for whole images "
                        "(default: 128)")
    parser.add_argument("--max-crops", type=int, default=48, help="HR tiles degraded at most (default: 48)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..integrations.basicsr.fit import fit_handmade, write_fit
    from ..integrations.basicsr.sources import HandmadeSource
    from ..metrics.scorecard import load_generators, score_generators, write_scorecard
    from ..sr import parse_model_list
    from .common import basicsr_archs, warnings_as_lines

    models = parse_model_list(args.model) if args.model.strip() else []
    generators = load_generators(models, resolve=basicsr_archs)
    scale = generators[0][2] if generators else args.scale
    with warnings_as_lines("fit-degradation"):
        result = fit_handmade(Path(args.hr), Path(args.real_lr), base=args.base, scale=scale,
                              candidates=args.candidates, seconds=args.minutes * 60, seed=args.seed,
                              max_images=args.max_images, crop=args.crop or None, max_crops=args.max_crops,
                              known_lr_dir=Path(args.known_lr) if args.known_lr else None,
                              generators=[(label, G) for label, G, _ in generators], progress=not args.no_progress)
        paths = write_fit(result, Path(args.out))
        pipelines = [(f"handmade:{args.base}", HandmadeSource.read({"handmade": args.base}, "--base")),
                     ("handmade:fitted", HandmadeSource.read(result.fitted_block(), "fitted"))]
        card, shown = score_generators(models, args.hr, args.real_lr, seed=args.seed, max_images=args.max_images,
                                       crop=args.crop or None, progress=not args.no_progress, resolve=basicsr_archs,
                                       scale=scale, handmade=[(label, s.degradation(scale)) for label, s in pipelines])
        card_paths = write_scorecard(card, Path(args.out) / "scorecard", generators=shown)
    print(Path(paths["md"]).read_text(encoding="utf-8"))
    print(f"fit-degradation: objective {result.candidates[0].objective:.3f} (preset) -> {result.best.objective:.3f} "
          f"({result.best.label} of {len(result.candidates)}); {paths['block']} (use it as degradations: "
          f"[{{handmade: ...}}] or probdeg degrade --handmade {paths['block']}), {paths['md']}, {card_paths['md']}")
    return 0
