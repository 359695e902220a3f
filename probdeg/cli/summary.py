"""``probdeg summary``: where the latents of a probabilistic generator go, and what they cost."""

from __future__ import annotations

import argparse

HELP = "print the injection points and parameter counts of a probabilistic DeResnet or StridedHAN"
ARCHS = ("DeResnet", "StridedHAN")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--arch", choices=ARCHS, default="DeResnet", help="the generator (default: DeResnet)")
    parser.add_argument("--scale", type=int, default=4, choices=(2, 4), help="down-sampling factor (default: 4)")
    parser.add_argument("--num-feat", type=int, default=None, help="width (default: the arch's own)")
    parser.add_argument("--sigma", choices=("channel", "conditional"), default="channel",
                        help="noise scale: per channel (released code) or feature dependent (default: channel)")
    parser.add_argument("--std", type=float, default=0.1, help="fixed noise std (default: 0.1)")
    parser.add_argument("--noise", choices=("shared", "per_channel"), default="shared",
                        help="one noise map for all channels, or one per channel (default: shared)")
    parser.add_argument("--at", nargs="+", default=None, help="injection point patterns (default: the released ones)")


def run(args: argparse.Namespace) -> int:
    import torch

    from ..errors import UserError
    from ..registry import ARCHS as TABLE
    from ..wrapper import Probabilistic

    options = {"scale": args.scale}
    if args.num_feat is not None:
        options["num_feat"] = args.num_feat
    try:  # the flags go straight to the net and the wrapper: their refusals are the user's to fix
        with torch.device("meta") if args.arch == "StridedHAN" and (args.num_feat or 64) > 64 else torch.device("cpu"):
            net = TABLE[args.arch](**options)
        G = Probabilistic(net, at=args.at, sigma=args.sigma, std=args.std, noise=args.noise,
                          example_input=torch.zeros(1, 3, 64, 64, device=next(net.parameters()).device))
    except ValueError as err:
        raise UserError(str(err).replace("num_feat ", "--num-feat ", 1)) from None
    print(G.summary())
    print(f"net parameters: {sum(p.numel() for p in G.net_parameters()):,}")
    return 0
