"""``CollaborativeSRModel``: stage 2, K SR networks trained collaboratively (MSSR, Eq. 4-6) in BasicSR.

The training logic is :mod:`probdeg.collab`; this class adapts it to BasicSR's life cycle (options, optimisers,
schedulers, EMA, checkpoints, resume, validation).

Options (besides BasicSR's usual ones):

- ``network_sr``: the SR arch, one dict (copied ``num_models`` times) or a list of K dicts. Any registered arch;
  ``RRDBNet`` is BasicSR's own.
- ``degradations``: K entries, the source of each model's synthetic LR, any mix of kinds (hybrid collaborative
  learning: learned generators beside hand-made pipelines). An entry is one source or a list of sources mixed per
  sample (the naive combination): ``{generator: G.pth}`` (frozen, fresh latents every iteration; ``jpeg: [40, 70]``
  adds JPEG at a quality drawn per sample, the blocking a generator cannot learn: :mod:`probdeg.jpeg`),
  ``{bicubic: true}`` (MATLAB bicubic of the HR crop), ``{offline: NAME}`` (read by the dataset from a folder made by
  ``probdeg degrade``; see ``UnpairedImageDataset.synthetic_lr``) or ``{handmade: realesrgan}`` (Real-ESRGAN's
  second-order pipeline, parameters overridable beside it). One class per kind: :mod:`..sources`.
- ``collab``: the losses' weights and schedule, :class:`~probdeg.integrations.basicsr.schema.CollabOptions`.
- ``path.pretrain_network_sr``: initial weights for every model (BasicSR ``params`` / ``params_ema``), e.g. ESRGAN's
  PSNR-oriented RRDB; ``path.param_key_sr`` picks the key.
- ``train.optim_sr``, ``train.scheduler`` (one per model), ``train.ema_decay`` (> 0: an averaged copy of each model,
  warmed up by :func:`ema_decay_at`, validated instead of it and saved in its checkpoint under ``params_ema``, which
  ``probdeg sr`` then uses), ``train.autocast`` (``off``, ``bf16`` or ``auto``: the SR forwards in bfloat16 where
  the hardware computes it natively, :func:`probdeg.runtime.autocast_dtype`).
"""

from __future__ import annotations

import copy
import os
from collections import OrderedDict
from pathlib import Path

import torch
from basicsr.metrics import calculate_psnr, calculate_ssim
from basicsr.utils import imwrite, tensor2img

from ....collab import CollabWeights, collaborative_step
from ....noise_field import stable_seed
from ....runtime import autocast_dtype
from ..archs import build_network
from ..schema import CollabOptions, ValOptions
from ..sources import SourceBuild, Synthesise, read_degradations
from .base import ProbdegBaseModel


def ema_decay_at(decay: float, step: int) -> float:
    """The EMA's decay at training step ``step`` (from 1): ``min(decay, (1 + step) / (10 + step))``.

    Why the warm-up: a model trained from random weights moves far in its first steps, and a fixed decay would keep
    ``decay ** step`` of the random initialisation in the average (13 % after 200 steps at 0.99: the demo's quick
    budget). Past step ``(10 * decay - 1) / (1 - decay)`` (890 at 0.99) it is the fixed decay.
    """
    return min(decay, (1 + step) / (10 + step))


class CollaborativeSRModel(ProbdegBaseModel):
    """K SR networks trained on K synthetic LR domains and on real LR with pseudo-labels (Eq. 4-6)."""

    def __init__(self, opt: dict) -> None:
        super().__init__(opt)
        net_opts = opt["network_sr"]
        if isinstance(net_opts, dict):
            net_opts = [net_opts] * int(opt.get("num_models", len(opt.get("degradations") or [1])))
        self.num_models = len(net_opts)
        self.nets = []
        for i, net_opt in enumerate(net_opts):
            self.network_options[f"net_sr{i}"] = net_opt
            self.nets.append(self.model_to_device(build_network(net_opt)))
            self.print_network(self.nets[-1])  # logs "DistributedDataParallel - <arch>" for each model under DDP
        self._load_initial_weights()
        ema_decay = float((opt.get("train") or {}).get("ema_decay", 0) or 0)
        self.ema_decay = ema_decay
        self.nets_ema = [copy.deepcopy(self.get_bare_model(n)).eval().requires_grad_(False) for n in self.nets] \
            if ema_decay > 0 else []
        resume = opt["path"].get("resume_state")
        for i, ema in enumerate(self.nets_ema):
            if resume:  # the averaged weights sit beside the raw ones, under params_ema
                self.load_network(ema, os.path.join(opt["path"]["models"], f"net_sr{i}_{Path(resume).stem}.pth"),
                                  True, "params_ema")
        if self.is_train:
            self.init_training_settings()

    # ------------------------------------------------------------------------------------------------ set-up
    def _load_initial_weights(self) -> None:
        paths = self.opt["path"]
        resume = paths.get("resume_state")
        if resume:
            iteration = Path(resume).stem
            for i, net in enumerate(self.nets):
                self.load_network(net, os.path.join(paths["models"], f"net_sr{i}_{iteration}.pth"), True, "params")
            return
        init = paths.get("pretrain_network_sr")
        if init is None:
            return
        # One file for every model (a common pretrained init), or one per model (e.g. testing trained models).
        files = list(init) if isinstance(init, (list, tuple)) else [init] * self.num_models
        if len(files) != self.num_models:
            raise ValueError(f"path.pretrain_network_sr lists {len(files)} files for {self.num_models} models")
        for net, path in zip(self.nets, files):
            if not Path(path).is_file():
                raise FileNotFoundError(f"path.pretrain_network_sr: {path} not found. Put the SR weights there (e.g. "
                                        "ESRGAN's PSNR-oriented RRDB, ESRGAN_PSNR_SRx4_DF2K_official-150ff491.pth) or "
                                        "set it to ~ to start from random weights")
            self.load_network(net, path, paths.get("strict_load_sr", True), paths.get("param_key_sr", "params"))

    def init_training_settings(self) -> None:
        train_opt = self.opt["train"]
        for net in self.nets:
            net.train()
        collab = CollabOptions.read(self.opt.get("collab"), "collab")
        self.weights = CollabWeights(sup=collab.lambda_sup, col=collab.lambda_col, ada=collab.lambda_ada,
                                     clamp=collab.clamp)
        self.total_progress = collab.total_progress or int(train_opt["total_iter"])
        self.autocast = autocast_dtype(train_opt.get("autocast"), self.device)
        self.use_real_lr = collab.use_real_lr
        self.sources = self._build_sources()
        if len(self.sources) != self.num_models:
            raise ValueError(f"degradations has {len(self.sources)} entries for {self.num_models} SR models")
        optim_opt = dict(train_opt["optim_sr"])
        optim_type, lr = optim_opt.pop("type"), float(optim_opt.pop("lr"))
        self.optimizers = [self.get_optimizer(optim_type, net.parameters(), lr, **optim_opt) for net in self.nets]
        self.setup_schedulers()

    def _build_sources(self) -> list[list[Synthesise]]:
        """Each entry's sources, built; their draws are seeded by the run's seed and the rank."""
        seed = stable_seed("probdeg.collab.sources", self.opt.get("manual_seed"), self.opt.get("rank", 0))
        scale = int(self.opt["scale"])
        entries = read_degradations(self.opt["degradations"])
        return [[source.build(SourceBuild(self.device, scale, seed, f"degradations[{i}][{j}]"))
                 for j, source in enumerate(entry)] for i, entry in enumerate(entries)]

    # ------------------------------------------------------------------------------------------------ training
    def feed_data(self, data: dict) -> None:
        self.data = data
        if "lq" in data:
            self.lq = data["lq"].to(self.device)
        if "gt" in data:
            self.gt = data["gt"].to(self.device)
        if "hr" in data:
            self.hr = data["hr"].to(self.device)
            self.real_lr = data["real_lr"].to(self.device) if self.use_real_lr and "real_lr" in data else None

    def _synthesise(self, sources: list[Synthesise], iteration: int = 0) -> torch.Tensor:
        batches = [make(self.hr, self.data, iteration) for make in sources]
        if len(batches) == 1:
            return batches[0]
        # The naive combination: each sample takes its LR from one source, drawn uniformly.
        choice = torch.randint(len(batches), (self.hr.shape[0],), device=self.device)
        stacked = torch.stack(batches)
        return stacked[choice, torch.arange(self.hr.shape[0], device=self.device)]

    def optimize_parameters(self, current_iter: int) -> None:
        synthetic = [self._synthesise(sources, current_iter) for sources in self.sources]
        # Skips the step on a non-finite loss.
        losses = collaborative_step(self.nets, self.optimizers, synthetic, self.hr, self.real_lr, current_iter,
                                    self.total_progress, self.weights, autocast=self.autocast)
        if not self.loss_is_finite(torch.stack(losses.total).sum().detach(), "collaborative", current_iter):
            return
        # Averaged over the ranks under DDP (BasicSR's reduce), so the log shows the global batch's losses.
        self.log_dict = self.reduce_loss_dict(OrderedDict(
            (key, torch.tensor(value, device=self.device)) for key, value in losses.as_dict().items()))
        if self.ema_decay > 0:
            self._update_ema(ema_decay_at(self.ema_decay, current_iter))

    @torch.no_grad()
    def _update_ema(self, decay: float) -> None:
        for net, ema in zip(self.nets, self.nets_ema):
            for p_ema, p in zip(ema.parameters(), self.get_bare_model(net).parameters()):
                p_ema.mul_(decay).add_(p, alpha=1 - decay)

    # ------------------------------------------------------------------------------------------------ inference
    def inference_nets(self) -> list:
        return self.nets_ema if self.nets_ema else [self.get_bare_model(n) for n in self.nets]

    @torch.no_grad()
    def test(self) -> None:
        nets = self.inference_nets()
        modes = [n.training for n in nets]
        for n in nets:
            n.eval()
        self.outputs = [n(self.lq) for n in nets]
        self.output = torch.stack(self.outputs).mean(0)
        for n, mode in zip(nets, modes):
            n.train(mode)

    def get_current_visuals(self) -> OrderedDict:
        visuals = OrderedDict(lq=self.lq.detach().cpu(), result=self.output.detach().cpu())
        if hasattr(self, "gt"):
            visuals["gt"] = self.gt.detach().cpu()
        return visuals

    def nondist_validation(self, dataloader, current_iter, tb_logger, save_img) -> None:
        """PSNR / SSIM (BasicSR's metrics, RGB, ``val.crop_border``) of each model and of the ensemble mean."""
        dataset_name = dataloader.dataset.opt["name"]
        crop = ValOptions.read(self.opt.get("val"), "val").crop_border
        crop = int(self.opt.get("scale", 4)) if crop is None else crop
        names = [f"sr{i}" for i in range(self.num_models)] + ["ensemble"]
        sums = {f"{metric}_{name}": 0.0 for name in names for metric in ("psnr", "ssim")}
        count = 0
        for data in dataloader:
            self.feed_data(data)
            self.test()
            gt = tensor2img([self.gt.detach().cpu()])
            for name, out in zip(names, [*self.outputs, self.output]):
                img = tensor2img([out.detach().cpu()])
                sums[f"psnr_{name}"] += calculate_psnr(img, gt, crop_border=crop)
                sums[f"ssim_{name}"] += calculate_ssim(img, gt, crop_border=crop)
            if save_img:
                stem = Path(data["lq_path"][0]).stem
                imwrite(tensor2img([self.output.detach().cpu()]),
                        os.path.join(self.opt["path"]["visualization"], dataset_name, f"{stem}_{current_iter}.png"))
            count += 1
        self.metric_results = {key: value / max(count, 1) for key, value in sums.items()}
        self.log_validation(dataset_name, current_iter, tb_logger)

    def save(self, epoch: int, current_iter: int) -> None:
        for i, net in enumerate(self.nets):
            self.save_network(net, f"net_sr{i}", current_iter, ema=self.nets_ema[i] if self.nets_ema else None)
        self.save_training_state(epoch, current_iter)
