"""The training and validation data loaders of a BasicSR run, with a sampler that can resume mid-epoch."""

from __future__ import annotations

import logging

import torch

from .sampler import ResumableSampler


def build_train_val_loaders(opt: dict, logger: logging.Logger) -> tuple:
    """BasicSR's ``create_train_val_dataloader`` with :class:`ResumableSampler` for the training set.

    The training loader gets a generator of its own, so that starting an epoch (which draws the workers' base
    seed) does not move the global torch generator, whose state a training state restores.

    Returns:
        ``(train_loader, train_sampler, val_loaders)``.
    """
    from basicsr.data import build_dataloader, build_dataset

    train_loader, train_sampler, val_loaders = None, None, []
    for phase, dataset_opt in opt["datasets"].items():
        if phase == "train":
            train_set = build_dataset(dataset_opt)
            train_sampler = ResumableSampler(train_set, opt["world_size"], opt["rank"],
                                             int(dataset_opt.get("dataset_enlarge_ratio", 1)), seed=opt["manual_seed"])
            train_loader = build_dataloader(train_set, dataset_opt, num_gpu=opt["num_gpu"], dist=opt["dist"],
                                            sampler=train_sampler, seed=opt["manual_seed"])
            train_loader.generator = torch.Generator().manual_seed(opt["manual_seed"] + opt["rank"])
            logger.info(f"Training set: {len(train_set)} items, {train_sampler.num_samples} per process and epoch "
                        f"(enlarge ratio {dataset_opt.get('dataset_enlarge_ratio', 1)}, world size "
                        f"{opt['world_size']}), batch {train_loader.batch_size} per process; "
                        f"{opt['train']['total_iter']} iterations")
        elif phase.split("_")[0] == "val":
            val_set = build_dataset(dataset_opt)
            val_loaders.append(build_dataloader(val_set, dataset_opt, num_gpu=opt["num_gpu"], dist=opt["dist"],
                                                sampler=None, seed=opt["manual_seed"]))
            logger.info(f"Number of val images/folders in {dataset_opt['name']}: {len(val_set)}")
        else:
            raise ValueError(f"dataset phase {phase!r} is not recognised (train, val or val_<name>)")
    if train_loader is None:
        raise ValueError("the options have no datasets:train section")
    return train_loader, train_sampler, val_loaders
