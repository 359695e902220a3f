"""``probdeg summary``: where the latents of a probabilistic generator go, and what they cost."""

from __future__ import annotations

import argparse

import torch

from ..archs import DeResnet, StridedHAN
from ..wrapper import Probabilistic

HELP = "print the injection points and parameter counts of a probabilistic DeResnet or StridedHAN"
ARCHS = {"DeResnet": DeResnet, "StridedHAN": StridedHAN}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--arch", choices=sorted(ARCHS), default="DeResnet")
    parser.add_argument("--scale", type=int, default=4, choices=(2, 4))
    parser.add_argument("--num-feat", type=int, default=None, help="width (default: the arch's own)")
    parser.add_argument("--sigma", choices=("channel", "conditional"), default="channel")
    parser.add_argument("--std", type=float, default=0.1)
    parser.add_argument("--noise", choices=("shared", "per_channel"), default="shared")
    parser.add_argument("--at", nargs="+", default=None, help="injection point patterns (default: the released ones)")


def run(args: argparse.Namespace) -> int:
    options = {"scale": args.scale}
    if args.num_feat is not None:
        options["num_feat"] = args.num_feat
    with torch.device("meta") if args.arch == "StridedHAN" and (args.num_feat or 64) > 64 else torch.device("cpu"):
        net = ARCHS[args.arch](**options)
    G = Probabilistic(net, at=args.at, sigma=args.sigma, std=args.std, noise=args.noise,
                      example_input=torch.zeros(1, 3, 64, 64, device=next(net.parameters()).device))
    print(G.summary())
    print(f"net parameters: {sum(p.numel() for p in G.net_parameters()):,}")
    return 0
