"""Do the generators really sample, and does it help SR? With and without the diversity term, 3 seeds.

    python studies/generator_study.py --seeds 0 1 2 --out studies/out/mini_mssr \
        --markdown studies/out/generator_study.md

Per training seed, on the demo's folder of that seed (``studies/mini_mssr.py`` makes it; anything missing is trained
here, finished stages are reused): the demo's generators (DeResnet deterministic, probabilistic DeResnet and HAN,
both with the diversity term as the tiny presets have it), the two probabilistic ones once more without the term
(the released losses, the tiny presets' learning rates), and two reference degradations: bicubic downscaling, and
bicubic plus white Gaussian noise at the real LR's estimated level. For each: the scorecard's figures
(``probdeg score-generator``: rho, the noise level over the real LR's, the patch distance to the real LR, content
fidelity) and the PSNR of one SR net trained on its LR alone (the demo's single-generator SR run, same budget),
scored on the validation pairs.
"""

from __future__ import annotations

import sys
from pathlib import Path

from study_cli import mean_std, parse_study_args, publish

from probdeg.demo.plan import GENERATORS, SYNTHETIC_SAMPLES, Budget, GeneratorRun, SRRun
from probdeg.demo.runner import DemoConfig, DemoRunner
from probdeg.demo.scoring import score_models

NO_DIVERSITY = ("train:diversity_opt:loss_weight=0",)
EXTRA_GENERATORS = (
    GeneratorRun("deresnet_prob_nodiv", "Probabilistic DeResnet, no diversity term", "tiny/deg_deresnet_prob",
                 overrides=NO_DIVERSITY),
    GeneratorRun("han_prob_nodiv", "Probabilistic HAN, no diversity term", "tiny/deg_han_prob", overrides=NO_DIVERSITY),
)
NOISY_BICUBIC = "bicubic_noise"
# Row key -> (label, the SR run trained on its LR alone).
ROWS = {
    "bicubic": ("Bicubic", "bicubic_lr"),
    NOISY_BICUBIC: ("Bicubic + noise at the real LR's level", "single_bicubic_noise"),
    "deresnet_det": ("DeResnet (deterministic)", "single_det"),
    "deresnet_prob_nodiv": ("Probabilistic DeResnet, no diversity term", "single_prob_nodiv"),
    "deresnet_prob": ("Probabilistic DeResnet + diversity term", "single_prob"),
    "han_prob_nodiv": ("Probabilistic HAN, no diversity term", "single_han_nodiv"),
    "han_prob": ("Probabilistic HAN + diversity term", "single_han"),
}
EXTRA_SR = (
    SRRun("single_prob_nodiv", "tiny/sr_single_prob", (("deresnet_prob_nodiv",),)),
    SRRun("single_han", "tiny/sr_single_prob", (("han_prob",),)),
    SRRun("single_han_nodiv", "tiny/sr_single_prob", (("han_prob_nodiv",),)),
    SRRun("single_bicubic_noise", "tiny/sr_single_prob", ((NOISY_BICUBIC,),)),
)
FIGURES = (("rho", "rho", 2), ("noise_ratio", "noise ratio", 2), ("patch_distance", "patch distance", 3),
           ("psnr_vs_bicubic", "PSNR vs bicubic", 2), ("color_l1", "colour L1", 4))


def noisy_bicubic_samples(train_hr: Path, folder: Path, noise: float, *, seed: int) -> None:
    """``SYNTHETIC_SAMPLES`` bicubic LR images of every training HR image, each with fresh white Gaussian noise of
    standard deviation ``noise`` (clamped, 8-bit), named as ``probdeg degrade`` names samples."""
    import torch

    from probdeg.filters import bicubic_downscale
    from probdeg.io import image_to_tensor, list_images, read_image, write_image
    from probdeg.noise_field import stable_seed

    for path in list_images(train_hr):
        clean = bicubic_downscale(image_to_tensor(read_image(path))[None], 4)[0]
        relative = path.relative_to(train_hr)
        for k in range(SYNTHETIC_SAMPLES):
            generator = torch.Generator().manual_seed(stable_seed("study.noisy_bicubic", seed, relative, k))
            noisy = (clean + torch.randn(clean.shape, generator=generator) * noise).clamp(0, 1)
            write_image(folder / relative.with_name(f"{relative.stem}_s{k}.png"), noisy)


def study_seed(out: Path, budget: Budget, seed: int) -> dict[str, dict[str, float]]:
    """Train what the seed's folder lacks, then the figures of every row (see the module doc)."""
    from probdeg.metrics.scorecard import score_generators, write_scorecard

    runner = DemoRunner(DemoConfig(out=out, budget=budget, seed=seed, data_seed=0, progress=False))
    data = runner.data()
    runs = list(GENERATORS) + list(EXTRA_GENERATORS)
    generators = runner.stage1(data, runs)
    synthetic = runner.synthesise(data, oracle=False, runs=runs)
    card, nets = score_generators([generators[run.key] for run in runs], data.val_hr, data.train_lr,
                                  paired_lr_dir=data.val_lr, samples=4, seed=seed, progress=False)
    write_scorecard(card, runner.out / "generator_study", generators=nets)
    folder = runner.out / "synthetic" / NOISY_BICUBIC
    config = {"noise": card.real_noise_level, "seed": seed, "upstream": {"data": runner.records.run_id("data")}}
    runner.make_folder(f"lr_{NOISY_BICUBIC}", config, "LR of bicubic + noise at the real level", folder,
                 lambda: noisy_bicubic_samples(data.train_hr, folder, card.real_noise_level, seed=seed))
    synthetic[NOISY_BICUBIC] = folder
    sr_runs = [run for run in runner.sr_runs(oracle=False) if run.key in ("bicubic_lr", "single_det", "single_prob")]
    runner.stage2(data, synthetic, sr_runs + list(EXTRA_SR))
    figures = {}
    keys = ["bicubic", NOISY_BICUBIC] + [run.key for run in runs]
    for key, row in zip(keys, card.rows):
        sr_run = ROWS[key][1]
        evaluation = score_models(runner.records.sr(sr_run).model_paths, data,
                                  runner.out / "sr" / f"study_{sr_run}")
        figures[key] = {**{name: getattr(row, name) for name, _, _ in FIGURES}, "sr_psnr": evaluation.mean["psnr"]}
    return figures


def summarise(results: dict[int, dict[str, dict[str, float]]]) -> str:
    seeds = sorted(results)
    header = ["Degradation"] + [title for _, title, _ in FIGURES] + ["SR PSNR", "SR PSNR per seed"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for key, (label, _) in ROWS.items():
        cells = [label] + [mean_std([results[s][key][name] for s in seeds], digits) for name, _, digits in FIGURES]
        psnrs = [results[s][key]["sr_psnr"] for s in seeds]
        cells += [mean_std(psnrs, 2), ", ".join(f"{p:.2f}" for p in psnrs)]
        lines.append("| " + " | ".join(cells) + " |")
    pairs = [("deresnet_prob", "deresnet_prob_nodiv"), ("han_prob", "han_prob_nodiv"),
             ("deresnet_prob", "deresnet_det")]
    lines += ["", "| Paired by seed | rho | patch distance | SR PSNR |", "|---|---|---|---|"]
    for a, b in pairs:
        cells = [f"{ROWS[a][0]} - {ROWS[b][0]}"]
        for name, digits in (("rho", 2), ("patch_distance", 3), ("sr_psnr", 2)):
            diffs = [results[s][a][name] - results[s][b][name] for s in seeds]
            cells.append(f"{mean_std(diffs, digits)} ({sum(d > 0 for d in diffs)}/{len(diffs)} above)")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args, budget, out = parse_study_args(__doc__, argv, out_help="the mini_mssr study's folder (shared)")
    results = {}
    for seed in args.seeds:
        print(f"=== seed {seed}", flush=True)
        results[seed] = study_seed(out / f"seed{seed}", budget, seed)
    table = summarise(results)
    publish(table, args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
