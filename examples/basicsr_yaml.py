"""One of BasicSR's own networks, made probabilistic purely through YAML options.

    python examples/basicsr_yaml.py [--steps 200] [--hr CLEAN_HR_DIR --lr REAL_LR_DIR]

The options below are what a BasicSR option file holds. ``network_g`` nests BasicSR's ``EDSR`` inside
``type: Probabilistic``; ``probdeg.integrations.basicsr.build_network`` resolves both names through BasicSR's
ARCH_REGISTRY (after ``import probdeg.integrations.basicsr`` has registered probdeg's archs there), with an error
that lists close names for a misspelt type.

BasicSR's networks are super-resolution nets: they upscale or keep the size, none downscales. The trick that turns
one into a x4 downscaler is FSSR's: ``upscale: 1`` makes EDSR a same-size net (its upsampler is then empty), and it
runs on the bicubic-downscaled HR image, so bicubic x1/4 followed by EDSR maps HR to LR. (``MSRResNet`` fails to
build with ``upscale: 1``; ``RRDBNet``'s ``scale: 1`` pixel-unshuffles and upsamples back, so it keeps the size too.)
A tensor cannot be written in YAML, so the points are found with the default 64x64 probe input: the summary shows
64x64 features, while in training EDSR runs on 16x16 bicubic-downscaled crops.
"""

from __future__ import annotations

import torch
import yaml
from _common import parse_args
from plain_pytorch_loop import bicubic_down, train_and_check

from probdeg.integrations.basicsr import build_network

OPTIONS = """
network_g:
  type: Probabilistic
  net: {type: EDSR, num_in_ch: 3, num_out_ch: 3, num_feat: 32, num_block: 4, upscale: 1, img_range: 1.0}
  at: [body.*, before:conv_last]   # before each residual block, and before the conv that outputs the image
  sigma: conditional
  mean_shift: true
  std: 0.1

network_d:
  type: FSDiscriminator
  filter: wavelet
  num_feat: 32

train:
  optim_g: {lr: !!float 2e-4, injection_lr: !!float 1e-2}   # latents at a higher lr, to move within a demo
  gan_weight: 0.01
"""


def main(argv: list[str] | None = None) -> None:
    args = parse_args(__doc__, steps=200, argv=argv)
    torch.manual_seed(args.seed)
    opt = yaml.safe_load(OPTIONS)
    G = build_network(opt["network_g"])
    D = build_network(opt["network_d"])
    train_opt = opt["train"]
    train_and_check(G, args, to_input=bicubic_down, discriminator=D, lr=train_opt["optim_g"]["lr"],
                    injection_lr=train_opt["optim_g"]["injection_lr"], gan_weight=train_opt["gan_weight"])


if __name__ == "__main__":
    main()
