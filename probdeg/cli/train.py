"""``probdeg train -opt FILE``: train from a BasicSR option file (same as integrations/basicsr/train.py)."""

from __future__ import annotations

import argparse

from ..integrations.basicsr.pipeline import add_train_arguments

HELP = "train from a BasicSR option file (degradation GAN or SR models); experiments go under ./experiments"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_train_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from ..integrations.basicsr.pipeline import train

    train(args)
    return 0
