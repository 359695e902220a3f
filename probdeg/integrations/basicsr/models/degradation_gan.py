"""``DegradationGANModel``: stage 1, a degradation generator trained against a frequency-separated discriminator
on unpaired data, with the recipe of DASR (the paper's code base)."""

from __future__ import annotations

from collections import OrderedDict

import torch
from basicsr.losses import build_loss
from basicsr.utils import get_root_logger

from ....build import build_network
from ....io import write_image
from ....losses import ColorLoss, LPIPSLoss, alexnet_weights_path
from ....metrics import high_frequency_distance, psnr, sample_diversity
from ....wrapper import param_groups
from .base import ProbdegBaseModel


class DegradationGANModel(ProbdegBaseModel):
    """Trains ``network_g`` (any registered arch, wrapped or not) against ``network_d`` (an FSDiscriminator).

    Data: ``hr`` crops, their MATLAB-bicubic ``hr_bicubic`` references and unpaired ``real_lr`` crops.
    Losses (``train``): ``color_opt`` (low frequencies vs bicubic), ``gan_opt`` (BasicSR ``GANLoss`` on D's
    high-pass view), ``perceptual_opt`` (LPIPS vs bicubic; weight 0 turns it off). Optimisers: ``optim_g`` (with
    ``injection_lr`` for the latent parameters) and ``optim_d``.
    """

    def __init__(self, opt: dict) -> None:
        super().__init__(opt)
        self.network_options["net_g"] = opt["network_g"]
        self.net_g = self.model_to_device(build_network(opt["network_g"]))
        self.print_network(self.net_g)
        load_path = opt["path"].get("pretrain_network_g")
        if load_path is not None:
            self.load_network(self.net_g, load_path, opt["path"].get("strict_load_g", True),
                              opt["path"].get("param_key_g", "params"))
        val_opt = opt.get("val") or {}
        self.val_samples = int(val_opt.get("num_samples", 3))
        if self.is_train:
            self.init_training_settings()

    # ------------------------------------------------------------------------------------------------ set-up
    def init_training_settings(self) -> None:
        train_opt = self.opt["train"]
        self.network_options["net_d"] = self.opt["network_d"]
        self.net_d = self.model_to_device(build_network(self.opt["network_d"]))
        self.print_network(self.net_d)
        load_path = self.opt["path"].get("pretrain_network_d")
        if load_path is not None:
            self.load_network(self.net_d, load_path, self.opt["path"].get("strict_load_d", True), "params")
        self.net_g.train()
        self.net_d.train()
        d_filter = self.get_bare_model(self.net_d).filter
        color_opt = dict(train_opt.get("color_opt") or {"loss_weight": 1.0})
        self.color_weight = float(color_opt.get("loss_weight", 1.0))
        self.cri_color = ColorLoss(d_filter.kind, d_filter.kernel_size).to(self.device)
        gan_opt = dict(train_opt.get("gan_opt") or {"type": "GANLoss", "gan_type": "vanilla", "loss_weight": 0.005})
        gan_opt.setdefault("type", "GANLoss")
        self.cri_gan = build_loss(gan_opt).to(self.device)
        perceptual_opt = dict(train_opt.get("perceptual_opt") or {"loss_weight": 0.0})
        self.perceptual_weight = float(perceptual_opt.get("loss_weight", 0.0))
        self.cri_perceptual = LPIPSLoss(perceptual_opt.get("weights")).to(self.device) \
            if self.perceptual_weight > 0 else None
        self.setup_optimizers()
        self.setup_schedulers()

    def setup_optimizers(self) -> None:
        train_opt = self.opt["train"]
        optim_g = dict(train_opt["optim_g"])
        g_type, g_lr = optim_g.pop("type"), float(optim_g.pop("lr"))
        injection_lr = optim_g.pop("injection_lr", None)
        groups = param_groups(self.net_g, g_lr, None if injection_lr is None else float(injection_lr))
        self.optimizer_g = self.get_optimizer(g_type, groups, g_lr, **optim_g)
        optim_d = dict(train_opt["optim_d"])
        d_type, d_lr = optim_d.pop("type"), float(optim_d.pop("lr"))
        self.optimizer_d = self.get_optimizer(d_type, self.net_d.parameters(), d_lr, **optim_d)
        self.optimizers = [self.optimizer_g, self.optimizer_d]

    # ------------------------------------------------------------------------------------------------ training
    def feed_data(self, data: dict) -> None:
        self.hr = data["hr"].to(self.device)
        self.hr_bicubic = data["hr_bicubic"].to(self.device)
        self.real_lr = data["real_lr"].to(self.device) if "real_lr" in data else None

    def optimize_parameters(self, current_iter: int) -> None:
        loss_dict = OrderedDict()
        self.net_d.requires_grad_(False)
        self.optimizer_g.zero_grad(set_to_none=True)
        fake = self.net_g(self.hr)
        l_color = self.color_weight * self.cri_color(fake, self.hr_bicubic)
        l_gan = self.cri_gan(self.net_d(fake), True, is_disc=False)
        l_g = l_color + l_gan
        loss_dict["l_g_color"], loss_dict["l_g_gan"] = l_color.detach(), l_gan.detach()
        if self.cri_perceptual is not None:
            l_percep = self.perceptual_weight * self.cri_perceptual(fake, self.hr_bicubic)
            l_g = l_g + l_percep
            loss_dict["l_g_percep"] = l_percep.detach()
        if self.loss_is_finite(l_g, "generator", current_iter):
            l_g.backward()
            self.optimizer_g.step()

        self.net_d.requires_grad_(True)
        self.optimizer_d.zero_grad(set_to_none=True)
        real_logits = self.net_d(self.real_lr)
        fake_logits = self.net_d(fake.detach())
        l_d_real = self.cri_gan(real_logits, True, is_disc=True)
        l_d_fake = self.cri_gan(fake_logits, False, is_disc=True)
        l_d = l_d_real + l_d_fake
        loss_dict["l_d_real"], loss_dict["l_d_fake"] = l_d_real.detach(), l_d_fake.detach()
        loss_dict["out_d_real"], loss_dict["out_d_fake"] = real_logits.detach().mean(), fake_logits.detach().mean()
        if self.loss_is_finite(l_d, "discriminator", current_iter):
            l_d.backward()
            self.optimizer_d.step()
        self.log_dict = self.reduce_loss_dict(loss_dict)

    def save(self, epoch: int, current_iter: int) -> None:
        self.save_network(self.net_g, "net_g", current_iter)
        self.save_network(self.net_d, "net_d", current_iter)
        self.save_training_state(epoch, current_iter)

    # ------------------------------------------------------------------------------------------------ validation
    def dist_validation(self, dataloader, current_iter, tb_logger, save_img) -> None:
        if self.opt["rank"] == 0:
            self.nondist_validation(dataloader, current_iter, tb_logger, save_img)

    @torch.no_grad()
    def nondist_validation(self, dataloader, current_iter, tb_logger, save_img) -> None:
        """Figures on the validation images (HR, optional paired LR, real LR):

        - ``psnr_lr``: PSNR of G(HR) against the paired LR (when the dataset has one);
        - ``realism_lpips``: LPIPS(G(HR), paired LR) when the AlexNet weights exist (images of 32 px and more),
          else ``realism_hf``, the weight-free high-frequency statistics distance between G(HR) and the real LR
          (lower is better for both);
        - ``diversity``: mean pairwise L1 of ``val.num_samples`` samples per HR (0 = deterministic);
        - ``psnr_vs_bicubic``: PSNR of G(HR) against plain bicubic; very high values mean G collapsed to bicubic.
        """
        net_g = self.get_bare_model(self.net_g)
        was_training = net_g.training
        net_g.eval()
        sums: dict[str, float] = {}
        counts: dict[str, int] = {}
        generated, real = [], []
        dataset_name = dataloader.dataset.opt["name"] if hasattr(dataloader.dataset, "opt") else "val"
        for index, data in enumerate(dataloader):
            hr = data["hr"].to(self.device)
            samples = self._samples(net_g, hr).clamp(0, 1)
            first = samples[:, 0]
            figures = {"psnr_vs_bicubic": psnr(first, data["hr_bicubic"].to(self.device)).mean()}
            if samples.shape[1] > 1:
                figures["diversity"] = sample_diversity(samples)
            if "lr" in data:
                figures["psnr_lr"] = psnr(first, data["lr"].to(self.device)).mean()
                if self.cri_perceptual_val is not None and min(first.shape[-2:]) >= 32:  # AlexNet's smallest input
                    figures["realism_lpips"] = self.cri_perceptual_val(first, data["lr"].to(self.device))
            generated.append(first.cpu())
            if "real_lr" in data:
                real.append(data["real_lr"])
            for key, value in figures.items():
                sums[key] = sums.get(key, 0.0) + float(value)
                counts[key] = counts.get(key, 0) + 1
            if save_img and index < 8:
                name = f"{index:03d}_{current_iter}"
                write_image(f"{self.opt['path']['visualization']}/{dataset_name}/{name}_samples.png",
                            torch.cat(list(samples[0]), dim=-1))
        self.metric_results = {key: sums[key] / counts[key] for key in sums}
        if real and "realism_lpips" not in self.metric_results:
            self.metric_results["realism_hf"] = float(high_frequency_distance(generated, real))
        self._log_metrics(dataset_name, current_iter, tb_logger)
        net_g.train(was_training)

    @property
    def cri_perceptual_val(self):
        """LPIPS for the realism figure: the training loss's when loaded, else loaded once if its weights exist."""
        if getattr(self, "cri_perceptual", None) is not None:
            return self.cri_perceptual
        if not hasattr(self, "_lpips_val"):
            weights = ((self.opt.get("train") or {}).get("perceptual_opt") or {}).get("weights")
            self._lpips_val = LPIPSLoss(weights).to(self.device) if alexnet_weights_path(weights).is_file() else None
        return self._lpips_val

    def _samples(self, net_g, hr: torch.Tensor) -> torch.Tensor:
        if hasattr(net_g, "injections") and self.val_samples > 1:
            return net_g(hr, n_samples=self.val_samples, seed=0)
        return net_g(hr).unsqueeze(1)

    def _log_metrics(self, dataset_name: str, current_iter: int, tb_logger) -> None:
        text = ", ".join(f"{key}: {value:.4f}" for key, value in self.metric_results.items())
        get_root_logger().info(f"Validation {dataset_name} (iter {current_iter}): {text}")
        if tb_logger:
            for key, value in self.metric_results.items():
                tb_logger.add_scalar(f"metrics/{dataset_name}/{key}", value, current_iter)

