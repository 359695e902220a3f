"""``train``: BasicSR's training loop, run from probdeg's safe options, on CPU or GPU, one process or DDP.

It follows ``basicsr.train.train_pipeline`` step for step, with what that needs on current PyTorch: options read
safely, experiments under the current directory, resume states mapped to the model's device (BasicSR maps them to
CUDA), ``--launcher pytorch`` on gloo without CUDA, and a progress bar.
"""

from __future__ import annotations

import datetime
import logging
import logging.handlers
import os
import subprocess
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Callable, Optional, Union

import torch

from ...errors import OptionError, UserError
from ...progress import progress_bar
from .compat import import_basicsr
from .loaders import build_train_val_loaders
from .options import load_options
from .registration import register
from .validation import check_generator_sources, check_registered

PathLike = Union[str, os.PathLike]


LAUNCHERS = ("none", "pytorch", "slurm")
SLURM_PORT = 29500
"""The rendezvous port under ``--launcher slurm`` when ``MASTER_PORT`` is not set (BasicSR's default)."""


def slurm_environment(env: Mapping[str, str], first_host: Callable[[str], str]) -> dict[str, str]:
    """The variables ``torch.distributed``'s ``env://`` rendezvous reads, from SLURM's (as BasicSR's
    ``_init_dist_slurm``): rank, world size, local rank, and the first node of the job as the master.

    Args:
        env: the environment (``os.environ``).
        first_host: maps ``SLURM_NODELIST`` to its first host name (``scontrol show hostnames``).

    Raises:
        UserError: not inside a SLURM job step (no ``SLURM_PROCID``).
    """
    missing = [key for key in ("SLURM_PROCID", "SLURM_NTASKS", "SLURM_NODELIST") if key not in env]
    if missing:
        raise UserError(f"--launcher slurm runs inside srun; {', '.join(missing)} not set (use srun, or --launcher "
                        "pytorch under torchrun)")
    return {"RANK": env["SLURM_PROCID"], "WORLD_SIZE": env["SLURM_NTASKS"],
            "LOCAL_RANK": env.get("SLURM_LOCALID", "0"), "MASTER_ADDR": env.get("MASTER_ADDR") or
            first_host(env["SLURM_NODELIST"]), "MASTER_PORT": env.get("MASTER_PORT", str(SLURM_PORT))}


def _first_slurm_host(nodelist: str) -> str:
    names = subprocess.run(["scontrol", "show", "hostnames", nodelist], capture_output=True, text=True, check=True)
    return names.stdout.split()[0]


def init_distributed(launcher: str) -> tuple[bool, int, int]:
    """Start the process group for ``--launcher pytorch`` (torchrun) or ``slurm`` (srun): nccl with CUDA, gloo on
    the CPU."""
    if launcher == "none":
        return False, 0, 1
    import torch.distributed as dist

    if launcher == "slurm":
        os.environ.update(slurm_environment(os.environ, _first_slurm_host))

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


def check_devices(opt: dict, source: PathLike) -> None:
    """Refuse ``num_gpu`` above the CUDA devices PyTorch sees (BasicSR would fail mid-run with a traceback)."""
    if opt["num_gpu"] > torch.cuda.device_count():
        raise OptionError(f"{source}: num_gpu: {opt['num_gpu']}, but PyTorch sees {torch.cuda.device_count()} CUDA "
                          "device(s); set num_gpu to 0 (the CPU) or auto")


def complete_training_states(opt: dict) -> list[Path]:
    """This experiment's complete training states, newest first. A save killed midway leaves a hidden temporary file,
    never a ``<iter>.state``."""
    folder = Path(opt["path"]["training_states"])
    return sorted((p for p in folder.glob("*.state") if p.stem.isdigit()), key=lambda p: -int(p.stem))


def read_training_state(path: PathLike) -> dict:
    """A training state, loaded safely on the CPU.

    Raises:
        UserError: missing, truncated, refused (not plain tensors and values) or without an ``iter``; names the file.
    """
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise UserError(f"training state {path} does not exist") from None
    except Exception as err:  # torch raises UnpicklingError, RuntimeError, EOFError... for a bad file
        reason = " ".join(str(err).split())[:200] or type(err).__name__
        raise UserError(f"training state {path} cannot be read (truncated or not a training state?): {reason}") \
            from None
    if not isinstance(state, dict) or "iter" not in state:
        raise UserError(f"training state {path} is not one of probdeg's or BasicSR's (no 'iter' entry)")
    return state


def load_resume_state(opt: dict) -> Optional[dict]:
    """The state to resume from: ``path:resume_state``, or with ``auto_resume`` the newest readable one (a newer
    unreadable one is named in a warning and skipped); ``None`` to start anew."""
    from basicsr.utils.misc import check_resume

    if opt["auto_resume"]:
        state = None
        for path in complete_training_states(opt):
            try:
                state = read_training_state(path)
            except UserError as err:
                warnings.warn(f"{err}; resuming from an older state", stacklevel=2)
                continue
            break
        if state is None:
            return None
    else:
        path = opt["path"].get("resume_state")
        if path is None:
            return None
        state = read_training_state(path)
    opt["path"]["resume_state"] = str(path)
    check_resume(opt, state["iter"])
    return state


def train(option_file: PathLike, *, root: Optional[PathLike] = None, overrides: Sequence[str] = (),
          auto_resume: bool = False, launcher: str = "none", progress: bool = True, debug: bool = False,
          console_log: bool = True) -> Path:
    """Train from a BasicSR option file, as ``probdeg train`` and ``train.py`` do.

    Args:
        option_file: the option YAML file.
        root: the folder that holds ``experiments/`` (default: the current directory); relative data paths in the
            options are read from it too.
        overrides: ``section:key=value`` overrides, values parsed as YAML.
        auto_resume: continue from this experiment's latest complete training state, if any.
        launcher: ``"none"`` (one process), ``"pytorch"`` (DDP under torchrun) or ``"slurm"`` (DDP under srun, one
            task per GPU); nccl with CUDA, gloo without.
        progress: show a progress bar (rank 0 only).
        debug: BasicSR's debug mode (``debug_`` name prefix, frequent logs and checkpoints).
        console_log: BasicSR's log on the console too (always in the experiment's log file); ``False`` shows only
            its warnings there.

    Returns:
        The experiment folder.

    Raises:
        OptionError: a bad option file (before any folder is made).
        NonFiniteLossError: the training diverged.
    """
    import_basicsr()
    register()
    from basicsr.data.prefetch_dataloader import CPUPrefetcher
    from basicsr.models import build_model
    from basicsr.train import init_tb_loggers
    from basicsr.utils import (
        AvgTimer,
        get_env_info,
        get_root_logger,
        get_time_str,
        make_exp_dirs,
        mkdir_and_rename,
    )
    from basicsr.utils.misc import set_random_seed
    from basicsr.utils.options import copy_opt_file, dict2str

    if launcher not in LAUNCHERS:
        raise OptionError(f"launcher must be one of {', '.join(LAUNCHERS)}, got {launcher!r}")
    dist, rank, world_size = init_distributed(launcher)
    opt = load_options(option_file, root=root, overrides=list(overrides), dist=dist, rank=rank,
                       world_size=world_size, auto_resume=auto_resume, debug=debug)
    check_devices(opt, option_file)
    check_registered(opt, option_file)
    check_generator_sources(opt, option_file)
    set_random_seed(opt["manual_seed"] + rank)
    torch.backends.cudnn.benchmark = True

    resume_state = load_resume_state(opt)
    logger = get_root_logger(logger_name="basicsr")
    for handler in logger.handlers:
        if type(handler) is logging.StreamHandler:
            handler.setLevel(logging.INFO if console_log else logging.WARNING)
    # The data and the model first: the datasets, nets, pretrained weights, generator checkpoints, optimisers and
    # schedulers are checked as they are built, so a mistake found there archives no earlier run. What they log
    # meanwhile goes to the log file once that exists.
    early_log = logging.handlers.MemoryHandler(capacity=10**6, flushLevel=logging.CRITICAL + 1)
    logger.addHandler(early_log)
    if rank == 0:
        logger.setLevel(logging.INFO)
    try:
        train_loader, train_sampler, val_loaders = build_train_val_loaders(opt, logger)
        total_iters = int(opt["train"]["total_iter"])
        batches_per_epoch = train_sampler.num_samples // train_loader.batch_size
        if batches_per_epoch == 0:
            raise OptionError(f"{option_file}: the training set yields no batch: {len(train_loader.dataset)} items "
                              f"for a batch of {opt['datasets']['train']['batch_size_per_gpu']} (raise "
                              "datasets:train:length or lower batch_size_per_gpu)")
        model = build_model(opt)
    finally:
        logger.removeHandler(early_log)
    if resume_state is None:
        make_exp_dirs(opt)
        if opt["logger"].get("use_tb_logger") and "debug" not in opt["name"] and rank == 0:
            mkdir_and_rename(os.path.join(opt["root_path"], "tb_logger", opt["name"]))
    copy_opt_file(str(option_file), opt["path"]["experiments_root"])
    log_file = os.path.join(opt["path"]["log"], f"train_{opt['name']}_{get_time_str()}.log")
    log_to_file(logger, log_file, rank)
    logger.info(get_env_info())
    logger.info(dict2str(opt))
    for handler in [h for h in logger.handlers if isinstance(h, logging.FileHandler)]:
        for record in early_log.buffer:
            handler.handle(record)
    early_log.close()
    tb_logger = init_tb_loggers(opt)
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
    msg_logger = message_logger(opt, current_iter, tb_logger)
    prefetch_mode = opt["datasets"]["train"].get("prefetch_mode")
    if prefetch_mode not in (None, "cpu"):
        raise ValueError(f"datasets:train:prefetch_mode {prefetch_mode!r}: probdeg supports ~ or cpu")
    prefetcher = CPUPrefetcher(train_loader)

    data_timer, iter_timer = AvgTimer(), AvgTimer()
    validated = -1  # the iteration of the last validation
    start_time = time.time()
    bar = progress_bar(total=total_iters, initial=current_iter, desc=opt["name"], unit="it",
                       enabled=rank == 0 and progress, mininterval=2.0)
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
                bar.update(1)
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
                    validated = current_iter
                data_timer.start()
                iter_timer.start()
                train_data = prefetcher.next()
            epoch += 1
    finally:
        bar.close()
    logger.info(f"End of training. Time consumed: {datetime.timedelta(seconds=int(time.time() - start_time))}")
    logger.info("Save the latest model.")
    model.save(epoch=-1, current_iter=-1)
    if opt.get("val") is not None and validated != current_iter:  # BasicSR validates again what it just did
        _validate(model, val_loaders, current_iter, tb_logger, opt)
    if tb_logger:
        tb_logger.close()
    return Path(opt["path"]["experiments_root"])


def message_logger(opt: dict, current_iter: int, tb_logger):
    """BasicSR's ``MessageLogger``, its ETA counting the iterations left after the current one: BasicSR counts
    ``total - current - 1``, one too few, which reads "-1 day, 23:59:59" on the last iteration."""
    from basicsr.utils import MessageLogger

    logger = MessageLogger(opt, current_iter, tb_logger)
    logger.max_iters = int(opt["train"]["total_iter"]) + 1
    return logger


def _validate(model, val_loaders: list, current_iter: int, tb_logger, opt: dict) -> None:
    # Under a forked generator: validation must not move the training's random stream, or a run resumed from a
    # state saved just before a validation would draw other numbers than the uninterrupted run.
    with torch.random.fork_rng(devices=[]):
        for val_loader in val_loaders:
            model.validation(val_loader, current_iter, tb_logger, opt["val"].get("save_img", False))


def run_test_phases(option_file: PathLike, *, root: Optional[PathLike] = None,
                    overrides: Sequence[str] = ()) -> Path:
    """Run the test phases of an option file (``datasets: test_*``) with the model's validation, as ``test.py`` does.

    Images go to ``results/<name>/visualization/<dataset>/`` under ``root`` (default: the current directory).

    Returns:
        The results folder.
    """
    import_basicsr()
    register()
    from basicsr.data import build_dataloader, build_dataset
    from basicsr.models import build_model
    from basicsr.utils import get_env_info, get_root_logger, get_time_str, make_exp_dirs
    from basicsr.utils.options import dict2str

    opt = load_options(option_file, root=root, overrides=list(overrides), is_train=False)
    check_devices(opt, option_file)
    check_registered(opt, option_file)
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
    return Path(opt["path"]["results_root"])
