"""probdeg.demo.runner's small parts: overrides rendered once, schedules rescaled, finished experiments pruned."""

from __future__ import annotations

from pathlib import Path

from probdeg.demo.runner import parse_overrides, prune_experiment, render_overrides
from probdeg.integrations.basicsr.options import scaled_schedule


def test_overrides_render_as_probdeg_train_reads_them():
    words = render_overrides({"name": "demo_x", "manual_seed": 0, "val:save_img": False,
                              "datasets:train:dataroot_hr": Path("/data/my photos"), "train:scheduler:milestones": [3],
                              "degradations": [{"offline": "a"}], "collab:lambda_col": "0"})
    assert words == ["name=demo_x", "manual_seed=0", "val:save_img=false",
                     'datasets:train:dataroot_hr="/data/my photos"', "train:scheduler:milestones=[3]",
                     'degradations=[{"offline": "a"}]', "collab:lambda_col=0"]
    assert render_overrides(parse_overrides(["collab:lambda_col=0", "a:b=x=y"])) == ["collab:lambda_col=0", "a:b=x=y"]


def test_schedules_are_rescaled_in_the_presets_own_ratios():
    assert scaled_schedule({"total_iter": 300, "scheduler": {"type": "LinearDecay", "decay_start": 200}}, 1600) == \
        {"train:scheduler:decay_start": 1066}
    assert scaled_schedule({"total_iter": 3600, "scheduler": {"type": "MultiStepLR", "milestones": [2700, 3000]}},
                           200) == {"train:scheduler:milestones": [150, 166]}
    assert scaled_schedule({"total_iter": 10, "scheduler": {"milestones": [5]}}, 1) == \
        {"train:scheduler:milestones": [1]}  # never at iteration 0
    assert scaled_schedule({"total_iter": 10, "scheduler": {"type": "CosineAnnealingRestartLR"}}, 5) == {}


def test_a_finished_experiment_keeps_its_latest_files_and_what_resuming_its_newest_state_loads(tmp_path):
    for name in ("net_g_50.pth", "net_g_100.pth", "net_g_150.pth", "net_g_latest.pth", "net_d_100.pth",
                 "net_d_150.pth", "net_d_latest.pth"):
        (tmp_path / "models").mkdir(exist_ok=True)
        (tmp_path / "models" / name).write_bytes(b"x" * 10)
    for name in ("50.state", "100.state", "150.state"):
        (tmp_path / "training_states").mkdir(exist_ok=True)
        (tmp_path / "training_states" / name).write_bytes(b"y" * 5)
    assert prune_experiment(tmp_path) == 3 * 10 + 2 * 5
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["net_d_150.pth", "net_d_latest.pth",
                                                                       "net_g_150.pth", "net_g_latest.pth"]
    assert [p.name for p in (tmp_path / "training_states").iterdir()] == ["150.state"]
