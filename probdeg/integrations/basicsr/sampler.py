"""``ResumableSampler``: BasicSR's ``EnlargedSampler`` that can start an epoch part-way and keys items by epoch."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Union

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

Index = Union[int, tuple[int, int]]


class ResumableSampler(Sampler):
    """Shuffled, rank-strided indices over an enlarged dataset, like BasicSR's ``EnlargedSampler``.

    Each epoch is one permutation of ``ceil(len * ratio / world) * world`` positions (taken modulo the dataset
    length), seeded by ``(seed, epoch)`` alone, so it is the same for every rank and every world size; rank ``r``
    takes positions ``r, r + world, ...``. With 1 process and batch ``B * world`` the global batches are therefore
    those of ``world`` processes with batch ``B``.

    ``set_epoch(epoch, skip=n)`` drops this rank's first ``n`` indices of the epoch without loading them: a
    resumed run continues the data stream where the saved one stopped.

    When the dataset sets ``accepts_epoch_key = True`` the sampler yields ``(epoch, index)`` pairs, so the
    dataset can draw an item's crops and flips from ``(seed, epoch, index)`` instead of a per-process generator:
    the items then do not depend on the rank, the number of workers or a restart.

    Args:
        dataset: the training set.
        num_replicas: world size.
        rank: this process's rank.
        ratio: dataset enlarge ratio (positions per epoch = ratio * len(dataset), rounded up to the world size).
        seed: mixed with the epoch into the permutation's seed.
    """

    def __init__(self, dataset: Dataset, num_replicas: int, rank: int, ratio: int = 1, seed: int = 0) -> None:
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} is not in [0, {num_replicas})")
        self.dataset_size = len(dataset)
        self.num_replicas = num_replicas
        self.rank = rank
        self.seed = seed
        self.keyed = bool(getattr(dataset, "accepts_epoch_key", False))
        self.num_samples = math.ceil(self.dataset_size * ratio / num_replicas)
        self.total_size = self.num_samples * num_replicas
        self.epoch = 0
        self.skip = 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        """Select the epoch's permutation, leaving out this rank's first ``skip`` indices."""
        if not 0 <= skip <= self.num_samples:
            raise ValueError(f"skip must be in [0, {self.num_samples}], got {skip}")
        self.epoch, self.skip = epoch, skip

    def __iter__(self) -> Iterator[Index]:
        seed = int(np.random.SeedSequence([self.seed, self.epoch]).generate_state(1)[0])
        order = torch.randperm(self.total_size, generator=torch.Generator().manual_seed(seed)).tolist()
        mine = [v % self.dataset_size for v in order[self.rank:self.total_size:self.num_replicas]][self.skip:]
        return iter([(self.epoch, i) for i in mine] if self.keyed else mine)

    def __len__(self) -> int:
        return self.num_samples - self.skip
