"""What every probdeg model changes in BasicSR's ``BaseModel``: CPU-safe DDP, atomic self-describing saves,
checkpoints that carry the RNG state, a linear-decay schedule and a non-finite loss guard."""

from __future__ import annotations

import os
import pickle
import struct
from collections.abc import Mapping

import torch
from basicsr.models.base_model import BaseModel
from basicsr.utils import get_root_logger
from torch.nn.parallel import DistributedDataParallel

from ....checkpoint import save_checkpoint, save_torch
from ....errors import NonFiniteLossError, UserError
from ..rng import capture_rng_state, restore_rng_state

__all__ = ["ProbdegBaseModel", "linear_decay"]


def linear_decay(total_iter: int, decay_start: int):
    """lr factor: 1 until ``decay_start``, then linearly down to 0 at ``total_iter`` (the reference schedule)."""
    if not 0 <= decay_start < total_iter:
        raise ValueError(f"scheduler.decay_start must be in [0, total_iter={total_iter}), got {decay_start}")

    def factor(step: int) -> float:
        return 1.0 if step < decay_start else max(0.0, (total_iter - step) / (total_iter - decay_start))

    return factor


class ProbdegBaseModel(BaseModel):
    """BaseModel with the fixes probdeg needs; subclasses set ``self.network_options[label]`` for each saved net."""

    max_nonfinite_steps = 10

    def __init__(self, opt: dict) -> None:
        super().__init__(opt)
        self.network_options: dict[str, Mapping] = {}
        self.nonfinite_steps: dict[str, int] = {}  # consecutive non-finite steps, per loss (G and D alternate)
        # Batches of the current epoch already trained on, kept up to date by the pipeline and saved with the
        # training state, so that a resumed run skips them instead of restarting the epoch's data stream.
        self.epoch_batches = 0

    def model_to_device(self, net):
        if not self.opt["dist"]:
            return super().model_to_device(net)
        # BasicSR passes device_ids=[torch.cuda.current_device()], which fails without CUDA.
        device_ids = [torch.cuda.current_device()] if self.device.type == "cuda" else None
        return DistributedDataParallel(net.to(self.device), device_ids=device_ids,
                                       find_unused_parameters=self.opt.get("find_unused_parameters", False))

    def setup_schedulers(self) -> None:
        scheduler_opt = dict(self.opt["train"]["scheduler"])
        if scheduler_opt.get("type") != "LinearDecay":
            return super().setup_schedulers()
        factor = linear_decay(int(scheduler_opt.get("total_iter", self.opt["train"]["total_iter"])),
                              int(scheduler_opt["decay_start"]))
        for optimizer in self.optimizers:
            self.schedulers.append(torch.optim.lr_scheduler.LambdaLR(optimizer, factor))

    def load_network(self, net, load_path, strict: bool = True, param_key: str = "params") -> None:
        """BasicSR's loading, with one line naming the file for a corrupt, refused or mismatching checkpoint."""
        try:
            super().load_network(net, load_path, strict, param_key)
        except (RuntimeError, KeyError, EOFError, ValueError, pickle.UnpicklingError, struct.error) as err:
            reason = " ".join(str(err).split())[:300] or type(err).__name__
            raise UserError(f"cannot load the weights of {load_path} into {type(self.get_bare_model(net)).__name__}"
                            f" (truncated, not a checkpoint, or of another net?): {reason}") from None

    def save_network(self, net, net_label: str, current_iter: int, param_key: str = "params", ema=None) -> None:
        """BasicSR's saving, atomic and with the options that rebuild the net; ``ema``: its averaged copy, stored in
        the same file under ``params_ema``."""
        if self.opt.get("rank", 0) != 0:
            return
        name = "latest" if current_iter == -1 else current_iter
        path = os.path.join(self.opt["path"]["models"], f"{net_label}_{name}.pth")
        save_checkpoint(path, self.get_bare_model(net), self.network_options[net_label],
                        extra={"iter": int(current_iter)}, param_key=param_key, ema=ema)

    def save_training_state(self, epoch: int, current_iter: int) -> None:
        if current_iter == -1:
            return
        rng = [capture_rng_state()]
        if self.opt["dist"]:  # every rank's generators, so that each rank resumes its own stream
            import torch.distributed as dist

            rng = [None] * dist.get_world_size()
            dist.all_gather_object(rng, capture_rng_state())
        if self.opt.get("rank", 0) != 0:
            return
        state = {"epoch": epoch, "iter": current_iter, "epoch_batches": int(self.epoch_batches),
                 "optimizers": [o.state_dict() for o in self.optimizers],
                 "schedulers": [s.state_dict() for s in self.schedulers], "rng": rng}
        save_torch(state, os.path.join(self.opt["path"]["training_states"], f"{current_iter}.state"))

    def resume_training(self, resume_state: dict) -> None:
        super().resume_training(resume_state)
        rank, states = self.opt.get("rank", 0), resume_state.get("rng")
        if states is not None:
            if len(states) != self.opt.get("world_size", 1):
                get_root_logger().warning(f"the training state holds the random generators of {len(states)} "
                                          f"process(es), this run has {self.opt.get('world_size', 1)}: each rank "
                                          "takes those of rank (its rank modulo that number)")
            restore_rng_state(states[rank % len(states)])

    def dist_validation(self, dataloader, current_iter, tb_logger, save_img) -> None:
        """Validation on rank 0 only (the figures need no all-reduce: the other ranks wait at the next step)."""
        if self.opt["rank"] == 0:
            self.nondist_validation(dataloader, current_iter, tb_logger, save_img)

    def log_validation(self, dataset_name: str, current_iter: int, tb_logger) -> None:
        """:attr:`metric_results` to the log (one line) and to TensorBoard, under ``metrics/<dataset>/``."""
        text = ", ".join(f"{key}: {value:.4f}" for key, value in self.metric_results.items())
        get_root_logger().info(f"Validation {dataset_name} (iter {current_iter}): {text}")
        if tb_logger:
            for key, value in self.metric_results.items():
                tb_logger.add_scalar(f"metrics/{dataset_name}/{key}", value, current_iter)

    def loss_is_finite(self, loss: torch.Tensor, what: str, current_iter: int) -> bool:
        """False (and logged) for a NaN / Inf loss, so the caller skips the step; raises after too many in a row."""
        if torch.isfinite(loss).all():
            self.nonfinite_steps[what] = 0
            return True
        count = self.nonfinite_steps[what] = self.nonfinite_steps.get(what, 0) + 1
        get_root_logger().warning(f"iter {current_iter}: non-finite {what} loss ({loss.item()}), step skipped "
                                  f"({count} in a row)")
        if count >= self.max_nonfinite_steps:
            raise NonFiniteLossError(f"{count} consecutive training steps had a non-finite {what} loss; the last good "
                                     "checkpoint is kept. Lower the learning rate or check the data.")
        return False
