"""`probdeg demo`: end to end on a reduced budget, the report's content, reruns, your own folders, bad input."""

import base64
import json
import math
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("probdeg.integrations.basicsr")
pytest.importorskip("skimage")

from probdeg.cli import main  # noqa: E402
from probdeg.demo.plan import BUDGETS, GENERATORS, ROWS, SR_RUNS, TABLE1, TABLE2, TABLE3, Budget  # noqa: E402
from probdeg.demo.stages import StageStore  # noqa: E402
from probdeg.demo.task import check_user_folders, hold_out  # noqa: E402
from probdeg.errors import UserError  # noqa: E402
from probdeg.figures import LABEL_HEIGHT as GRID_LABEL_HEIGHT  # noqa: E402
from probdeg.io import read_image, write_image  # noqa: E402
from probdeg.sample_task import CameraDegradation, load_true_degradation  # noqa: E402

ITERS = "3,3"  # a handful of iterations per stage: the pipeline, not the quality


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "demo out"  # a space in the path, on purpose
    assert main(["demo", "--out", str(out), "--iters", ITERS, "--no-progress"]) == 0
    return out


def _md_tables(text):
    """Markdown tables as lists of rows (each a list of cells)."""
    tables, current = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            if not set(line) <= set("|-"):
                current.append([c.strip() for c in line.strip("|").split(" | ")])
        elif current:
            tables.append(current)
            current = []
    return tables


@pytest.mark.slow
def test_the_report_holds_every_table_picture_and_command(demo_out):
    md = (demo_out / "report.md").read_text()
    html = (demo_out / "report.html").read_text()
    for title, entries in (TABLE1, TABLE2):
        assert title in md and title in html
        table = _md_tables(md[md.index(title):])[0]
        assert [row[0] for row in table[1:]] == [label for _, label in entries]
        assert all(re.fullmatch(r"\d+\.\d\d", row[1]) and re.fullmatch(r"[+-]\d+\.\d\d", row[2])
                   and re.fullmatch(r"0\.\d{3}|1\.000", row[3]) for row in table[1:])  # PSNR, gain, SSIM
    table3 = _md_tables(md[md.index(TABLE3[0]):])[0]
    assert table3[0][2:] == [label for _, label in TABLE3[1]]
    assert [r[1] for r in table3[1:]] == ["PSNR", "vs bicubic", "SSIM"]
    # A short run says first that it checks the pipeline, then what it measured.
    assert md.splitlines()[2].startswith("This short run checks that the whole pipeline works")
    assert md.splitlines()[4].startswith("On this task MSSR reaches")
    assert md.splitlines()[6].startswith("A short run: 3 iterations per generator and 3 per SR net")
    # The robustness table: one line per sigma, one column per method.
    sweep = _md_tables(md[md.index("Robustness to LR noise"):])[0]
    assert sweep[0] == ["sigma"] + [row.label for row in ROWS] and [r[0] for r in sweep[1:]] == ["0", "5", "10", "15"]
    # Every picture exists and is a real image; the HTML shows the same ones.
    pictures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert len(pictures) == len(GENERATORS) + 3  # noise histogram, Figure-3 grids, SR crops, robustness curve
    for picture in pictures:
        image = read_image(demo_out / picture)
        assert image.shape[0] > 100 and image.shape[1] > 300 and image.std() > 0.01
        # report.html is one file: every picture embedded, byte for byte.
        encoded = base64.b64encode((demo_out / picture).read_bytes()).decode("ascii")
        assert f"src='data:image/png;base64,{encoded}'" in html
    assert html.count("<img ") == len(pictures) and "src='figures/" not in html
    crops = read_image(demo_out / "figures" / "crops.png")
    # One crop row group per photo (the 12 validation pairs are 3 draws of 4 photos), 6 cells of 192 px a row:
    # LR, every method and the ground truth over two rows.
    assert crops.shape[1] == 6 * 192 and crops.shape[0] == 4 * 2 * (192 + GRID_LABEL_HEIGHT)
    # Finished trainings keep their latest checkpoints, their newest training state and what resuming it loads.
    for experiment in (demo_out / "experiments").iterdir():
        states = [p.stem for p in (experiment / "training_states").glob("*.state")]
        models = sorted(p.name for p in (experiment / "models").glob("*.pth"))
        assert len(states) == 1 and models, (states, models)
        assert all(name.endswith(("_latest.pth", f"_{states[0]}.pth")) for name in models), models
    assert html.count("<table>") == len(_md_tables(md))
    # Every training is listed with the command that reruns it.
    for key in [f"g_{g.key}" for g in GENERATORS] + [f"sr_{r.key}" for r in SR_RUNS]:
        assert f"# {key}:" in md and f"name=demo_{key}" in md
    assert md.count("probdeg train -opt") == len(GENERATORS) + len(SR_RUNS)
    # The sample task's real LR is JPEG-compressed (quality 50-90): every generator's LR is compressed to match it.
    for g in GENERATORS:
        low, high = json.loads((demo_out / "stages" / f"lr_{g.key}.json").read_text())["config"]["jpeg"]
        assert 10 <= low <= high <= 95 and f"{g.label} {low}-{high}" in md
    assert "The real LR shows JPEG blocking" in md


def test_the_jpeg_match_can_be_turned_off_and_the_report_says_nothing_then():
    from probdeg.cli import build_parser
    from probdeg.cli.demo import command_line
    from probdeg.demo.report import jpeg_sentence

    args = build_parser().parse_args(["demo", "--no-jpeg-match"])
    assert args.no_jpeg_match and command_line(args).endswith("--no-jpeg-match")
    from probdeg.demo.stages import Records, StageRecord

    def records(config):
        made = Records()
        made.add(StageRecord("lr_deresnet_prob", config, "id", 1.0))
        return made

    assert jpeg_sentence(records({"samples": 8})) is None and jpeg_sentence(Records()) is None
    assert "Probabilistic DeResnet 40-70" in jpeg_sentence(records({"jpeg": [40, 70]}))


def test_only_a_budget_below_the_full_one_is_called_a_short_run():
    from probdeg.demo.report import short_run_note

    assert short_run_note(BUDGETS["full"]) is None and short_run_note(Budget("custom", 2000, 4000)) is None
    for budget in (BUDGETS["quick"], Budget("custom", 800, 1000), Budget("custom", 400, 1500)):
        note = short_run_note(budget)
        assert note.startswith(f"A short run: {budget.stage1_iters} iterations per generator and "
                               f"{budget.stage2_iters} per SR net")


@pytest.mark.slow
def test_the_scores_are_finite_and_the_printed_eval_command_reproduces_them(demo_out, capsys):
    scores = json.loads((demo_out / "scores.json").read_text())
    assert set(scores["methods"]) == {row.key for row in ROWS}
    for row in scores["methods"].values():
        assert math.isfinite(row["psnr"]) and 0 < row["ssim"] <= 1
    ensemble, single = scores["methods"]["naive_ensemble"], scores["methods"]["naive"]
    assert len(ensemble["models"]) == 2 and single["models"] == ensemble["models"][:1]
    assert ensemble["psnr"] != single["psnr"]  # the mean of two models is not model 0
    for name, generator in scores["generators"]["rows"].items():
        assert math.isfinite(generator["psnr_lr"]) and generator["hf_distance"] >= 0, name
        assert generator["patch_distance"] >= 0 and generator["noise_ratio"] >= 0, name
    assert scores["generators"]["rows"]["deresnet_det"]["pairwise_l1"] < 1e-8  # float noise of batched convolutions
    assert scores["generators"]["rows"]["deresnet_det"]["rho"] < 1e-4
    assert scores["generators"]["rows"]["bicubic_noise"]["rho"] == pytest.approx(1.0, abs=0.15)
    # The report's `probdeg eval` command for MSSR gives the reported PSNR.
    mssr = scores["methods"]["mssr"]
    eval_command = mssr["commands"][-1]
    sr_dir, gt_dir = re.search(r"--sr (.+) --gt (.+) --no-lpips", eval_command).groups()
    unquote = lambda s: s.strip("'")  # noqa: E731
    capsys.readouterr()
    assert main(["eval", "--sr", unquote(sr_dir), "--gt", unquote(gt_dir), "--no-lpips", "--out",
                 str(demo_out / "reeval"), "--no-progress"]) == 0
    again = json.loads((demo_out / "reeval" / "metrics.json").read_text())
    assert again["mean"]["psnr"] == pytest.approx(mssr["psnr"], abs=1e-9)


@pytest.mark.slow
def test_a_rerun_reuses_finished_stages_and_resumes_an_interrupted_one(demo_out, capsys):
    store = StageStore(demo_out / "stages")
    before = {key: store.load(key)["run_id"] for key in ("g_deresnet_prob", "sr_naive")}
    # Interrupt MSSR's training after its last state (a finished training keeps only its newest, 3.state): its
    # record says started, and the latest models are not written yet.
    record = store.load("sr_mssr")
    store.start("sr_mssr", record["config"])
    experiment = Path(record["experiment"])
    assert [p.name for p in (experiment / "training_states").glob("*.state")] == ["3.state"]
    for model in experiment.glob("models/*_latest.pth"):
        model.unlink()
    capsys.readouterr()
    assert main(["demo", "--out", str(demo_out), "--iters", ITERS, "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert out.count("reused (trained by an earlier run") == len(GENERATORS) + len(SR_RUNS) - 1
    assert "resuming an interrupted run" in out
    assert {key: store.load(key)["run_id"] for key in before} == before
    logs = sorted(experiment.glob("train_demo_sr_mssr_*.log"))
    assert "Resuming training from epoch" in logs[-1].read_text() and "iter: 3." in logs[-1].read_text()
    assert all(model.is_file() for model in (experiment / "models").glob("net_sr*_latest.pth"))
    assert store.load("sr_mssr")["finished"] and not list(experiment.parent.glob("*archived*"))


def test_stage_records_are_reused_only_with_the_same_settings(tmp_path):
    store = StageStore(tmp_path)
    store.start("a", {"iters": (3, 3)})
    assert store.interrupted("a", {"iters": [3, 3]}) and store.finished("a", {"iters": [3, 3]}) is None
    store.finish("a", {"iters": (3, 3)}, 1.5, models=["x.pth"])
    assert store.finished("a", {"iters": [3, 3]}).models == (Path("x.pth"),)
    assert store.finished("a", {"iters": [4, 3]}) is None and not store.interrupted("a", {"iters": [4, 3]})
    (tmp_path / "a.json").write_text("{truncated")
    assert store.load("a") is None  # a damaged record: the stage runs again


def test_a_changed_preset_is_retrained_not_reused(tmp_path, monkeypatch):
    import probdeg.demo.runner as runner_module
    from probdeg.demo.runner import DemoConfig, DemoRunner, Training, training_job

    preset = tmp_path / "preset.yml"
    preset.write_text("collab: {lambda_ada: 10}\n")
    monkeypatch.setattr(runner_module, "preset_path", lambda name: preset)
    runner = DemoRunner(DemoConfig(out=tmp_path / "out"))
    job = training_job("sr_x", Training("tiny/x", ("name=x",), "stage 2: x", ("net_sr0_latest.pth",), 10), [],
                       cost=10, root=runner.out)
    runner.store.finish(job.key, runner._config(job), 1.0, models=[])
    assert runner.store.finished(job.key, runner._config(job)) is not None
    preset.write_text("# the paper's weight\ncollab: {lambda_ada: 10}   # a comment changed, not an option\n")
    assert runner.store.finished(job.key, runner._config(job)) is not None
    preset.write_text("collab: {lambda_ada: 1}\n")  # a new probdeg with another preset: same name, other options
    assert runner.store.finished(job.key, runner._config(job)) is None


def test_budgets_parse_by_name_or_iterations():
    assert Budget.parse("quick") == BUDGETS["quick"] and Budget.parse("full").folder == "full"
    custom = Budget.parse("30,40")
    assert (custom.stage1_iters, custom.stage2_iters, custom.folder) == (30, 40, "iters_30_40")
    for bad in ("fast", "3", "3,x", "0,5"):
        with pytest.raises(ValueError, match="budget|stage1_iters"):
            Budget.parse(bad)


def test_zero_iterations_are_one_line_exit_2_before_any_folder(tmp_path, capsys):
    with pytest.raises(UserError, match="stage2_iters must be a positive integer, got 0"):
        Budget("custom", 5, 0)
    with pytest.raises(SystemExit) as exit_:
        main(["demo", "--iters", "0,0", "--out", str(tmp_path / "out"), "--no-progress"])
    assert exit_.value.code == 2
    assert "argument --iters: expected STAGE1,STAGE2 iterations (each at least 1)" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def _folder(path, count, size=64, channels=3):
    rng = np.random.default_rng(0)
    for i in range(count):
        write_image(path / f"img {i}.png", rng.random((size, size * 9 // 8, channels), dtype=np.float32))
    return path


def test_your_folders_are_checked_with_one_clear_message_each(tmp_path, capsys):
    hr, lr = _folder(tmp_path / "hr", 3), _folder(tmp_path / "lr", 2, size=16)
    (tmp_path / "empty").mkdir()
    cases = [
        (["--hr", str(hr)], "--hr and --lr go together"),
        (["--hr", str(hr), "--lr", str(tmp_path / "missing")], "--lr folder not found"),
        (["--hr", str(hr), "--lr", str(tmp_path / "empty")], "--lr: no images"),
        (["--hr", str(hr), "--lr", str(lr), "--val-hr", str(hr)], "--val-hr and --val-lr go together"),
        (["--hr", str(hr), "--lr", str(lr), "--out", str(hr / "demo")], "is inside the --hr folder"),
        (["--degradation", "blurr=1:2"], "did you mean 'blur'"),
        (["--degradation", "jpeg=90:50"], "0 <= low <= high"),
        (["--degradation", "no_such_module_xyz:f"], "cannot import"),
    ]
    for extra, message in cases:
        assert main(["demo", "--out", str(tmp_path / "out"), *extra, "--no-progress"]) == 2, extra
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, (extra, err)
    with pytest.raises(SystemExit):  # argparse's own usage error
        main(["demo", "--out", str(tmp_path / "out"), "--iters", "3"])
    assert "STAGE1,STAGE2" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # nothing written before the input is known to be good


def test_degradation_specs_settings_and_callables(tmp_path):
    assert load_true_degradation(None) == CameraDegradation()
    spec = load_true_degradation("blur=0,noise_a=0:0,noise_b=0,jpeg=none")
    hr = np.random.default_rng(1).random((32, 32, 3), dtype=np.float32)
    lr = spec(hr, 4, np.random.default_rng(0))
    area = hr.reshape(8, 4, 8, 4, 3).mean(axis=(1, 3))
    assert lr.shape == (8, 8, 3) and np.abs(lr - area).max() < 1e-5  # all off: a plain area downscale
    assert load_true_degradation(spec.describe()) == spec
    module = tmp_path / "my_degradation.py"
    module.write_text("def degrade(hr, scale, rng):\n    return hr[::scale, ::scale]\n")
    user = load_true_degradation(f"{module}:degrade")
    assert np.array_equal(user(hr, 4, None), hr[::4, ::4])
    with pytest.raises(ValueError, match="is not callable"):
        load_true_degradation("math:pi")
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_true_degradation(f"{tmp_path / 'absent.py'}:degrade")


def test_held_out_validation_uses_the_degradation_and_checks_its_output(tmp_path):
    hr = _folder(tmp_path / "hr", 7, size=80)
    calls = []

    def halve_brightness(image, scale, rng):
        calls.append(image.shape)
        return image[::scale, ::scale] * 0.5

    train_hr, val_hr, val_lr = hold_out(hr, tmp_path / "data", halve_brightness, seed=0)
    assert sorted(p.name for p in val_hr.iterdir()) == ["img 4.png"]  # every fifth image
    assert len(list(train_hr.iterdir())) == 6 and calls == [(80, 88, 3)]
    assert read_image(val_lr / "img 4.png").shape == (20, 22, 3)
    with pytest.raises(ValueError, match=r"returned \(80, 88\).*img 4.png.*expected an array of shape \(20, 22, 3\)"):
        hold_out(hr, tmp_path / "data", lambda image, scale, rng: image[..., 0], seed=0)
    with pytest.raises(ValueError, match="at least 2"):
        hold_out(_folder(tmp_path / "one", 1), tmp_path / "data1", halve_brightness, seed=0)
    none_given = check_user_folders(tmp_path / "o", None, None, None, None)
    assert not none_given.given and none_given.as_record() == dict.fromkeys(("--hr", "--lr", "--val-hr", "--val-lr"))


@pytest.mark.slow
def test_your_own_uncurated_folders_run_the_same_pipeline(tmp_path, capfd):
    import cv2
    from skimage import data as photos

    hr_dir, lr_dir = tmp_path / "my hr", tmp_path / "my lr"
    hr_dir.mkdir()
    lr_dir.mkdir()
    crop = lambda name: getattr(photos, name)()[:192, :192]  # noqa: E731
    write_image(hr_dir / "a astronaut.png", crop("astronaut").astype(np.float32) / 255)
    (hr_dir / "b broken.png").write_bytes(b"")  # 0 bytes
    cv2.imwrite(str(hr_dir / "c coffee 16bit.png"), crop("coffee")[..., ::-1].astype(np.uint16) * 257)
    (hr_dir / "d garbage.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    write_image(hr_dir / "e rocket.png", crop("rocket").astype(np.float32) / 255)  # the fifth: held out
    cv2.imwrite(str(hr_dir / "f gray.png"), crop("camera"))
    cv2.imwrite(str(hr_dir / "g rgba.png"), np.dstack([crop("chelsea")[..., ::-1], np.full((192, 192), 200, np.uint8)]))
    write_image(hr_dir / "h tiny.png", np.zeros((8, 8, 3), np.float32))  # smaller than the crop
    write_image(hr_dir / "i ünïcödé.png", crop("astronaut")[::-1].astype(np.float32) / 255)
    cv2.imwrite(str(lr_dir / "hubble.jpg"), photos.hubble_deep_field()[:64, :64, ::-1])
    cv2.imwrite(str(lr_dir / "ihc rgba.png"), np.dstack([photos.immunohistochemistry()[:64, :64],
                                                         np.full((64, 64), 255, np.uint8)]))
    cv2.imwrite(str(lr_dir / "lr 16bit.png"), photos.coffee()[:64, :64].astype(np.uint16) * 257)
    out = tmp_path / "out"
    with warnings.catch_warnings(record=True) as caught:  # the trainings' own come from their workers' stderr
        warnings.simplefilter("always")
        assert main(["demo", "--hr", str(hr_dir), "--lr", str(lr_dir), "--out", str(out), "--iters", "2,2",
                     "--degradation", "blur=1,jpeg=none", "--no-progress"]) == 0
    md = (out / "report.md").read_text()
    assert "your folders --hr" in md and "degraded by blur=1:1" in md
    assert sorted(p.name for p in (out / "data" / "val_hr").iterdir()) == ["e rocket.png"]
    assert len(list((out / "data" / "train_hr").iterdir())) == 8  # the rest, broken ones left to the loader
    skipped = " ".join(str(w.message) for w in caught) + capfd.readouterr().err
    assert all(name in skipped for name in ("b broken.png", "d garbage.jpg", "h tiny.png"))
    assert "c coffee 16bit.png" not in skipped and "g rgba.png" not in skipped


@pytest.mark.slow
def test_your_folders_of_odd_sized_images_give_a_report(tmp_path):
    """Issue 30: user validation pairs whose LR sides are odd or prime (39 px wide) trained every stage and then
    crashed in the report's scoring; now the report is written."""
    from skimage import data as photos

    rng = np.random.default_rng(0)
    astronaut, coffee = photos.astronaut().astype(np.float32) / 255, photos.coffee().astype(np.float32) / 255
    folders = {name: tmp_path / name for name in ("hr", "lr", "val_hr", "val_lr")}
    for i in range(3):
        write_image(folders["hr"] / f"h{i}.png", astronaut[50 * i:50 * i + 161, 40 * i:40 * i + 157])  # odd HR sides
        write_image(folders["lr"] / f"l{i}.png", coffee[30 * i:30 * i + 67, 20 * i:20 * i + 71])  # odd, >= 64
    for i, (h, w) in enumerate([(37, 39), (41, 43)]):  # odd and prime LR sides
        lr = np.clip(coffee[:h, 100:100 + w] + rng.normal(0, 0.01, (h, w, 3)), 0, 1).astype(np.float32)
        write_image(folders["val_lr"] / f"v{i}.png", lr)
        write_image(folders["val_hr"] / f"v{i}.png", np.repeat(np.repeat(lr, 4, axis=0), 4, axis=1))
    out = tmp_path / "out"
    args = ["demo", *[f for name, folder in folders.items() for f in (f"--{name.replace('_', '-')}", str(folder))],
            "--out", str(out), "--iters", "2,2", "--no-progress"]
    assert main(args) == 0
    md = (out / "report.md").read_text()
    assert "your pairs --val-hr" in md and "Table 1" in md and (out / "report.html").is_file()


def test_your_validation_pairs_are_checked_before_training(tmp_path, capsys):
    hr, lr = _folder(tmp_path / "hr", 2), _folder(tmp_path / "lr", 2, size=16)
    val_hr, val_lr = _folder(tmp_path / "val_hr", 2), _folder(tmp_path / "val_lr", 2, size=16)
    (val_lr / "img 1.png").write_bytes(b"")
    args = ["demo", "--hr", str(hr), "--lr", str(lr), "--val-hr", str(val_hr), "--val-lr", str(val_lr),
            "--out", str(tmp_path / "out"), "--no-progress"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "img 1.png" in err and "empty" in err and len(err.strip().splitlines()) == 1
    _folder(val_lr, 2, size=20)  # readable now, but 64 px HR is not 4 x 20
    assert main(args) == 2
    assert "is not 4x its LR" in capsys.readouterr().err
    assert not (tmp_path / "out" / "experiments").exists()


def test_jobs_start_once_the_stages_they_read_exist_stage_1_first(tmp_path, monkeypatch, capsys):
    import probdeg.demo.runner as runner_module
    from probdeg.demo.runner import DemoConfig, DemoRunner, Training, training_job

    preset = tmp_path / "preset.yml"
    preset.write_text("num_models: 1\n")
    monkeypatch.setattr(runner_module, "preset_path", lambda name: preset)
    order = []

    def fake_training(preset_file, overrides, root, progress=True):
        name = overrides[0].split("=", 1)[1]  # name=demo_<key>
        order.append(name[len("demo_"):])
        (root / "experiments" / name / "models").mkdir(parents=True, exist_ok=True)
        (root / "experiments" / name / "models" / "m.pth").write_bytes(b"")

    monkeypatch.setattr(runner_module, "run_training", fake_training)
    runner = DemoRunner(DemoConfig(out=tmp_path / "out", lanes=1, progress=False))
    runner.records.add(runner.store.finish("data", {}, 0.0))

    def job(key, upstream, iters, first=False):
        return training_job(key, Training("tiny/x", (f"name=demo_{key}",), key, ("m.pth",), iters),
                            ["data", *upstream], cost=iters, root=runner.out, first=first)

    made = []

    def make_lr(key):
        runner.make_folder(f"lr_{key}", {}, f"LR of {key}", tmp_path / key,
                           lambda: made.append(key) or (tmp_path / key).mkdir())

    jobs = [job("sr_small", [], 10), job("sr_on_a", ["lr_a"], 30), job("sr_on_b", ["lr_b"], 20),
            job("g_a", [], 5, first=True), job("g_b", [], 5, first=True)]
    runner.train_all(jobs, then={"g_a": lambda: make_lr("a"), "g_b": lambda: make_lr("b")})
    # Stage 1 first; then the longest of the startable SR runs: the run on a's LR waits for it, then outranks the rest.
    assert order == ["g_a", "g_b", "sr_on_a", "sr_on_b", "sr_small"]
    assert all(runner.store.finished(j.key, runner._config(j)) for j in jobs) and made == ["a", "b"]
    counters = re.findall(r"^\[(\d+)/(\d+)\]", capsys.readouterr().out, flags=re.M)
    assert [int(k) for k, _ in counters] == list(range(1, 8))  # 5 trainings and 2 LR folders, counted once each
    assert counters[-1] == ("7", "7")

    order.clear()
    runner.train_all(jobs, then={"g_a": lambda: make_lr("a"), "g_b": lambda: make_lr("b")})
    assert order == [] and made == ["a", "b"]  # everything reused, the LR folders too

    def broken_lr():
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        runner.train_all(jobs[:3] + [job("g_b2", [], 5, first=True)], then={"g_b2": broken_lr})

    with pytest.raises(RuntimeError, match="sr_orphan.*lr_missing"):
        runner.train_all([job("sr_orphan", ["lr_missing"], 10)])


def test_sr_overrides_write_each_model_s_offline_sources_as_the_option_file_takes_them(tmp_path):
    import json

    from probdeg.demo.plan import SRRun
    from probdeg.demo.runner import render_overrides, sr_overrides
    from probdeg.demo.task import DemoData

    data = DemoData(*(tmp_path / name for name in ("thr", "tlr", "vhr", "vlr")), source="s", val_source="v")
    run = SRRun("mixed", "tiny/mssr", (("a",), ("a", "b")))
    overrides = render_overrides(sr_overrides(run, data, {"a": tmp_path / "A", "b": tmp_path / "B"}, 10, 0))
    entries = json.loads(next(o for o in overrides if o.startswith("degradations="))[len("degradations="):])
    assert entries == [{"offline": "a"}, [{"offline": "a"}, {"offline": "b"}]]
