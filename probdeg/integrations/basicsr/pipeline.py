"""``train``: BasicSR's training loop, run from probdeg's safe options, on CPU or GPU, one process or DDP.

It follows ``basicsr.train.train_pipeline`` step for step, with what that needs on current PyTorch: options read
safely, experiments under the current directory, resume states mapped to the model's device (BasicSR maps them to
CUDA), ``--launcher pytorch`` on gloo without CUDA, and a progress bar.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import time
from pathlib import Path
from typing import Optional

import torch

from .compat import import_basicsr
from .loaders import build_train_val_loaders
from .options import load_options
from .registration import register


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """The command-line arguments of a training run (BasicSR's, with ``--set`` instead of ``--force_yml``)."""
    parser.add_argument("-opt", "--opt", required=True, help="path to the option YAML file")
    parser.add_argument("--launcher", choices=["none", "pytorch"], default="none",
                        help="'pytorch' under torchrun: DDP on nccl with CUDA, gloo without")
    parser.add_argument("--auto_resume", "--auto-resume", action="store_true",
                        help="continue from the latest training state of this experiment, if any")
    parser.add_argument("--debug", action="store_true")
    parser.add_argument("--set", nargs="+", default=[], metavar="SECTION:KEY=VALUE",
                        help="override options, e.g. train:total_iter=100 (values parsed as YAML)")
    parser.add_argument("--root", default=None, metavar="DIR",
                        help="folder that holds experiments/ (default: the current directory)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--local_rank", type=int, default=0, help=argparse.SUPPRESS)


def init_distributed(launcher: str) -> tuple[bool, int, int]:
    """Start the process group for ``--launcher pytorch``: nccl with CUDA, gloo on the CPU."""
    if launcher == "none":
        return False, 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)) % torch.cuda.device_count())
        dist.init_process_group(backend=backend)
    return True, dist.get_rank(), dist.get_world_size()


def log_to_file(logger: logging.Logger, log_file: str, rank: int) -> None:
    """Send ``logger`` to this run's ``log_file`` (rank 0 only), replacing the file of an earlier run in this process.

    BasicSR's ``get_root_logger`` opens a log file only the first time it is called, so without this a second
    training in the same process (``probdeg demo``, tests) would log into the first run's file.
    """
    for handler in [h for h in logger.handlers if isinstance(h, logging.FileHandler)]:
        logger.removeHandler(handler)
        handler.close()
    if rank != 0:
        logger.setLevel(logging.ERROR)
        return
    logger.setLevel(logging.INFO)
    handler = logging.FileHandler(log_file, "w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s: %(message)s"))
    logger.addHandler(handler)


def latest_training_state(opt: dict) -> Optional[Path]:
    folder = Path(opt["path"]["training_states"])
    # Only complete states: "<iter>.state". A save killed midway leaves a hidden temporary file, never one of these.
    states = sorted((p for p in folder.glob("*.state") if p.stem.isdigit()), key=lambda p: int(p.stem))
    return states[-1] if states else None


def load_resume_state(opt: dict) -> Optional[dict]:
    path = latest_training_state(opt) if opt["auto_resume"] else opt["path"].get("resume_state")
    if path is None:
        return None
    opt["path"]["resume_state"] = str(path)
    from basicsr.utils.misc import check_resume

    state = torch.load(path, map_location="cpu", weights_only=True)
    check_resume(opt, state["iter"])
    return state


def main(argv: Optional[list[str]] = None) -> str:
    """``train.py`` entry point: parse ``argv`` and :func:`train`."""
    parser = argparse.ArgumentParser(description="Train from a BasicSR option file (probdeg registered).")
    add_train_arguments(parser)
    return train(parser.parse_args(argv))


def train(args: argparse.Namespace) -> str:
    """Run a training from parsed :func:`add_train_arguments` arguments; returns the experiment folder."""
    import_basicsr()
    register()
    from basicsr.data.prefetch_dataloader import CPUPrefetcher
    from basicsr.models import build_model
    from basicsr.train import init_tb_loggers
    from basicsr.utils import (
        AvgTimer,
        MessageLogger,
        get_env_info,
        get_root_logger,
        get_time_str,
        make_exp_dirs,
        mkdir_and_rename,
    )
    from basicsr.utils.misc import set_random_seed
    from basicsr.utils.options import copy_opt_file, dict2str
    from tqdm import tqdm

    dist, rank, world_size = init_distributed(args.launcher)
    opt = load_options(args.opt, root=getattr(args, "root", None), overrides=args.set, dist=dist, rank=rank,
                       world_size=world_size, auto_resume=args.auto_resume, debug=args.debug)
    set_random_seed(opt["manual_seed"] + rank)
    torch.backends.cudnn.benchmark = True

    resume_state = load_resume_state(opt)
    if resume_state is None:
        make_exp_dirs(opt)
        if opt["logger"].get("use_tb_logger") and "debug" not in opt["name"] and rank == 0:
            mkdir_and_rename(os.path.join(opt["root_path"], "tb_logger", opt["name"]))
    copy_opt_file(args.opt, opt["path"]["experiments_root"])
    log_file = os.path.join(opt["path"]["log"], f"train_{opt['name']}_{get_time_str()}.log")
    logger = get_root_logger(logger_name="basicsr")
    log_to_file(logger, log_file, rank)
    logger.info(get_env_info())
    logger.info(dict2str(opt))
    tb_logger = init_tb_loggers(opt)

    train_loader, train_sampler, val_loaders = build_train_val_loaders(opt, logger)
    total_iters = int(opt["train"]["total_iter"])
    batches_per_epoch = train_sampler.num_samples // train_loader.batch_size
    if batches_per_epoch == 0:
        raise ValueError(f"the training set yields no batch: {len(train_loader.dataset)} items for a batch of "
                         f"{opt['datasets']['train']['batch_size_per_gpu']} (raise `length` or lower the batch)")
    model = build_model(opt)
    start_epoch, current_iter, skip_batches = 0, 0, 0
    if resume_state:
        model.resume_training(resume_state)
        start_epoch, current_iter = resume_state["epoch"], resume_state["iter"]
        # Continue the epoch's data stream where the saved run stopped (states of other models restart the epoch).
        skip_batches = int(resume_state.get("epoch_batches", 0))
        if skip_batches >= batches_per_epoch:
            start_epoch, skip_batches = start_epoch + 1, 0
        logger.info(f"Resuming training from epoch: {start_epoch}, iter: {current_iter}. Skipping the epoch's first "
                    f"{skip_batches} batches (already trained on).")
    msg_logger = MessageLogger(opt, current_iter, tb_logger)
    prefetch_mode = opt["datasets"]["train"].get("prefetch_mode")
    if prefetch_mode not in (None, "cpu"):
        raise ValueError(f"datasets:train:prefetch_mode {prefetch_mode!r}: probdeg supports ~ or cpu")
    prefetcher = CPUPrefetcher(train_loader)

    data_timer, iter_timer = AvgTimer(), AvgTimer()
    start_time = time.time()
    progress = tqdm(total=total_iters, initial=current_iter, desc=opt["name"], unit="it",
                    disable=rank != 0 or getattr(args, "no_progress", False),
                    mininterval=2.0, dynamic_ncols=True)
    # Epochs until the iteration budget is spent (BasicSR's epoch count assumes ceil(len / batch) batches per epoch,
    # which drop_last makes one too many, so it can stop early).
    try:  # the bar is closed before an error is reported, so the error line comes last
        epoch = start_epoch
        while current_iter < total_iters:
            train_sampler.set_epoch(epoch, skip=skip_batches * train_loader.batch_size)
            epoch_batches, skip_batches = skip_batches, 0
            prefetcher.reset()
            train_data = prefetcher.next()
            while train_data is not None and current_iter < total_iters:
                data_timer.record()
                current_iter += 1
                epoch_batches += 1
                model.epoch_batches = epoch_batches
                model.update_learning_rate(current_iter, warmup_iter=opt["train"].get("warmup_iter", -1))
                model.feed_data(train_data)
                model.optimize_parameters(current_iter)
                iter_timer.record()
                progress.update(1)
                if current_iter == 1:
                    msg_logger.reset_start_time()
                if current_iter % opt["logger"]["print_freq"] == 0:
                    log_vars = {"epoch": epoch, "iter": current_iter, "lrs": model.get_current_learning_rate(),
                                "time": iter_timer.get_avg_time(), "data_time": data_timer.get_avg_time()}
                    log_vars.update(model.get_current_log())
                    msg_logger(log_vars)
                if current_iter % opt["logger"]["save_checkpoint_freq"] == 0:
                    logger.info("Saving models and training states.")
                    model.save(epoch, current_iter)
                if opt.get("val") is not None and current_iter % opt["val"]["val_freq"] == 0:
                    _validate(model, val_loaders, current_iter, tb_logger, opt)
                data_timer.start()
                iter_timer.start()
                train_data = prefetcher.next()
            epoch += 1
    finally:
        progress.close()
    logger.info(f"End of training. Time consumed: {datetime.timedelta(seconds=int(time.time() - start_time))}")
    logger.info("Save the latest model.")
    model.save(epoch=-1, current_iter=-1)
    if opt.get("val") is not None:
        _validate(model, val_loaders, current_iter, tb_logger, opt)
    if tb_logger:
        tb_logger.close()
    return opt["path"]["experiments_root"]


def _validate(model, val_loaders: list, current_iter: int, tb_logger, opt: dict) -> None:
    # Under a forked generator: validation must not move the training's random stream, or a run resumed from a
    # state saved just before a validation would draw other numbers than the uninterrupted run.
    with torch.random.fork_rng(devices=[]):
        for val_loader in val_loaders:
            model.validation(val_loader, current_iter, tb_logger, opt["val"].get("save_img", False))


def test(args: argparse.Namespace) -> str:
    """Run the test phases of an option file (``datasets: test_*``) with the model's validation; returns the results
    folder. Images go to ``results/<name>/visualization/<dataset>/``."""
    import_basicsr()
    register()
    from basicsr.data import build_dataloader, build_dataset
    from basicsr.models import build_model
    from basicsr.utils import get_env_info, get_root_logger, get_time_str, make_exp_dirs
    from basicsr.utils.options import dict2str

    opt = load_options(args.opt, overrides=args.set, is_train=False)
    make_exp_dirs(opt)
    log_file = os.path.join(opt["path"]["log"], f"test_{opt['name']}_{get_time_str()}.log")
    logger = get_root_logger(logger_name="basicsr")
    log_to_file(logger, log_file, rank=0)
    logger.info(get_env_info())
    logger.info(dict2str(opt))
    loaders = []
    for _, dataset_opt in sorted(opt["datasets"].items()):
        dataset = build_dataset(dataset_opt)
        loaders.append(build_dataloader(dataset, dataset_opt, num_gpu=opt["num_gpu"], dist=False, sampler=None,
                                        seed=opt["manual_seed"]))
        logger.info(f"Number of test images in {dataset_opt['name']}: {len(dataset)}")
    model = build_model(opt)
    for loader in loaders:
        model.validation(loader, current_iter=opt["name"], tb_logger=None,
                         save_img=(opt.get("val") or {}).get("save_img", True))
    return opt["path"]["results_root"]


def test_main(argv: Optional[list[str]] = None) -> str:
    """``test.py`` entry point."""
    parser = argparse.ArgumentParser(description="Test from a BasicSR option file (probdeg registered).")
    parser.add_argument("-opt", "--opt", required=True, help="path to the option YAML file")
    parser.add_argument("--set", nargs="+", default=[], metavar="SECTION:KEY=VALUE", help="override options")
    return test(parser.parse_args(argv))
