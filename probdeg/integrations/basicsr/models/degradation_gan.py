"""``DegradationGANModel``: stage 1, a degradation generator trained against a frequency-separated discriminator
on unpaired data, with the recipe of DASR (the paper's code base)."""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from typing import Optional

import torch
from basicsr.losses import build_loss
from basicsr.utils import get_root_logger

from ....filters import LowPass
from ....io import write_image
from ....losses import ColorLoss, DiversityLoss, LPIPSLoss, alexnet_weights_path
from ....metrics import degradation as metrics
from ....metrics.image import psnr_float
from ....runtime import autocast_dtype, in_precision
from ....stage1 import GeneratorLossWeights, discriminator_loss, generator_loss
from ....wrapper import param_groups
from ..archs import build_network
from ..schema import DiversityOptions, GANLossOptions, LossWeightOptions, PerceptualOptions, ValOptions
from .base import ProbdegBaseModel


class DegradationGANModel(ProbdegBaseModel):
    """Trains ``network_g`` (any registered arch, wrapped or not) against ``network_d`` (an FSDiscriminator).

    Data: ``hr`` crops, their MATLAB-bicubic ``hr_bicubic`` references and unpaired ``real_lr`` crops. The losses are
    :mod:`probdeg.stage1`'s, with the sections of ``train`` (:mod:`probdeg.integrations.basicsr.schema`):
    ``color_opt``, ``gan_opt`` (BasicSR's ``GANLoss`` on D's high-pass view), ``perceptual_opt`` (LPIPS; weight 0
    turns it off) and ``diversity_opt`` (off by default, as released). Optimisers: ``optim_g`` (with ``injection_lr``
    for the latent parameters) and ``optim_d``. ``autocast`` (``off``, ``bf16`` or ``auto``): G's and D's forwards
    in bfloat16 where the hardware computes it natively, the losses in float32 (:func:`probdeg.runtime.in_precision`).
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
        self.val_samples = ValOptions.read(opt.get("val"), "val").num_samples
        self._real_noise_level: Optional[float] = None
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
        self.autocast = autocast_dtype(train_opt.get("autocast"), self.device)
        # G and D as the training step calls them: in that precision, their outputs float32 for the losses.
        self.generate, self.judge = in_precision(self.net_g, self.autocast), in_precision(self.net_d, self.autocast)
        d_filter = self.get_bare_model(self.net_d).filter
        color = LossWeightOptions.read(train_opt.get("color_opt"), "train:color_opt")
        self.cri_color = ColorLoss(d_filter.kind, d_filter.kernel_size).to(self.device)
        gan = GANLossOptions.read(train_opt.get("gan_opt"), "train:gan_opt")
        self.cri_gan = build_loss(dataclasses.asdict(gan)).to(self.device)
        perceptual = PerceptualOptions.read(train_opt.get("perceptual_opt"), "train:perceptual_opt")
        self.perceptual_target = perceptual.target
        self.cri_perceptual = LPIPSLoss(perceptual.weights).to(self.device) if perceptual.loss_weight > 0 else None
        diversity = DiversityOptions.read(train_opt.get("diversity_opt"), "train:diversity_opt")
        self.cri_diversity = None
        if diversity.loss_weight > 0:
            tau = diversity.tau
            if tau is None:
                tau = diversity.tau_scale * metrics.gaussian_pair_distance(self.real_noise_level(diversity.real_images),
                                                                   d_filter)
            get_root_logger().info(f"Diversity term: weight {diversity.loss_weight:g}, tau {tau:.5f}"
                                   + ("" if diversity.tau is not None else
                                      f" (real LR noise level {self._real_noise_level:.5f})"))
            self.cri_diversity = DiversityLoss(d_filter, max(tau, 1e-8)).to(self.device)
        self.loss_weights = GeneratorLossWeights(color=color.loss_weight, gan=gan.loss_weight,
                                                 perceptual=perceptual.loss_weight, diversity=diversity.loss_weight)
        self.setup_optimizers()
        self.setup_schedulers()

    def real_noise_level(self, max_images: int = 32) -> float:
        """The real LR's noise level (:func:`probdeg.metrics.degradation.folder_noise_level` of the training set's
        ``dataroot_lr``), estimated once."""
        if self._real_noise_level is None:
            self._real_noise_level = metrics.folder_noise_level(self.opt["datasets"]["train"]["dataroot_lr"],
                                                        max_images=max_images)
        return self._real_noise_level

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

    def _adversarial(self, logits: torch.Tensor, target_is_real: bool) -> torch.Tensor:
        # BasicSR's GANLoss weighs the generator's term itself (is_disc=False); stage1 weighs it: ask for it raw.
        return self.cri_gan(logits, target_is_real, is_disc=True)

    def optimize_parameters(self, current_iter: int) -> None:
        self.net_d.requires_grad_(False)
        self.optimizer_g.zero_grad(set_to_none=True)
        loss = generator_loss(self.generate, self.judge, self.hr, self.hr_bicubic, color=self.cri_color,
                              adversarial=self._adversarial, weights=self.loss_weights,
                              perceptual=self.cri_perceptual, perceptual_target=self.perceptual_target,
                              diversity=self.cri_diversity)
        if self.loss_is_finite(loss.total, "generator", current_iter):
            loss.total.backward()
            self.optimizer_g.step()

        self.net_d.requires_grad_(True)
        self.optimizer_d.zero_grad(set_to_none=True)
        l_d, d_terms = discriminator_loss(self.judge, self.real_lr, loss.sample, adversarial=self._adversarial)
        if self.loss_is_finite(l_d, "discriminator", current_iter):
            l_d.backward()
            self.optimizer_d.step()
        self.log_dict = self.reduce_loss_dict(OrderedDict({**loss.terms, **d_terms}))

    def save(self, epoch: int, current_iter: int) -> None:
        self.save_network(self.net_g, "net_g", current_iter)
        self.save_network(self.net_d, "net_d", current_iter)
        self.save_training_state(epoch, current_iter)

    # ------------------------------------------------------------------------------------------------ validation
    @torch.no_grad()
    def nondist_validation(self, dataloader, current_iter, tb_logger, save_img) -> None:
        """Figures on the validation images (HR, optional paired LR, unpaired real LR), from ``val.num_samples``
        samples per HR image (:mod:`probdeg.metrics.degradation`):

        - ``noise_ratio``: the generated LR's noise level over the real LR's (1: the same);
        - ``rho``: the samples' spread over the real LR's noise level (0: the latents are ignored; about 1: the
          samples differ as two draws of the real noise would); ``diversity``: their mean pairwise L1;
        - ``patch_distance``: sliced Wasserstein distance between high-pass patches of generated and real LR (0: the
          same degradation); ``realism_lpips``: LPIPS to the paired LR, when the AlexNet weights exist (images of 32 px
          and more), else ``realism_hf``, the marginal high-frequency statistics distance;
        - ``psnr_vs_bicubic`` and ``color``: content fidelity (PSNR, and the low-frequency L1, against bicubic);
          very high PSNR means G collapsed to bicubic;
        - ``latent_strength``: the latents' mean learned noise standard deviation;
        - ``psnr_lr``: PSNR against the paired LR. A trap: two independent noise draws differ by twice the noise
          power, so a perfect stochastic generator scores about 3 dB *below* a collapsed one; never pick a
          checkpoint by it (probdeg keeps no "best" checkpoint; compare realism figures instead).
        """
        net_g = self.get_bare_model(self.net_g)
        was_training = net_g.training
        net_g.eval()
        sums: dict[str, float] = {}
        counts: dict[str, int] = {}
        generated, real, all_samples = [], [], []
        dataset_name = dataloader.dataset.opt["name"] if hasattr(dataloader.dataset, "opt") else "val"
        low_pass = LowPass("wavelet")
        for index, data in enumerate(dataloader):
            hr = data["hr"].to(self.device)
            bicubic = data["hr_bicubic"].to(self.device)
            samples = self._samples(net_g, hr).clamp(0, 1)
            first = samples[:, 0]
            figures = {"psnr_vs_bicubic": psnr_float(first, bicubic).mean(),
                       "color": (low_pass(first) - low_pass(bicubic)).abs().mean()}
            if samples.shape[1] > 1:
                figures["diversity"] = metrics.sample_diversity(samples)
                all_samples.append(samples.cpu())
            if "lr" in data:
                figures["psnr_lr"] = psnr_float(first, data["lr"].to(self.device)).mean()
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
        if real:
            figures = realism_figures(generated, real, all_samples)
            if "realism_lpips" in self.metric_results:
                figures.pop("realism_hf")  # the weight-free stand-in for LPIPS is not needed then
            self.metric_results.update(figures)
        self.metric_results["latent_strength"] = metrics.mean_strength(metrics.latent_strengths(net_g))
        self.log_validation(dataset_name, current_iter, tb_logger)
        net_g.train(was_training)

    @property
    def cri_perceptual_val(self):
        """LPIPS for the realism figure: the training loss's when loaded, else loaded once if its weights exist."""
        if getattr(self, "cri_perceptual", None) is not None:
            return self.cri_perceptual
        if not hasattr(self, "_lpips_val"):
            weights = PerceptualOptions.read((self.opt.get("train") or {}).get("perceptual_opt"),
                                             "train:perceptual_opt").weights
            self._lpips_val = LPIPSLoss(weights).to(self.device) if alexnet_weights_path(weights).is_file() else None
        return self._lpips_val

    def _samples(self, net_g, hr: torch.Tensor) -> torch.Tensor:
        if hasattr(net_g, "injections") and self.val_samples > 1:
            return net_g(hr, n_samples=self.val_samples, seed=0)
        return net_g(hr).unsqueeze(1)


def realism_figures(generated: list[torch.Tensor], real: list[torch.Tensor],
                    samples: list[torch.Tensor]) -> dict[str, float]:
    """``realism_hf``, ``patch_distance``, ``noise_ratio`` and (with several samples) ``rho`` of generated LR images
    against unpaired real LR images; figures that need larger images than these are left out."""
    figures = {"realism_hf": float(metrics.high_frequency_distance(generated, real))}
    try:
        real_level = float(torch.cat([metrics.noise_level(x) for x in real]).median())
        generated_level = float(torch.cat([metrics.noise_level(x) for x in generated]).median())
        figures["noise_ratio"] = generated_level / max(real_level, 1e-8)
        if samples:
            figures["rho"] = float(torch.stack([metrics.diversity_ratio(s, real_level) for s in samples]).mean())
        figures["patch_distance"] = float(metrics.patch_distance(generated, real))
    except ValueError:  # images under 16 pixels: no noise level, no patches
        pass
    return figures
