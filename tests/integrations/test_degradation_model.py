"""DegradationGANModel in-process: GAN loss types, the injection lr group, the lr schedule, the non-finite guard."""

from pathlib import Path

import pytest
import torch
import yaml

pytest.importorskip("probdeg.integrations.basicsr")
from basicsr.models import build_model  # noqa: E402

from probdeg.errors import NonFiniteLossError  # noqa: E402
from probdeg.integrations.basicsr.models.base import linear_decay  # noqa: E402
from probdeg.integrations.basicsr.options import load_options  # noqa: E402

TINY = Path(__file__).resolve().parents[2] / "integrations" / "basicsr" / "options" / "tiny" / "deg_deresnet_prob.yml"


def _model(tmp_path: Path, gan_type: str = "vanilla"):
    opt = yaml.safe_load(TINY.read_text())
    opt["network_g"]["net"].update(num_feat=8, num_blocks=2)
    opt["network_d"].update(num_feat=8, kernel_size=5)  # 8-pixel LR crops below: a 9x9 filter needs 9
    opt["train"]["gan_opt"]["gan_type"] = gan_type
    opt["train"]["optim_g"].update(lr=1e-4, injection_lr=1e-3)  # the test checks the mechanism, not the preset
    opt["train"]["diversity_opt"]["tau"] = 0.02  # given: no real LR folder to estimate it from
    path = tmp_path / "opt.yml"
    path.write_text(yaml.safe_dump(opt))
    return build_model(load_options(path, root=tmp_path, check_files=False))  # a model alone: no data needed


def _batch(seed: int = 0) -> dict:
    gen = torch.Generator().manual_seed(seed)
    return {"hr": torch.rand(2, 3, 32, 32, generator=gen), "hr_bicubic": torch.rand(2, 3, 8, 8, generator=gen),
            "real_lr": torch.rand(2, 3, 8, 8, generator=gen)}


@pytest.mark.parametrize("value, expected", [("off", None), ("bf16", torch.bfloat16)])
def test_train_autocast_runs_g_and_d_in_that_precision_and_the_losses_in_float32(tmp_path, value, expected):
    model = _model(tmp_path)
    model.opt["train"]["autocast"] = value
    model.init_training_settings()
    assert model.autocast is expected
    seen = []
    for net in (model.net_g, model.net_d):
        first_conv = next(m for m in net.modules() if isinstance(m, torch.nn.Conv2d))
        first_conv.register_forward_hook(lambda mod, inp, out: seen.append(out.dtype))
    model.feed_data(_batch())
    model.optimize_parameters(1)
    assert set(seen) == {expected or torch.float32}
    assert all(torch.isfinite(torch.tensor(v)) for v in model.get_current_log().values())
    assert all(p.dtype == torch.float32 for p in model.net_g.parameters())


@pytest.mark.parametrize("gan_type", ["vanilla", "lsgan", "hinge"])
def test_each_gan_type_trains_both_nets(tmp_path, gan_type):
    model = _model(tmp_path, gan_type)
    g_before = [p.clone() for p in model.net_g.parameters()]
    d_before = [p.clone() for p in model.net_d.parameters()]
    model.feed_data(_batch())
    model.optimize_parameters(1)
    assert all(torch.isfinite(torch.tensor(v)) for v in model.get_current_log().values())
    assert any(not torch.equal(a, b) for a, b in zip(g_before, model.net_g.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(d_before, model.net_d.parameters()))


def test_the_latents_have_their_own_learning_rate_and_the_schedule_decays_linearly(tmp_path):
    model = _model(tmp_path)
    groups = model.optimizer_g.param_groups
    assert [g["name"] for g in groups] == ["net", "injection"]
    assert [g["lr"] for g in groups] == [1e-4, 1e-3]
    factor = linear_decay(total_iter=300, decay_start=200)
    assert [factor(i) for i in (0, 199, 200, 250, 300, 400)] == [1.0, 1.0, 1.0, 0.5, 0.0, 0.0]
    for it in range(1, 251):
        model.update_learning_rate(it)
    assert model.get_current_learning_rate()[0] == pytest.approx(1e-4 * (300 - 249) / 100)
    with pytest.raises(ValueError, match="decay_start"):
        linear_decay(total_iter=10, decay_start=10)


def test_nonfinite_losses_skip_the_step_and_repeated_ones_stop_the_run(tmp_path):
    model = _model(tmp_path)
    before = [p.clone() for p in model.net_g.parameters()]
    bad = _batch()
    bad["hr_bicubic"][0, 0, 0, 0] = float("nan")
    model.feed_data(bad)
    model.optimize_parameters(1)
    assert all(torch.equal(a, b) for a, b in zip(before, model.net_g.parameters()))
    with pytest.raises(NonFiniteLossError, match="consecutive"):
        for it in range(2, 30):
            model.optimize_parameters(it)


def test_validation_uses_lpips_for_realism_when_its_weights_exist_else_the_weight_free_figure(tmp_path, monkeypatch):
    torchvision = pytest.importorskip("torchvision")
    from basicsr.data import build_dataloader, build_dataset

    from probdeg.sample_task import make_sample_data

    make_sample_data(tmp_path / "datasets" / "sample", seed=0)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    model = _model(tmp_path)
    val_opt = dict(model.opt["datasets"]["val"], crop_size=None)  # whole images: LR sides of 32 px and more
    loader = build_dataloader(build_dataset(val_opt), val_opt, num_gpu=0, dist=False, sampler=None, seed=0)
    model.validation(loader, 1, None, save_img=False)
    assert "realism_hf" in model.metric_results and "realism_lpips" not in model.metric_results
    weights = tmp_path / "torch_home" / "hub" / "checkpoints" / "alexnet-owt-7be5be79.pth"
    weights.parent.mkdir(parents=True)
    torch.save(torchvision.models.alexnet().state_dict(), weights)
    model = _model(tmp_path)
    model.validation(loader, 2, None, save_img=False)
    assert "realism_lpips" in model.metric_results and "realism_hf" not in model.metric_results
    assert {"psnr_lr", "diversity", "psnr_vs_bicubic"} <= set(model.metric_results)
