"""Stage 1 in plain PyTorch: the losses that train a degradation generator G against a discriminator D that sees
only high frequencies (DASR's recipe, the paper's code base), with an optional diversity term.

For an HR batch ``y``, its bicubic reference ``y_b`` and unpaired real LR crops ``x``::

    L_G = w_color * L1(LowPass(G(y)), LowPass(y_b))          colour: low frequencies follow the reference
        + w_gan * adversarial(D(G(y)), real)                 texture: high frequencies look like the real LR's
        + w_perceptual * LPIPS(target, y_b)                  optional; target = the sample, its low-pass, or the
                                                             mean of two samples (so that it stops fighting noise)
        + w_diversity * -min(mean |HP(G(y, z1)) - HP(G(y, z2))|, tau)   optional; z2's sample has no gradient
    L_D = adversarial(D(x), real) + adversarial(D(G(y).detach()), fake)

:class:`DegradationGAN` runs the whole step with its own optimisers, for training loops of any codebase; the
BasicSR model (``DegradationGANModel``) calls :func:`generator_loss` and :func:`discriminator_loss` inside BasicSR's
life cycle. The adversarial loss is a callable ``adversarial(logits, target_is_real) -> loss`` (unweighted);
:func:`vanilla_gan_loss` is DASR's default.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable, Literal, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .archs import FSDiscriminator
from .filters import LowPass, bicubic_downscale
from .losses import ColorLoss, DiversityLoss
from .runtime import in_precision
from .unpaired_data import UnpairedImageDataset
from .wrapper import param_groups

Adversarial = Callable[[Tensor, bool], Tensor]
PerceptualTarget = Literal["sample", "lowpass", "mean"]
PERCEPTUAL_TARGETS = ("sample", "lowpass", "mean")


def vanilla_gan_loss(logits: Tensor, target_is_real: bool) -> Tensor:
    """Binary cross-entropy on raw logits against all-real or all-fake labels (the vanilla GAN of DASR / BasicSR)."""
    target = torch.ones_like(logits) if target_is_real else torch.zeros_like(logits)
    return F.binary_cross_entropy_with_logits(logits, target)


@dataclass(frozen=True)
class GeneratorLossWeights:
    """Weights of the generator's terms (DASR's defaults; the diversity term off, as in the released recipe)."""

    color: float = 1.0
    gan: float = 0.005
    perceptual: float = 0.0
    diversity: float = 0.0


@dataclass
class GeneratorLoss:
    """One generator step's loss: ``total`` to minimise, its ``terms`` (detached), the ``sample`` G made (to
    judge in D's step) and the second sample (``None`` when no term needed one)."""

    total: Tensor
    terms: dict[str, Tensor]
    sample: Tensor
    other: Optional[Tensor]


def generator_loss(
    G: Callable[[Tensor], Tensor], D: Callable[[Tensor], Tensor], hr: Tensor, reference: Tensor, *, color: ColorLoss,
    adversarial: Adversarial, weights: GeneratorLossWeights = GeneratorLossWeights(),
    perceptual: Optional[nn.Module] = None, perceptual_target: PerceptualTarget = "sample",
    diversity: Optional[DiversityLoss] = None,
) -> GeneratorLoss:
    """The generator's loss on one batch (see the module doc). D should not require gradients meanwhile.

    Args:
        G: the generator (any callable HR -> LR).
        D: the discriminator (raw logits).
        hr: HR crops.
        reference: their bicubic LR.
        color: the colour loss (the low-pass of D's filter).
        adversarial: ``adversarial(logits, target_is_real)``, unweighted.
        weights: the terms' weights.
        perceptual: LPIPS-like ``perceptual(x, y)``; needed when ``weights.perceptual > 0``.
        perceptual_target: compare the sample itself (DASR), its low-pass (the Gaussian of D's kernel size, same
            size), or the mean of two samples (the noise averages down) with the reference.
        diversity: needed when ``weights.diversity > 0``.

    Shape:
        hr: (B, C, H, W); reference: (B, C, H / s, W / s).
    """
    if perceptual_target not in PERCEPTUAL_TARGETS:
        raise ValueError(f"perceptual_target must be one of {PERCEPTUAL_TARGETS}, got {perceptual_target!r}")
    if weights.perceptual > 0 and perceptual is None:
        raise ValueError("weights.perceptual > 0 needs a perceptual loss module")
    if weights.diversity > 0 and diversity is None:
        raise ValueError("weights.diversity > 0 needs a DiversityLoss")
    fake = G(hr)
    other = None
    if weights.diversity > 0 or (weights.perceptual > 0 and perceptual_target == "mean"):
        with torch.no_grad():
            other = G(hr)
    terms = {"l_g_color": weights.color * color(fake, reference),
             "l_g_gan": weights.gan * adversarial(D(fake), True)}
    if weights.perceptual > 0:
        target, compared = fake, reference
        if perceptual_target == "lowpass":
            low = LowPass("gau", color.low_pass.kernel_size).to(fake.device)
            target, compared = low(fake), low(reference)
        elif perceptual_target == "mean":
            target = (fake + other) * 0.5
        terms["l_g_percep"] = weights.perceptual * perceptual(target, compared)
    if weights.diversity > 0:
        terms["l_g_div"] = weights.diversity * diversity(fake, other)
    total = torch.stack(list(terms.values())).sum()
    return GeneratorLoss(total, {k: v.detach() for k, v in terms.items()}, fake, other)


def discriminator_loss(D: Callable[[Tensor], Tensor], real_lr: Tensor, fake: Tensor, *,
                       adversarial: Adversarial) -> tuple[Tensor, dict[str, Tensor]]:
    """D's loss: real LR crops judged real, the generator's (detached) samples judged fake.

    Returns:
        The loss to minimise, and its terms and D's mean logits (detached) for the log.
    """
    real_logits, fake_logits = D(real_lr), D(fake.detach())
    l_real, l_fake = adversarial(real_logits, True), adversarial(fake_logits, False)
    return l_real + l_fake, {"l_d_real": l_real.detach(), "l_d_fake": l_fake.detach(),
                             "out_d_real": real_logits.detach().mean(), "out_d_fake": fake_logits.detach().mean()}


class DegradationGAN:
    """A whole stage-1 step, for a training loop of any codebase: one G step, then one D step.

    Args:
        G: the generator (:class:`probdeg.Probabilistic` or any net).
        D: the discriminator; its ``filter`` attribute (an :class:`probdeg.filters.HighPass`, as
            :class:`probdeg.FSDiscriminator` has) gives the colour loss's low-pass and the diversity term's high-pass.
        lr: learning rate of both (DASR: 1e-4).
        injection_lr: learning rate of G's latent parameters (default ``lr``).
        betas: Adam's betas (DASR: 0.5, 0.999).
        weights: the generator's terms.
        diversity_tau: the diversity term's bound (see :func:`probdeg.metrics.gaussian_pair_distance`); needed when
            ``weights.diversity > 0``.
        perceptual: LPIPS-like module, when ``weights.perceptual > 0``.
        perceptual_target: see :func:`generator_loss`.
        adversarial: the adversarial loss (default :func:`vanilla_gan_loss`).
        input_transform: maps the HR batch to G's input (e.g. bicubic downscaling for a same-size generator);
            default: G takes the HR batch.
        autocast: run G's and D's forwards in this precision (e.g. ``torch.bfloat16``, see
            :func:`probdeg.runtime.in_precision`); weights, optimiser state and losses stay float32.

    Example:
        >>> gan = DegradationGAN(G, FSDiscriminator(), weights=GeneratorLossWeights(diversity=1.0),
        ...                      diversity_tau=0.01)
        >>> for batch in loader:
        ...     log = gan.step(batch["hr"], batch["hr_bicubic"], batch["real_lr"])
    """

    def __init__(self, G: nn.Module, D: nn.Module, *, lr: float = 1e-4, injection_lr: Optional[float] = None,
                 betas: tuple[float, float] = (0.5, 0.999), weights: GeneratorLossWeights = GeneratorLossWeights(),
                 diversity_tau: Optional[float] = None, perceptual: Optional[nn.Module] = None,
                 perceptual_target: PerceptualTarget = "sample", adversarial: Adversarial = vanilla_gan_loss,
                 input_transform: Optional[Callable[[Tensor], Tensor]] = None,
                 autocast: Optional[torch.dtype] = None) -> None:
        high_pass = getattr(D, "filter", None)
        if high_pass is None:
            raise ValueError("D needs a `filter` attribute (its HighPass), as FSDiscriminator has")
        self.G, self.D = G, D
        # A same-size generator (FSSR's) degrades the bicubic downscale of the HR crop: input_transform makes it.
        generate = in_precision(G, autocast)
        self.generate = generate if input_transform is None else (lambda hr: generate(input_transform(hr)))
        self.judge = in_precision(D, autocast)
        self.weights = weights
        self.color = ColorLoss(high_pass.kind, high_pass.kernel_size)
        self.diversity = None
        if weights.diversity > 0:
            if diversity_tau is None:
                raise ValueError("weights.diversity > 0 needs diversity_tau (the real noise's spread in D's view)")
            self.diversity = DiversityLoss(high_pass, diversity_tau)
        self.perceptual, self.perceptual_target, self.adversarial = perceptual, perceptual_target, adversarial
        self.optimizer_g = torch.optim.Adam(param_groups(G, lr, injection_lr), lr=lr, betas=betas)
        self.optimizer_d = torch.optim.Adam(D.parameters(), lr=lr, betas=betas)

    def step(self, hr: Tensor, reference: Tensor, real_lr: Tensor) -> Mapping[str, float]:
        """One G step and one D step; returns the loss terms as floats."""
        self.D.requires_grad_(False)
        self.optimizer_g.zero_grad(set_to_none=True)
        loss = generator_loss(self.generate, self.judge, hr, reference, color=self.color, adversarial=self.adversarial,
                              weights=self.weights, perceptual=self.perceptual,
                              perceptual_target=self.perceptual_target, diversity=self.diversity)
        loss.total.backward()
        self.optimizer_g.step()
        self.D.requires_grad_(True)
        self.optimizer_d.zero_grad(set_to_none=True)
        l_d, d_terms = discriminator_loss(self.judge, real_lr, loss.sample, adversarial=self.adversarial)
        l_d.backward()
        self.optimizer_d.step()
        return {key: float(value) for key, value in {**loss.terms, **d_terms}.items()}


def train_degradation(
    G: nn.Module, hr_folders: Any, lr_folders: Any, *, steps: int, crop: int = 64, batch_size: int = 8,
    scale: int = 4, seed: int = 0, D: Optional[nn.Module] = None, input_transform: Optional[Callable] = None,
    log_every: Optional[int] = None, log: Callable[[str], None] = print, **gan_options: Any,
) -> DegradationGAN:
    """Stage 1 from two unpaired folders, in plain PyTorch: ``steps`` of :class:`DegradationGAN` on random crops.

    Args:
        G: the generator to train (in place).
        hr_folders: clean HR images (a folder or a list).
        lr_folders: real LR images, unpaired with them.
        steps: G and D steps.
        crop: HR crop side; real LR crops are ``crop / scale``.
        batch_size: crops per step.
        scale: the down-sampling factor.
        seed: seed of the crops (the nets' initialisation is the caller's).
        D: the discriminator (default ``FSDiscriminator(num_feat=32)``).
        input_transform: see :class:`DegradationGAN`.
        log_every: log the losses every this many steps (default a tenth of ``steps``); ``log`` prints them.
        gan_options: more :class:`DegradationGAN` arguments (``lr``, ``injection_lr``, ``weights``,
            ``diversity_tau``, ...).

    Returns:
        The trained :class:`DegradationGAN` (its ``G`` and ``D``).
    """
    from torch.utils.data import DataLoader

    # Crops are random, so an epoch's length is only how often the loader reshuffles.
    dataset = UnpairedImageDataset(hr_folders, lr_folders, crop_size=crop, scale=scale, length=16 * batch_size,
                                   seed=seed)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, drop_last=True, num_workers=0,
                        generator=torch.Generator().manual_seed(seed))
    gan = DegradationGAN(G, D if D is not None else FSDiscriminator(num_feat=32), input_transform=input_transform,
                         **gan_options)
    G.train()
    gan.D.train()
    log_every = log_every or max(1, steps // 10)
    start, step = time.perf_counter(), 0
    while step < steps:
        for batch in loader:
            step += 1
            terms = gan.step(batch["hr"], bicubic_downscale(batch["hr"], scale), batch["real_lr"])
            if step % log_every == 0 or step == steps:
                log(f"step {step:4d}/{steps}  " + "  ".join(f"{k} {v:.4f}" for k, v in terms.items()))
            if step == steps:
                break
    log(f"trained {steps} steps in {time.perf_counter() - start:.1f} s")
    return gan
