"""Train a probabilistic degradation generator in plain PyTorch, without BasicSR.

    python examples/plain_pytorch_loop.py [--steps 100] [--hr CLEAN_HR_DIR --lr REAL_LR_DIR]

For users of other codebases: everything stage 1 needs is a few lines of PyTorch around probdeg's pieces.

- data: ``probdeg.data.UnpairedImageDataset`` gives random HR crops, each with a crop of an unrelated real LR image;
- generator: any HR -> LR net wrapped in ``probdeg.Probabilistic`` (here probdeg's ``DeResnet``);
- discriminator: ``probdeg.FSDiscriminator``, which judges only high frequencies (a wavelet high-pass);
- losses: ``probdeg.losses.ColorLoss`` ties the low frequencies to the bicubic downscale, a vanilla GAN loss
  (``F.binary_cross_entropy_with_logits``) pulls the high frequencies towards the real LR images.

Without ``--hr/--lr`` it trains on probdeg's sample task, written to a temporary folder. The other examples import
``unpaired_batches`` and ``train_degradation_gan`` from here. The last line confirms that BasicSR was not imported.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from _common import check_sampling, parse_args, unpaired_folders
from torch import Tensor, nn
from torch.utils.data import DataLoader

from probdeg import DeResnet, FSDiscriminator, Probabilistic, param_groups
from probdeg.losses import ColorLoss
from probdeg.unpaired_data import UnpairedImageDataset

SCALE = 4


def bicubic_down(hr: Tensor, scale: int = SCALE) -> Tensor:
    """Antialiased bicubic downscale: the content reference of ColorLoss, and the input of same-size generators.

    Shape:
        (B, C, H, W) -> (B, C, H // scale, W // scale).
    """
    size = (hr.shape[-2] // scale, hr.shape[-1] // scale)
    return F.interpolate(hr, size=size, mode="bicubic", align_corners=False, antialias=True)


def unpaired_batches(hr_folder: Path, lr_folder: Path, *, crop: int = 64, batch_size: int = 8,
                     seed: int = 0) -> Iterator[dict]:
    """Endless batches of ``{"hr": (B, 3, crop, crop), "real_lr": (B, 3, crop/4, crop/4), ...}`` in [0, 1]."""
    # Crops are random, so an epoch's length is only how often the loader reshuffles.
    dataset = UnpairedImageDataset(hr_folder, lr_folder, crop_size=crop, scale=SCALE, length=16 * batch_size,
                                   seed=seed)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, drop_last=True, num_workers=0)
    while True:
        yield from loader


def gan_loss(logits: Tensor, real: bool) -> Tensor:
    """The vanilla GAN loss on raw discriminator logits (one per pixel for FSDiscriminator)."""
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, float(real)))


def train_degradation_gan(
    G: nn.Module,
    batches: Iterator[dict],
    *,
    steps: int,
    to_input: Optional[Callable[[Tensor], Tensor]] = None,
    discriminator: Optional[nn.Module] = None,
    lr: float = 2e-4,
    injection_lr: float = 1e-2,
    gan_weight: float = 0.01,
    log_every: Optional[int] = None,
) -> nn.Module:
    """Stage 1 of MSSR in plain PyTorch: ``G`` learns to turn HR crops into realistic LR crops, from unpaired data.

    Args:
        G: the (probabilistic) generator, HR -> LR, or LR-sized input -> LR with ``to_input``.
        batches: iterator of dicts with ``"hr"`` and ``"real_lr"`` (see :func:`unpaired_batches`).
        steps: optimisation steps of G and of D.
        to_input: maps the HR batch to G's input (``bicubic_down`` for same-size generators); default: HR itself.
        discriminator: default ``FSDiscriminator(num_feat=32)``.
        lr: learning rate of the net and of the discriminator.
        injection_lr: learning rate of the latents. The released code uses ``lr``; a larger one makes the
            zero-initialised latents visibly active within the few steps of an example.
        gan_weight: weight of the adversarial term against ColorLoss (weight 1).
        log_every: print the losses every this many steps; default a tenth of ``steps``.

    Returns:
        The trained discriminator.
    """
    D = discriminator if discriminator is not None else FSDiscriminator(num_feat=32)
    color_loss = ColorLoss(filter="wavelet")  # the low-pass that matches D's high-pass: D and ColorLoss split the image
    opt_g = torch.optim.Adam(param_groups(G, lr=lr, injection_lr=injection_lr), betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))
    log_every = log_every or max(1, steps // 10)
    G.train()
    D.train()
    start = time.perf_counter()
    for step in range(1, steps + 1):
        batch = next(batches)
        hr, real_lr = batch["hr"], batch["real_lr"]
        fake_lr = G(to_input(hr) if to_input is not None else hr)

        # Generator: colour of the bicubic downscale (low frequencies), realism from D (high frequencies).
        D.requires_grad_(False)
        loss_color = color_loss(fake_lr, bicubic_down(hr))
        loss_adv = gan_loss(D(fake_lr), real=True)
        opt_g.zero_grad(set_to_none=True)
        (loss_color + gan_weight * loss_adv).backward()
        opt_g.step()

        # Discriminator: real LR crops against generated ones.
        D.requires_grad_(True)
        loss_d = gan_loss(D(real_lr), real=True) + gan_loss(D(fake_lr.detach()), real=False)
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()

        if step % log_every == 0 or step == steps:
            print(f"step {step:4d}/{steps}  color {loss_color.item():.4f}  g_adv {loss_adv.item():.4f}  "
                  f"d {loss_d.item():.4f}")
    print(f"trained {steps} steps in {time.perf_counter() - start:.1f} s")
    return D


def train_and_check(G: nn.Module, args, *, to_input: Optional[Callable[[Tensor], Tensor]] = None,
                    **train_options) -> None:
    """What every example does with its wrapped generator: print where the latents went, train it on the unpaired
    folders of ``args`` (``--hr/--lr`` or the sample task), then check that samples differ and the mean repeats."""
    print(G.summary())
    with unpaired_folders(args) as (hr_folder, lr_folder):
        batches = unpaired_batches(hr_folder, lr_folder, crop=args.crop, batch_size=args.batch_size, seed=args.seed)
        train_degradation_gan(G, batches, steps=args.steps, to_input=to_input, **train_options)
        hr = next(batches)["hr"][:4]
        check_sampling(G, to_input(hr) if to_input is not None else hr, seed=args.seed)


def main(argv: Optional[list[str]] = None) -> None:
    args = parse_args(__doc__, steps=100, argv=argv)
    torch.manual_seed(args.seed)
    # DeResnet declares its own injection points (before each residual block, as in the released MSSR code).
    train_and_check(Probabilistic(DeResnet(scale=SCALE, num_feat=32, num_blocks=4), sigma="channel"), args)
    print(f"basicsr imported: {'basicsr' in sys.modules}")


if __name__ == "__main__":
    main()
