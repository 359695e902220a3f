"""``report.html`` and ``report.md``: one list of blocks, rendered twice, so both always say the same."""

from __future__ import annotations

import base64
import datetime
import html
import os
from pathlib import Path
from typing import Any, Optional, Union

from ..io import atomic_path
from .plan import BUDGETS, GENERATORS, TABLE1, TABLE2, TABLE3, Budget
from .stages import Records

Block = tuple  # ("h", level, text) | ("p", text) | ("ul", [text]) | ("table", header, rows) | ("img", path, alt)
#              | ("code", text)


def _fmt(value: Optional[float], digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _gain(scores: dict[str, dict[str, Any]], key: str) -> str:
    return f"{scores[key]['psnr'] - scores['bicubic']['psnr']:+.2f}"


def _method_table(scores: dict[str, dict[str, Any]], entries: list[tuple[str, str]]) -> Block:
    rows = [[label, _fmt(scores[key]["psnr"], 2), _gain(scores, key), _fmt(scores[key]["ssim"], 3)]
            for key, label in entries]
    return ("table", ["Methods", "PSNR", "vs bicubic", "SSIM"], rows)


def _above_below(difference: float) -> str:
    return f"{abs(difference):.2f} dB {'above' if difference >= 0 else 'below'}"


QUICK_LEAD = ("This short run checks that the whole pipeline works on this machine (data, three generators, every SR "
              "method, scores and figures); its SR nets are far from trained, so its figures do not compare the "
              "methods: the full run (probdeg demo, without --quick or --iters) does, and docs/RESULTS.md reports it "
              "over three seeds.")


def lead_sentence(methods: dict[str, dict[str, Any]]) -> str:
    """What the run shows, in numbers: MSSR against bicubic upscaling and against SR trained on bicubic LR."""
    mssr, bicubic, plain = methods["mssr"], methods["bicubic"], methods["bicubic_lr"]
    text = (f"On this task MSSR reaches {mssr['psnr']:.2f} dB, {_above_below(mssr['psnr'] - bicubic['psnr'])} bicubic "
            f"upscaling ({bicubic['psnr']:.2f} dB) and {_above_below(mssr['psnr'] - plain['psnr'])} the same SR net "
            f"trained on bicubic LR ({plain['psnr']:.2f} dB)")
    if "oracle" in methods:
        text += (f"; the oracle, trained on the true degradation, reaches {methods['oracle']['psnr']:.2f} dB "
                 f"({_above_below(methods['oracle']['psnr'] - bicubic['psnr'])} bicubic upscaling)")
    return text + "."


def short_run_note(budget: Budget) -> Optional[str]:
    """A warning for a budget below the full one, whose SR nets are far from trained; None for the full budget."""
    full = BUDGETS["full"]
    if budget.stage1_iters >= full.stage1_iters and budget.stage2_iters >= full.stage2_iters:
        return None
    return (f"A short run: {budget.stage1_iters} iterations per generator and {budget.stage2_iters} per SR net "
            f"(the full budget: {full.stage1_iters} and {full.stage2_iters}). That checks the pipeline, not the "
            "methods: their SR nets are far from trained (at the quick budget even the oracle does not beat bicubic "
            "upscaling, and MSSR collapses towards nearest upsampling). Run probdeg demo without --quick or --iters "
            "for the figures docs/RESULTS.md reports.")


def _comparison_table(scores: dict[str, dict[str, Any]], dataset: str) -> Block:
    entries = TABLE3[1]
    header = ["Dataset", "Metric"] + [label for _, label in entries]
    rows = [[dataset, "PSNR"] + [_fmt(scores[key]["psnr"], 2) for key, _ in entries],
            ["", "vs bicubic"] + [_gain(scores, key) for key, _ in entries],
            ["", "SSIM"] + [_fmt(scores[key]["ssim"], 3) for key, _ in entries]]
    return ("table", header, rows)


def generator_sentence(generators: dict[str, Any]) -> str:
    """One sentence on how far each probabilistic generator's spread is from the real LR's noise."""
    parts = []
    for run in GENERATORS:
        row = generators["rows"][run.key]
        parts.append(f"{run.label}: rho {row['rho']:.2f}, noise level {row['noise_ratio']:.2f}x the real LR's")
    return ("Real LR noise = 1 on both counts. " + "; ".join(parts) + ".")


def jpeg_sentence(records: Records) -> Optional[str]:
    """What the demo did about the real LR's JPEG blocking, from the LR stages' records; ``None`` when nothing."""
    ranges = [(run.label, (lr.config.get("jpeg") if (lr := records.lr(run.key)) else None)) for run in GENERATORS]
    matched = [f"{label} {r[0]}-{r[1]}" for label, r in ranges if r]
    if not matched:
        return None
    return ("The real LR shows JPEG blocking, which a convolutional generator trained on random crops cannot learn "
            "(its 8x8 grid is fixed to the image): before stage 2, each generator's LR was compressed at the JPEG "
            "qualities that give it the real LR's blocking (probdeg.jpeg): " + ", ".join(matched) + ".")


def relative_path(path: Union[str, Path], out: Path) -> str:
    return Path(os.path.relpath(path, out)).as_posix()


def build_blocks(out: Path, *, data, budget: Budget, config, records: Records,
                 scores: dict[str, Any], seconds: float, environment: dict[str, Any]) -> list[Block]:
    """The report's content (see the module doc)."""
    methods, generators, sweep, figures = scores["methods"], scores["generators"], scores["robustness"], \
        scores["figures"]
    ranked = sorted(methods.values(), key=lambda s: -s["psnr"])
    trained = records.trained()
    training_seconds = sum(r.seconds for r in trained)
    trainings = [r for r in trained if r.key.startswith(("g_", "sr_"))]
    blocks: list[Block] = [
        ("h", 1, "probdeg demo: MSSR at CPU scale"),
        *([("p", QUICK_LEAD)] if short_run_note(budget) else []),
        ("p", lead_sentence(methods)),
        *([("p", note)] if (note := short_run_note(budget)) else []),
        ("p", f"Three degradation generators (stage 1) learned the real LR images' degradation from unpaired data; "
              f"their LR samples of the training HR images were written once; then {len(trainings) - 3} SR "
              "trainings (stage 2) ran from random weights through probdeg's tiny BasicSR presets (a compact SR net, "
              "the same for every method), and every method super-resolved the validation LR images, scored against "
              "the ground truth (PSNR / SSIM on RGB, 4-pixel border cropped; the 'vs bicubic' columns are the PSNR "
              "gain over bicubic upscaling). The numbers are what this run measured; docs/RESULTS.md repeats the "
              "study over three seeds, with the spread."),
        ("ul", [f"Data: {data.source}.",
                f"Validation: {data.val_source}.",
                f"Budget: {budget.name}, {budget.stage1_iters} iterations per generator, {budget.stage2_iters} per SR "
                f"training; training seed {config.seed}, data seed {config.data_seed}.",
                f"Time: {seconds / 60:.1f} min for this run ({training_seconds / 60:.1f} min of work in all "
                f"stages, including stages reused from earlier runs; {environment['lanes']} trainings side by side).",
                f"Machine: {environment['platform']}, {environment['cpus']} CPUs, Python {environment['python']}, "
                f"torch {environment['torch']} ({environment['torch_threads']} thread(s) per training; the nets' "
                f"forwards in {'bfloat16' if environment['bf16_forwards'] else 'float32'}, the presets' "
                "train:autocast: auto).",
                f"Written {datetime.datetime.now().isoformat(timespec='seconds')}."]),
        ("h", 2, "Ranking by PSNR"),
        ("p", " > ".join(f"{s['label']} {s['psnr']:.2f}" for s in ranked)),
        ("h", 2, TABLE1[0]),
        _method_table(methods, TABLE1[1]),
        ("h", 2, TABLE2[0]),
        ("p", "Naive combination: one SR net on the union of both generators' LR. Its ensemble: the mean of two such "
              "nets trained independently. CL: two nets, one per generator, with the consistency term (Eq. 5); "
              "CL adds the pseudo-label term on the real LR images (Eq. 6)."),
        _method_table(methods, TABLE2[1]),
        ("h", 2, TABLE3[0]),
        _comparison_table(methods, "this task"),
        ("h", 2, "All methods"),
        ("table", ["Method", "PSNR", "vs bicubic", "SSIM", "models"],
         [[s["label"], _fmt(s["psnr"], 2), _gain(methods, key), _fmt(s["ssim"], 3), str(max(1, len(s["models"])))]
          for key, s in methods.items()]),
        ("h", 2, "Degradation generators: how real and how diverse is their LR? (Figure 4's table)"),
        ("p", generator_sentence(generators)),
        *([("p", jpeg)] if (jpeg := jpeg_sentence(records)) else []),
        ("p", f"From {generators['samples']} samples of every "
              "validation HR image, against the real LR training images (unpaired): the noise level over the real "
              f"LR's ({generators['real_noise_level']:.4f}; 1 = the same), rho (how much the samples of one image "
              "differ, over the real noise level: 0 = deterministic, about 1 = like two draws of the real noise), "
              "the patch distance (sliced Wasserstein distance between high-pass patches: 0 = the same degradation), "
              "PSNR and colour L1 against bicubic (content fidelity), the latents' learned noise strength, and PSNR "
              "against the paired validation LR (a stochastic generator scores lower there by design). LPIPS, the "
              "paper's figure, needs AlexNet weights that are not downloaded."),
        ("table", ["Method", "noise ratio", "rho", "patch distance", "PSNR vs bicubic", "colour L1",
                   "latent strength", "PSNR vs paired LR"],
         [[g["label"], _fmt(g["noise_ratio"], 2), _fmt(g["rho"], 2), _fmt(g["patch_distance"], 3),
           _fmt(g["psnr_vs_bicubic"], 2), _fmt(g["color_l1"], 4),
           "-" if g["latent_strength"] is None else _fmt(g["latent_strength"], 4),
           "-" if g["psnr_lr"] is None else _fmt(g["psnr_lr"], 2)] for g in generators["rows"].values()]),
        ("img", relative_path(generators["histogram"], out), "noise levels of real and generated LR patches"),
        ("h", 2, "LR samples and their differences (Figure 3)"),
        ("p", "Per row (one validation photo each): bicubic downscaling, three samples of the generator (enlarged 4x, "
              "nearest neighbour) and |sample 1 - sample j| as a heat map, amplified by the gain in its label (chosen "
              "per generator so that its spread shows); the bar after the first row is the colour scale, from 0 at "
              "the bottom to the difference in its label at the top. A deterministic generator's maps are black."),
    ]
    for run in GENERATORS:
        blocks += [("h", 3, run.label),
                   ("img", relative_path(generators["grids"][run.key], out), f"{run.label} samples")]
    blocks += [
        ("h", 2, "SR crops"),
        ("p", "The crop with the most detail of each validation photo (one per photo, shown at 1:1): the LR input, "
              "every method (label: PSNR of the whole image), and the ground truth."),
        ("img", relative_path(figures["crops"], out), "SR crops"),
        ("h", 2, "Robustness to LR noise (Figure 7)"),
        ("p", "Mean PSNR as Gaussian noise of sigma (8-bit units) is added to the validation LR images at test time "
              "only."),
        ("img", relative_path(sweep["png"], out), "PSNR vs noise sigma"),
        ("table", ["sigma"] + list(sweep["psnr"]),
         [[f"{s:g}"] + [_fmt(curve[i], 2) for curve in sweep["psnr"].values()] for i, s in enumerate(sweep["sigmas"])]),
        ("h", 2, "Commands"),
        ("p", "The whole demo:"),
        ("code", config.command or "probdeg demo"),
        ("p", "Each training (what the demo ran, in order; --auto_resume continues an interrupted run):"),
    ]
    for record in trainings:
        blocks.append(("code", f"# {record.key}: {record.seconds:.0f} s\n{record.command}"))
    blocks.append(("p", "Each score (super-resolve the validation LR, then score it):"))
    for score in methods.values():
        blocks.append(("code", f"# {score['label']}\n" + "\n".join(score["commands"])))
    blocks += [("p", "The generators' scorecard:"), ("code", generators["command"])]
    blocks += [("p", "The robustness sweep:"), ("code", sweep["command"]),
               ("h", 2, "Training time per stage"),
               ("table", ["stage", "what", "seconds"],
                [[r.key, r.config.get("preset", "offline LR samples"), f"{r.seconds:.1f}"] for r in trained])]
    return blocks


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(blocks: list[Block]) -> str:
    lines: list[str] = []
    for block in blocks:
        kind = block[0]
        if kind == "h":
            lines += ["#" * block[1] + " " + block[2], ""]
        elif kind == "p":
            lines += [block[1], ""]
        elif kind == "ul":
            lines += [f"- {item}" for item in block[1]] + [""]
        elif kind == "table":
            header, rows = block[1], block[2]
            lines.append("| " + " | ".join(map(_md_cell, header)) + " |")
            lines.append("|" + "|".join("---" for _ in header) + "|")
            lines += ["| " + " | ".join(map(_md_cell, row)) + " |" for row in rows]
            lines.append("")
        elif kind == "img":
            lines += [f"![{block[2]}]({block[1]})", ""]
        elif kind == "code":
            lines += ["```", block[1], "```", ""]
        else:
            raise ValueError(f"unknown report block {kind!r}")
    return "\n".join(lines)


_STYLE = """body{font-family:system-ui,sans-serif;max-width:1500px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #bbb;padding:.25em .6em;text-align:right}
td:first-child,th:first-child{text-align:left}th{background:#eee}img{max-width:100%;border:1px solid #ccc}
pre{background:#f5f5f5;padding:.6em;overflow-x:auto;white-space:pre-wrap;word-break:break-all}"""


def _embedded(path: Path) -> str:
    """A picture as a ``data:`` URI, so that report.html is one file that can be mailed."""
    kind = "jpeg" if path.suffix.lower() in (".jpg", ".jpeg") else path.suffix.lower().lstrip(".") or "png"
    return f"data:image/{kind};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def render_html(blocks: list[Block], root: Optional[Path] = None) -> str:
    """The blocks as one HTML page; with ``root``, pictures (paths relative to it) are embedded in the page."""
    esc = html.escape
    parts = ["<!DOCTYPE html>", "<html><head><meta charset='utf-8'>", f"<title>{esc(blocks[0][2])}</title>",
             f"<style>{_STYLE}</style></head><body>"]
    for block in blocks:
        kind = block[0]
        if kind == "h":
            parts.append(f"<h{block[1]}>{esc(block[2])}</h{block[1]}>")
        elif kind == "p":
            parts.append(f"<p>{esc(block[1])}</p>")
        elif kind == "ul":
            parts.append("<ul>" + "".join(f"<li>{esc(item)}</li>" for item in block[1]) + "</ul>")
        elif kind == "table":
            head = "".join(f"<th>{esc(h)}</th>" for h in block[1])
            body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in block[2])
            parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif kind == "img":
            source = _embedded(root / block[1]) if root is not None else block[1]
            parts.append(f"<p><img src='{esc(source, quote=True)}' alt='{esc(block[2], quote=True)}'></p>")
        elif kind == "code":
            parts.append(f"<pre>{esc(block[1])}</pre>")
        else:
            raise ValueError(f"unknown report block {kind!r}")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_report(out: Path, **content: Any) -> tuple[Path, Path]:
    """Write ``out/report.html`` and ``out/report.md`` (atomically) from :func:`build_blocks`'s content.

    Returns:
        (html path, markdown path).
    """
    return write_blocks(out, build_blocks(out, **content))


def write_blocks(out: Path, blocks: list[Block]) -> tuple[Path, Path]:
    """``out/report.md`` and a self-contained ``out/report.html`` of ``blocks`` (pictures relative to ``out``),
    atomically. Returns (html path, markdown path)."""
    html_path, md_path = out / "report.html", out / "report.md"
    with atomic_path(md_path) as tmp:
        tmp.write_text(render_markdown(blocks), encoding="utf-8")
    with atomic_path(html_path) as tmp:
        tmp.write_text(render_html(blocks, root=out), encoding="utf-8")
    return html_path, md_path
