"""Stage 2 through BasicSR: CollaborativeSRModel's life cycle from an inline YAML (build, feed, optimise, save,
validate, resume), pretrained init, and the degradation sources."""

import textwrap
from pathlib import Path

import pytest
import torch

pytest.importorskip("probdeg.integrations.basicsr")
from basicsr.data import build_dataloader, build_dataset  # noqa: E402
from basicsr.models import build_model  # noqa: E402

from probdeg import probabilistic_deresnet  # noqa: E402
from probdeg.checkpoint import load_checkpoint, load_network, save_checkpoint  # noqa: E402
from probdeg.errors import OptionError
from probdeg.integrations.basicsr import resolve_arch  # noqa: E402
from probdeg.integrations.basicsr.models.collaborative_sr import ema_decay_at  # noqa: E402
from probdeg.integrations.basicsr.options import load_options  # noqa: E402
from probdeg.integrations.basicsr.sources import BicubicSource, SourceBuild  # noqa: E402
from probdeg.sample_task import make_sample_data  # noqa: E402

YAML = """
name: collab_lifecycle
model_type: CollaborativeSRModel
scale: 4
num_gpu: 0
manual_seed: 0
datasets:
  train:
    name: sample
    type: UnpairedImageDataset
    dataroot_hr: {data}/train_hr
    dataroot_lr: {data}/train_lr
    crop_size: 32
    bicubic_reference: false
    length: 8
    use_shuffle: true
    num_worker_per_gpu: 0
    batch_size_per_gpu: 2
    dataset_enlarge_ratio: 1
  val:
    name: sample_val
    type: PairedImageDataset
    dataroot_gt: {data}/val_hr
    dataroot_lq: {data}/val_lr
    io_backend: {{type: disk}}
network_sr: {{type: RRDBNet, num_in_ch: 3, num_out_ch: 3, num_feat: 8, num_block: 1, num_grow_ch: 4, scale: 4}}
num_models: 2
degradations:
  - {{generator: {generator}}}
  - [{{generator: {generator}}}, {{bicubic: true}}]
collab: {{lambda_sup: 1, lambda_col: 0.01, lambda_ada: 10, total_progress: 100}}
path:
  pretrain_network_sr: {pretrain}
  resume_state: {resume}
train:
  optim_sr: {{type: Adam, lr: !!float 1e-3, betas: [0.5, 0.999]}}
  scheduler: {{type: MultiStepLR, milestones: [50], gamma: 0.5}}
  total_iter: 100
  ema_decay: 0.9
val: {{val_freq: 10, save_img: true, crop_border: 4}}
logger: {{print_freq: 1, save_checkpoint_freq: 10, use_tb_logger: false}}
"""


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("stage2")
    make_sample_data(root / "data", seed=1)
    torch.manual_seed(0)
    G = probabilistic_deresnet(num_feat=8, num_blocks=1, scale=4)
    for layer in G.injections:
        torch.nn.init.constant_(layer.weight, 1.0)
    save_checkpoint(root / "G.pth", G, {"type": "Probabilistic",
                                        "net": {"type": "DeResnet", "num_feat": 8, "num_blocks": 1, "scale": 4}})
    return root


def _opt(root: Path, pretrain: str = "~", resume: str = "~") -> dict:
    path = root / "opt.yml"
    path.write_text(textwrap.dedent(YAML).format(data=root / "data", generator=root / "G.pth", pretrain=pretrain,
                                                 resume=resume))
    opt = load_options(path, root=root)
    return opt


def _batch(opt: dict) -> dict:
    dataset = build_dataset(opt["datasets"]["train"])
    return next(iter(build_dataloader(dataset, opt["datasets"]["train"], num_gpu=0, dist=False, sampler=None,
                                      seed=0)))


def test_lifecycle_build_feed_optimise_save_validate_resume(workspace):
    opt = _opt(workspace)
    Path(opt["path"]["models"]).mkdir(parents=True, exist_ok=True)
    Path(opt["path"]["training_states"]).mkdir(parents=True, exist_ok=True)
    model = build_model(opt)
    assert model.num_models == 2 and len(model.optimizers) == 2 and len(model.schedulers) == 2
    before = [[p.clone() for p in net.parameters()] for net in model.nets]
    model.feed_data(_batch(opt))
    model.optimize_parameters(1)
    log = model.get_current_log()
    assert {"l_sup_0", "l_col_0", "l_ada_0", "l_sup_1", "l_col_1", "l_ada_1"} <= set(log)
    assert all(torch.isfinite(torch.tensor(v)) for v in log.values())
    for old, net in zip(before, model.nets):
        assert any(not torch.equal(a, b) for a, b in zip(old, net.parameters()))

    model.save(0, 1)
    models = Path(opt["path"]["models"])
    for i, (net, ema) in enumerate(zip(model.nets, model.nets_ema)):
        path = models / f"net_sr{i}_1.pth"
        assert load_checkpoint(path)["probdeg"]["network"]["type"] == "RRDBNet"
        # The EMA copy sits in the same file (BasicSR's params_ema), and what `probdeg sr` loads is the EMA copy.
        assert any(not torch.equal(a, b) for a, b in zip(net.parameters(), ema.parameters()))
        loaded = load_network(path, resolve=resolve_arch)
        assert all(torch.equal(a, b) for a, b in zip(loaded.parameters(), ema.parameters()))
    assert not list(models.glob("*ema*"))
    state_path = Path(opt["path"]["training_states"]) / "1.state"
    assert state_path.is_file()

    val_opt = dict(opt["datasets"]["val"])
    val_loader = build_dataloader(build_dataset(val_opt), val_opt, num_gpu=0, dist=False, sampler=None, seed=0)
    model.validation(val_loader, 1, None, save_img=True)
    figures = model.metric_results
    assert {"psnr_sr0", "psnr_sr1", "psnr_ensemble", "ssim_ensemble"} <= set(figures)
    assert all(5 < figures[k] < 60 for k in ("psnr_sr0", "psnr_sr1", "psnr_ensemble"))
    assert list(Path(opt["path"]["visualization"]).glob("sample_val/*_1.png"))

    state = torch.load(state_path, weights_only=True)
    resumed = build_model(_opt(workspace, resume=str(state_path)))
    resumed.resume_training(state)
    for net, again in zip(model.nets, resumed.nets):
        assert all(torch.equal(a, b) for a, b in zip(net.parameters(), again.parameters()))
    for ema, again in zip(model.nets_ema, resumed.nets_ema):
        assert all(torch.equal(a, b) for a, b in zip(ema.parameters(), again.parameters()))
    for opt_a, opt_b in zip(model.optimizers, resumed.optimizers):
        assert opt_a.state_dict()["state"][0]["step"] == opt_b.state_dict()["state"][0]["step"]


def test_the_ema_warms_up_so_a_short_run_does_not_keep_its_random_start(workspace):
    opt = _opt(workspace)
    opt["train"]["ema_decay"] = 0.99
    model = build_model(opt)
    start = [p.clone() for p in model.nets[0].parameters()]
    model.feed_data(_batch(opt))
    model.optimize_parameters(1)
    # Step 1 averages with decay 2/11, not 0.99: the copy is mostly the trained weights already.
    for p_start, p_net, p_ema in zip(start, model.nets[0].parameters(), model.nets_ema[0].parameters()):
        torch.testing.assert_close(p_ema, 2 / 11 * p_start + 9 / 11 * p_net)
    assert ema_decay_at(0.99, 1) == pytest.approx(2 / 11)
    assert ema_decay_at(0.99, 200) == pytest.approx(201 / 210)
    assert ema_decay_at(0.99, 890) == 0.99 and ema_decay_at(0.99, 5000) == 0.99


def test_pretrained_init_from_a_local_file_and_a_clear_error_when_missing(workspace):
    with pytest.raises(OptionError, match="path:pretrain_network_sr: file not found: .*missing.pth"):
        _opt(workspace, pretrain=str(workspace / "missing.pth"))  # refused when the options are loaded
    model = build_model(_opt(workspace))
    model.save_network(model.nets[0], "net_sr0", 0)
    init = Path(model.opt["path"]["models"]) / "net_sr0_0.pth"
    again = build_model(_opt(workspace, pretrain=str(init)))
    for net in again.nets:  # every model starts from the same file
        assert all(torch.equal(a, b) for a, b in zip(model.nets[0].parameters(), net.parameters()))


def test_degradation_sources_generator_bicubic_and_mixed(workspace):
    model = build_model(_opt(workspace))
    model.feed_data(_batch(model.opt))
    torch.manual_seed(0)
    first = model._synthesise(model.sources[0])
    second = model._synthesise(model.sources[0])
    assert first.shape == (2, 3, 8, 8) and not torch.equal(first, second)  # fresh latents every iteration
    bicubic_source = [BicubicSource().build(SourceBuild(model.device, 4, 0, "degradations[9]"))]
    bicubic = model._synthesise(bicubic_source)  # computed here: this batch has no hr_bicubic
    model.data["hr_bicubic"] = bicubic * 0.5
    assert torch.equal(model._synthesise(bicubic_source), bicubic * 0.5)  # the loader's, when it made one
    del model.data["hr_bicubic"]
    torch.manual_seed(3)
    mixed = model._synthesise(model.sources[1])
    for i in range(2):
        assert torch.equal(mixed[i], bicubic[i]) or not torch.allclose(mixed[i], bicubic[i], atol=1e-3)


def test_a_generator_source_with_jpeg_compresses_each_sample_and_bad_ranges_are_refused(workspace):
    from probdeg.integrations.basicsr.validation import validate_options
    from probdeg.jpeg import compress

    opt = _opt(workspace)
    opt["degradations"] = [{"generator": str(workspace / "G.pth"), "jpeg": [30, 30]},
                           {"generator": str(workspace / "G.pth")}]
    model = build_model(opt)
    model.feed_data(_batch(opt))
    torch.manual_seed(0)
    compressed = model._synthesise(model.sources[0])
    torch.manual_seed(0)
    plain = model._synthesise(model.sources[1])  # the same net and latents, no JPEG
    for image, reference in zip(compressed, plain):
        expected = compress(reference.permute(1, 2, 0).numpy(), 30)
        assert torch.allclose(image.permute(1, 2, 0), torch.from_numpy(expected), atol=1e-6)
    assert not torch.allclose(compressed, plain, atol=2 / 255)
    for source, message in (({"generator": "G.pth", "jpeg": [70, 40]}, "1 <= low <= high <= 100"),
                            ({"offline": "x", "jpeg": [40, 70]}, "generator sources only")):
        opt["degradations"] = [source, {"bicubic": True}]
        with pytest.raises(OptionError, match=message):
            validate_options(opt, check_files=False)


def test_offline_folders_from_probdeg_degrade_mix_with_on_the_fly_synthesis(workspace):
    from probdeg.degrade import degrade_folder

    offline = workspace / "offline"
    degrade_folder(workspace / "G.pth", workspace / "data" / "train_hr", offline, samples=2, seed=0, batch=1,
                   tile=None, overlap=0, device="cpu", progress=False)
    opt = _opt(workspace)
    opt["datasets"]["train"]["synthetic_lr"] = {"deresnet": str(offline)}
    opt["degradations"] = [{"offline": "deresnet"}, [{"offline": "deresnet"}, {"generator": str(workspace / "G.pth")}]]
    model = build_model(opt)
    batch = _batch(opt)
    assert batch["lr_deresnet"].shape == (2, 3, 8, 8)
    model.feed_data(batch)
    assert torch.equal(model._synthesise(model.sources[0]), batch["lr_deresnet"])
    model.optimize_parameters(1)
    assert all(torch.isfinite(torch.tensor(v)) for v in model.get_current_log().values())


@pytest.mark.parametrize("value, expected", [(False, None), ("off", None), ("bf16", torch.bfloat16)])
def test_train_autocast_is_read_and_runs_the_sr_forwards_in_that_precision(workspace, value, expected):
    opt = _opt(workspace)
    opt["train"]["autocast"] = value
    model = build_model(opt)
    assert model.autocast is expected
    seen = []
    model.nets[0].conv_first.register_forward_hook(lambda mod, inp, out: seen.append(out.dtype))
    model.feed_data(_batch(opt))
    model.optimize_parameters(1)
    assert seen == [expected or torch.float32]
    assert all(torch.isfinite(torch.tensor(v)) for v in model.get_current_log().values())


def test_hybrid_learned_and_hand_made_domains_train_together_and_the_hand_made_draws_are_reproducible(workspace):
    """K = 2: a tiny generator's domain beside Real-ESRGAN's pipeline, a few iterations of Eq. 4-6."""
    opt = _opt(workspace)
    opt["degradations"] = [{"generator": str(workspace / "G.pth")}, {"handmade": "realesrgan", "jpeg_range": [50, 90]}]
    model = build_model(opt)
    batch = _batch(opt)
    model.feed_data(batch)
    first, again, later = (model._synthesise(model.sources[1], it) for it in (1, 1, 2))
    assert first.shape == (2, 3, 8, 8) and torch.equal(first, again) and not torch.equal(first, later)
    rebuilt = build_model(opt)  # a resumed run draws what the first one did at the same iteration
    rebuilt.feed_data(batch)
    assert torch.equal(rebuilt._synthesise(rebuilt.sources[1], 1), first)
    before = [[p.clone() for p in net.parameters()] for net in model.nets]
    for iteration in range(1, 4):
        model.feed_data(batch)
        model.optimize_parameters(iteration)
        log = model.get_current_log()
        assert all(torch.isfinite(torch.tensor(v)) for v in log.values())
        assert log["l_col_0"] > 0 and log["l_col_1"] > 0  # each domain's model is taught by the other
    for old, net in zip(before, model.nets):
        assert any(not torch.equal(a, b) for a, b in zip(old, net.parameters()))
