"""``probdeg fit-degradation``: the search is seeded and bounded, writes a block the source and ``degrade`` take, and
its objective is checked where the truth is known (the sample task's own degradation ranks first)."""

from pathlib import Path

import numpy as np
import pytest
import yaml

pytest.importorskip("probdeg.integrations.basicsr")
from probdeg.integrations.basicsr.fit import FITTED_KEYS, fit_handmade, write_fit  # noqa: E402
from probdeg.integrations.basicsr.options import read_handmade  # noqa: E402
from probdeg.io import list_images, read_image, write_image  # noqa: E402
from probdeg.sample_task import apply_true_degradation, camera_degradation, make_sample_data  # noqa: E402


@pytest.fixture(scope="module")
def task(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("fit")
    folders = make_sample_data(root / "data", seed=0)
    rng = np.random.default_rng(7)  # a fresh draw of the truth on the HR images: what the objective must prefer
    for path in list_images(folders["train_hr"]):
        hr = read_image(path)
        hr = hr[: hr.shape[0] // 4 * 4, : hr.shape[1] // 4 * 4]
        write_image(root / "known_lr" / path.name, apply_true_degradation(camera_degradation, hr, 4, rng, path.name))
    return {**folders, "known_lr": root / "known_lr", "root": root}


def test_the_known_degradation_ranks_first_and_the_fitted_block_is_usable(task, tmp_path):
    result = fit_handmade(task["train_hr"], task["train_lr"], candidates=4, max_crops=12, seed=0,
                          known_lr_dir=task["known_lr"], progress=False)
    known = result.references[-1]
    assert known.label == "known degradation" and result.rank_of(known) == 1
    assert result.candidates[0].label == "default" and result.candidates[0].overrides == {}
    assert set(result.best.overrides) <= set(FITTED_KEYS)
    paths = write_fit(result, tmp_path)
    block = yaml.safe_load(paths["block"].read_text())
    assert block["handmade"] == "realesrgan"
    source = read_handmade(str(paths["block"]))  # what degrade --handmade and degradations: take
    for key, value in result.best.overrides.items():
        assert list(np.atleast_1d(getattr(source.options, key))) == pytest.approx(list(np.atleast_1d(value)))
    assert "The known degradation ranks 1 of 5 on the objective" in paths["md"].read_text()


def test_the_search_is_seeded_and_bounded_in_time(task):
    one = fit_handmade(task["train_hr"], task["train_lr"], candidates=3, max_crops=4, seed=3, progress=False)
    two = fit_handmade(task["train_hr"], task["train_lr"], candidates=3, max_crops=4, seed=3, progress=False)
    assert [c.overrides for c in one.candidates] == [c.overrides for c in two.candidates]
    assert [c.objective for c in one.candidates] == [c.objective for c in two.candidates]
    bounded = fit_handmade(task["train_hr"], task["train_lr"], candidates=50, seconds=0, max_crops=4,
                           progress=False)
    assert len(bounded.candidates) == 1  # only the preset, once the time is up


def test_the_command_writes_the_block_the_table_and_the_scorecard(task, tmp_path, capsys):
    from probdeg.cli import main

    out = tmp_path / "fit"
    assert main(["fit-degradation", "--hr", str(task["train_hr"]), "--real-lr", str(task["train_lr"]), "--out",
                 str(out), "--candidates", "2", "--max-crops", "4", "--max-images", "2", "--no-progress"]) == 0
    assert {p.name for p in out.iterdir()} >= {"handmade_fitted.yml", "fit.md", "fit.csv", "scorecard"}
    card = (out / "scorecard" / "scorecard.md").read_text()
    assert "handmade:realesrgan" in card and "handmade:fitted" in card
    assert "fit-degradation: objective" in capsys.readouterr().out
