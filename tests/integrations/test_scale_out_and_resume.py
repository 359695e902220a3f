"""Scale out and resume: 2 gloo processes train like 1 process at the same global batch, and a run stopped at a
checkpoint and resumed with --auto_resume ends with the weights of the uninterrupted run."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

pytest.importorskip("probdeg.integrations.basicsr")
from probdeg.archs import FSDiscriminator  # noqa: E402
from probdeg.checkpoint import load_checkpoint  # noqa: E402
from probdeg.sample_task import make_sample_data  # noqa: E402

TINY = Path(__file__).resolve().parents[2] / "integrations" / "basicsr" / "options" / "tiny"
ITERATIONS = 4
# DDP averages the ranks' gradients in another order than one process sums the batch: float32 rounding, ~1e-8 on
# the weights after 4 Adam steps (measured: 1.5e-8). 1e-5 leaves room for other BLAS builds and still catches a
# real mismatch (another batch, unsynchronised gradients: >= 1e-4, one Adam step being ~lr, 1e-4 or more).
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("scale_out")
    make_sample_data(root / "datasets" / "sample", seed=0)
    return root


def _write(root: Path, opt: dict, name: str, batch: int) -> Path:
    opt = {**opt, "name": name}
    opt["datasets"] = {"train": {**opt["datasets"]["train"], "batch_size_per_gpu": batch}}
    path = root / f"{name}.yml"
    path.write_text(yaml.safe_dump(opt))
    return path


def _gan_options(preset: str, total_iter: int) -> dict:
    opt = yaml.safe_load((TINY / preset).read_text())
    net = opt["network_g"].get("net", opt["network_g"])
    net.update(num_feat=8, num_blocks=1)
    opt["network_d"].update(num_feat=8, kernel_size=5)  # 8-pixel LR crops: a 9x9 filter needs 9
    opt["datasets"]["train"].update(crop_size=32, length=16)
    opt.pop("val")
    # The schedule's length is fixed apart from train:total_iter, so a run can be stopped early by lowering that.
    opt["train"].update(total_iter=total_iter, scheduler={"type": "LinearDecay", "decay_start": 1, "total_iter": 100})
    opt["train"]["autocast"] = "off"  # float32, as for the SR runs below: the runs are compared to float precision
    opt["logger"].update(print_freq=1, save_checkpoint_freq=3)
    return opt


def _collab_options(generator: Path) -> dict:
    opt = yaml.safe_load((TINY / "sr_bicubic.yml").read_text())
    opt["network_sr"].update(num_feat=8, num_conv=2)
    opt["num_models"] = 2
    opt["degradations"] = [{"bicubic": True}, {"generator": str(generator)}]
    opt["collab"].update(use_real_lr=True, total_progress=ITERATIONS)
    opt["datasets"]["train"].update(crop_size=32, length=16)
    opt.pop("val")
    opt["train"]["total_iter"] = ITERATIONS
    # float32: bfloat16 rounds a half batch differently from the whole one, past the equivalence checked here.
    opt["train"]["autocast"] = "off"
    opt["logger"].update(print_freq=1, save_checkpoint_freq=100)
    return opt


def _train(root: Path, options: Path, *args: str, processes: int = 1) -> None:
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"] \
        if processes > 1 else [sys.executable]
    extra = ["--launcher", "pytorch"] if processes > 1 else []
    result = subprocess.run([*launcher, "-m", "probdeg", "train", "-opt", str(options), *extra, *args], cwd=root,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]


def _weights(root: Path, name: str, net: str) -> dict:
    return load_checkpoint(root / "experiments" / name / "models" / f"{net}_latest.pth")["params"]


def _max_difference(a: dict, b: dict, keys=None) -> float:
    return max((a[k] - b[k]).abs().max().item() for k in (keys if keys is not None else a))


def _log(root: Path, name: str) -> str:
    return "\n".join(p.read_text() for p in (root / "experiments" / name).glob("train_*.log"))


def _losses(log: str) -> list[dict]:
    lines = [line.split("] ", 2)[-1] for line in log.splitlines() if re.search(r"iter:\s+\d+, lr", line)]
    return [{key: float(value) for key, value in re.findall(r"(\w+): ([-+.\de]+)", line)} for line in lines]


def _assert_same_losses(ddp: str, one: str) -> None:
    ddp_losses, one_losses = _losses(ddp), _losses(one)
    assert len(ddp_losses) == len(one_losses) == ITERATIONS
    for a, b in zip(ddp_losses, one_losses):
        assert a.keys() == b.keys()
        for key in a:  # the log prints 5 significant digits
            assert a[key] == pytest.approx(b[key], rel=2e-4, abs=1e-7), key


def _gauge_biases(d: torch.nn.Module) -> set:
    """Biases of convolutions followed by an InstanceNorm: the norm cancels them, so their gradient is 0 up to
    rounding, which Adam scales up to full steps of random sign. They cannot match and do not change D's output."""
    layers = list(d.body)
    return {f"body.{i}.bias" for i, (a, b) in enumerate(zip(layers, layers[1:]))
            if isinstance(a, torch.nn.Conv2d) and isinstance(b, torch.nn.InstanceNorm2d)}


@pytest.fixture(scope="module")
def gan_runs(root) -> Path:
    opt = _gan_options("deg_deresnet_det.yml", ITERATIONS)
    _train(root, _write(root, opt, "gan_ddp", batch=2), processes=2)
    _train(root, _write(root, opt, "gan_one", batch=4))
    return root


@pytest.mark.slow
def test_ddp_degradation_gan_matches_one_process_at_the_same_global_batch(gan_runs):
    root = gan_runs
    g_ddp, g_one = _weights(root, "gan_ddp", "net_g"), _weights(root, "gan_one", "net_g")
    assert _max_difference(g_ddp, g_one) < TOLERANCE
    d_ddp, d_one = _weights(root, "gan_ddp", "net_d"), _weights(root, "gan_one", "net_d")
    network_d = _gan_options("deg_deresnet_det.yml", ITERATIONS)["network_d"]  # the trained D's filter and width
    d = FSDiscriminator(**{key: value for key, value in network_d.items() if key != "type"})
    comparable = set(d_ddp) - _gauge_biases(d)
    assert comparable < set(d_ddp) and _max_difference(d_ddp, d_one, comparable) < TOLERANCE
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    outputs = []
    for weights in (d_ddp, d_one):
        d.load_state_dict(weights)
        outputs.append(d(x))
    assert (outputs[0] - outputs[1]).abs().max().item() < TOLERANCE
    assert "world_size: 2" in _log(root, "gan_ddp")
    _assert_same_losses(_log(root, "gan_ddp"), _log(root, "gan_one"))


@pytest.mark.slow
def test_ddp_collaborative_models_each_wrapped_and_match_one_process(gan_runs):
    root = gan_runs
    opt = _collab_options(root / "experiments" / "gan_one" / "models" / "net_g_latest.pth")
    _train(root, _write(root, opt, "collab_ddp", batch=2), processes=2)
    _train(root, _write(root, opt, "collab_one", batch=4))
    ddp_log = _log(root, "collab_ddp")
    assert ddp_log.count("Network: DistributedDataParallel - SRVGGNetCompact") == 2
    for i in range(2):
        assert _max_difference(_weights(root, "collab_ddp", f"net_sr{i}"),
                               _weights(root, "collab_one", f"net_sr{i}")) < TOLERANCE
    _assert_same_losses(ddp_log, _log(root, "collab_one"))


@pytest.mark.slow
def test_resume_mid_epoch_ends_with_the_weights_of_the_uninterrupted_run(root):
    # Probabilistic G: fresh latents every step, so the restored generator states matter too.
    opt = _gan_options("deg_deresnet_prob.yml", total_iter=10)
    _train(root, _write(root, opt, "uninterrupted", batch=4))
    stopped = _write(root, opt, "stopped", batch=4)
    # 4 batches an epoch: iteration 6 is mid-epoch 1, with a training state saved there (every 3 iterations).
    _train(root, stopped, "--set", "train:total_iter=6")
    state = torch.load(root / "experiments" / "stopped" / "training_states" / "6.state", weights_only=True)
    assert (state["epoch"], state["epoch_batches"]) == (1, 2)
    _train(root, stopped, "--auto_resume")
    assert "Resuming training from epoch: 1, iter: 6. Skipping the epoch's first 2 batches" in _log(root, "stopped")
    for net in ("net_g", "net_d"):
        # Same process count and operations: bit-identical on one machine (measured 0); 1e-6 allows nothing real.
        assert _max_difference(_weights(root, "uninterrupted", net), _weights(root, "stopped", net)) < 1e-6
