"""Option files checked when they are loaded: unknown keys (with the closest accepted one), wrong types and ranges,
and missing data folders / weight files, each named with the file and the key path.

Every section of an option file is checked against the keys probdeg's code reads plus those BasicSR documents
(Real-ESRGAN's degradation keys included). Sections whose keys depend on a class that is not probdeg's (a
BasicSR dataset type, a BasicSR model's ``train`` / ``val`` keys) get their types checked but accept other keys:
probdeg cannot know them all. Networks are checked when they are built (:func:`probdeg.build.check_options`).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Optional

from .options import OptionError

Check = Callable[[Any], Optional[str]]  # returns what was expected, or None when the value is fine

PROBDEG_MODELS = ("DegradationGANModel", "CollaborativeSRModel")
PROBDEG_DATASETS = ("UnpairedImageDataset", "DegradationValDataset")


# ----------------------------------------------------------------------------------------------- value checks
def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) or isinstance(value, float) and value.is_integer()


def _as_number(value: Any) -> Optional[float]:
    # PyYAML reads 1e-4 (no dot) as a string; BasicSR and probdeg convert it with float(), so it is accepted.
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def integer(minimum: Optional[int] = None) -> Check:
    def check(value: Any) -> Optional[str]:
        expected = "an integer" if minimum is None else f"an integer >= {minimum}"
        return None if _is_int(value) and (minimum is None or value >= minimum) else expected
    return check


def number(minimum: Optional[float] = None, below: Optional[float] = None) -> Check:
    def check(value: Any) -> Optional[str]:
        x = _as_number(value)
        ok = x is not None and math.isfinite(x) and (minimum is None or x >= minimum) and (below is None or x < below)
        bounds = (f" >= {minimum}" if minimum is not None else "") + (f" and < {below}" if below is not None else "")
        return None if ok else f"a finite number{bounds}"
    return check


def boolean(value: Any) -> Optional[str]:
    return None if isinstance(value, bool) else "true or false"


def text(value: Any) -> Optional[str]:
    return None if isinstance(value, str) and value else "a non-empty string"


def mapping(value: Any) -> Optional[str]:
    return None if isinstance(value, Mapping) else "a mapping of keys"


def anything(value: Any) -> Optional[str]:
    return None


def optional(check: Check) -> Check:
    def optional_check(value: Any) -> Optional[str]:
        return None if value is None else (None if check(value) is None else f"{check(value)} or ~")
    return optional_check


def one_of(*choices: Any) -> Check:
    def check(value: Any) -> Optional[str]:
        return None if value in choices else "one of " + ", ".join(repr(c) for c in choices)
    return check


def seed(value: Any) -> Optional[str]:
    return None if value is None or _is_int(value) and value >= 0 else "a non-negative integer or ~"


def num_gpu(value: Any) -> Optional[str]:
    return None if value == "auto" or _is_int(value) and value >= 0 else "a non-negative integer or auto"


# ----------------------------------------------------------------------------------------------- accepted keys
POSITIVE, NON_NEGATIVE = integer(1), integer(0)
LOADER_KEYS: dict[str, Check] = {
    "name": text, "type": text, "phase": text, "scale": POSITIVE, "batch_size_per_gpu": POSITIVE,
    "num_worker_per_gpu": NON_NEGATIVE, "dataset_enlarge_ratio": POSITIVE, "use_shuffle": boolean,
    "prefetch_mode": optional(one_of("cpu", "cuda")), "num_prefetch_queue": POSITIVE, "pin_memory": boolean,
    "persistent_workers": boolean,
}
DATASET_KEYS: dict[str, dict[str, Check]] = {
    "UnpairedImageDataset": {
        **LOADER_KEYS, "dataroot_hr": anything, "dataroot_lr": anything, "crop_size": POSITIVE, "augment": boolean,
        "small_images": one_of("skip", "error"), "length": optional(POSITIVE), "seed": NON_NEGATIVE,
        "bicubic_reference": boolean, "synthetic_lr": optional(mapping),
    },
    "DegradationValDataset": {
        **LOADER_KEYS, "dataroot_hr": anything, "dataroot_lr": optional(anything),
        "dataroot_real_lr": optional(anything), "crop_size": optional(POSITIVE),
    },
}
REQUIRED_DATASET_KEYS = {"UnpairedImageDataset": ("dataroot_hr", "dataroot_lr"),
                         "DegradationValDataset": ("dataroot_hr",)}
OPTIMIZER_KEYS = {"type": text, "lr": number(minimum=0)}
LOSS_KEYS = {"loss_weight": number(minimum=0)}
TRAIN_KEYS: dict[str, Check] = {"total_iter": POSITIVE, "warmup_iter": integer(-1), "scheduler": mapping,
                                "ema_decay": number(minimum=0, below=1)}
MODEL_TRAIN_KEYS: dict[str, dict[str, Check]] = {
    "DegradationGANModel": {**TRAIN_KEYS, "optim_g": mapping, "optim_d": mapping, "color_opt": optional(mapping),
                            "gan_opt": optional(mapping), "perceptual_opt": optional(mapping)},
    "CollaborativeSRModel": {**TRAIN_KEYS, "optim_sr": mapping},
}
VAL_KEYS: dict[str, Check] = {"val_freq": POSITIVE, "save_img": boolean, "suffix": optional(text),
                              "metrics": optional(mapping), "pbar": boolean, "num_samples": POSITIVE,
                              "crop_border": NON_NEGATIVE}
LOGGER_KEYS: dict[str, Check] = {"print_freq": POSITIVE, "save_checkpoint_freq": POSITIVE, "use_tb_logger": boolean,
                                 "wandb": optional(mapping)}
# Filled in by resolve_options; accepted so that a resolved option dict validates too.
RESOLVED_PATH_KEYS = ("experiments_root", "models", "training_states", "log", "visualization", "results_root",
                      "root")
PATH_FAMILIES: dict[str, Check] = {"pretrain_network_": anything, "strict_load_": boolean, "param_key_": text}
COLLAB_KEYS: dict[str, Check] = {"lambda_sup": number(minimum=0), "lambda_col": number(minimum=0),
                                 "lambda_ada": number(minimum=0), "total_progress": POSITIVE, "clamp": boolean,
                                 "use_real_lr": boolean}
SOURCE_KEYS = ("generator", "bicubic", "offline")
REAL_ESRGAN_KEYS = (
    "high_order_degradation", "gt_usm", "gt_size", "queue_size", "l1_gt_usm", "percep_gt_usm", "gan_gt_usm",
    "resize_prob", "resize_range", "gaussian_noise_prob", "noise_range", "poisson_scale_range", "gray_noise_prob",
    "jpeg_range", "second_blur_prob", "resize_prob2", "resize_range2", "gaussian_noise_prob2", "noise_range2",
    "poisson_scale_range2", "gray_noise_prob2", "jpeg_range2",
)
TOP_KEYS: dict[str, Check] = {
    "name": text, "model_type": text, "scale": POSITIVE, "num_gpu": num_gpu, "manual_seed": seed,
    "datasets": mapping, "path": mapping, "train": optional(mapping), "val": optional(mapping),
    "logger": optional(mapping), "dist_params": optional(mapping), "find_unused_parameters": boolean,
    "network_sr": anything, "num_models": POSITIVE, "degradations": anything, "collab": optional(mapping),
    # Filled in by resolve_options.
    "is_train": boolean, "dist": boolean, "rank": NON_NEGATIVE, "world_size": POSITIVE, "auto_resume": boolean,
    "root_path": text,
    **{key: anything for key in REAL_ESRGAN_KEYS},
}


class OptionValidator:
    """Checks one option dict; every problem raises :class:`OptionError` naming ``source`` and the key path.

    Args:
        source: the option file, for the messages.
        root: the folder relative data and weight paths are read from (the current directory of a run).
        is_train: a training run (``train`` and ``datasets:train`` are needed) or a test run.
        check_files: check that data folders and weight files exist.
    """

    def __init__(self, source: Any, *, root: Path, is_train: bool = True, check_files: bool = True) -> None:
        self.source, self.root, self.is_train, self.check_files = source, Path(root), is_train, check_files

    def fail(self, where: str, problem: str) -> None:
        raise OptionError(f"{self.source}: {where}: {problem}")

    def keys(self, section: Mapping, where: str, accepted: Mapping[str, Check], families: Mapping[str, Check] = (),
             strict: bool = True) -> None:
        """Check the keys of ``section`` (``families``: accepted key prefixes) and the types of their values."""
        for key, value in section.items():
            path = f"{where}:{key}" if where else str(key)
            check = accepted.get(key) if isinstance(key, str) else None
            if check is None and isinstance(key, str):
                check = next((c for prefix, c in dict(families).items() if key.startswith(prefix)), None)
            if check is None:
                if strict:
                    self.unknown(path, key, list(accepted) + [f"{p}<name>" for p in dict(families)])
                continue
            expected = check(value)
            if expected is not None:
                self.fail(path, f"expected {expected}, got {value!r}")

    def unknown(self, path: str, key: Any, accepted: list[str]) -> None:
        close = difflib.get_close_matches(str(key), accepted, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else f"accepted keys: {', '.join(sorted(accepted))}"
        self.fail(path, f"unknown key {str(key)!r}; {hint}")

    def section(self, opt: Mapping, key: str, where: str = "") -> Mapping:
        value = opt.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.fail(f"{where}{key}", f"expected a mapping of keys, got {value!r}")
        return value

    def file(self, where: str, value: Any, kind: str = "file") -> None:
        """``value`` (a path or a list of paths) must exist, relative paths read from ``root``."""
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if not isinstance(item, str) or not item:
                self.fail(where, f"expected a {kind} path (or a list of them), got {item!r}")
            if self.check_files:
                path = Path(item).expanduser()
                path = path if path.is_absolute() else self.root / path
                if not (path.is_dir() if kind == "folder" else path.exists()):
                    self.fail(where, f"{kind} not found: {item}" + (f" (looked in {self.root})"
                                                                    if not Path(item).is_absolute() else ""))

    # ------------------------------------------------------------------------------------------- sections
    def validate(self, opt: Mapping) -> None:
        for key in ("name", "datasets", "path"):
            if key not in opt:
                self.fail(key, "missing; the options need a name, datasets and path")
        self.keys(opt, "", TOP_KEYS, families={"network_": mapping})
        model_type = opt.get("model_type")
        probdeg_model = model_type in PROBDEG_MODELS
        self.datasets(opt)
        self.paths(self.section(opt, "path"))
        if self.is_train:
            if opt.get("train") is None:
                self.fail("train", "missing; a training run needs a train section (total_iter, optimisers, ...)")
            self.train(self.section(opt, "train"), model_type)
        self.keys(self.section(opt, "val"), "val", VAL_KEYS, strict=probdeg_model)
        logger = self.section(opt, "logger")
        self.keys(logger, "logger", LOGGER_KEYS)
        if self.is_train:
            for key in ("print_freq", "save_checkpoint_freq"):
                if key not in logger:
                    self.fail(f"logger:{key}", "missing; expected an integer >= 1")
        if model_type == "CollaborativeSRModel":
            self.collaborative(opt)

    def datasets(self, opt: Mapping) -> None:
        datasets = self.section(opt, "datasets")
        scale = opt.get("scale", 4)
        phases = ("train", "val", "test")
        for phase, dataset in datasets.items():
            where = f"datasets:{phase}"
            if not isinstance(phase, str) or phase.split("_")[0] not in phases:
                self.fail(where, "a dataset phase is train, val, val_<name>, test or test_<name>")
            if not isinstance(dataset, Mapping):
                self.fail(where, f"expected a mapping of dataset options, got {dataset!r}")
            kind = dataset.get("type")
            if text(kind) is not None:
                self.fail(f"{where}:type", f"expected a dataset type name, got {kind!r}")
            accepted = DATASET_KEYS.get(kind, LOADER_KEYS)
            self.keys(dataset, where, accepted, strict=kind in DATASET_KEYS)
            required = ("name", *REQUIRED_DATASET_KEYS.get(kind, ()), *(("batch_size_per_gpu",) if phase == "train"
                                                                        else ()))
            for key in required:
                if dataset.get(key) is None:
                    self.fail(f"{where}:{key}", "missing" + (f"; expected {accepted[key](None)}"
                                                             if accepted[key](None) else ""))
            crop = dataset.get("crop_size")
            if _is_int(crop) and _is_int(scale) and scale > 0 and crop % scale:
                self.fail(f"{where}:crop_size", f"{crop} is not a multiple of scale {scale} (try "
                                                f"{crop - crop % scale or scale})")
            for key, value in dataset.items():
                if isinstance(key, str) and key.startswith("dataroot") and value is not None:
                    self.file(f"{where}:{key}", value, "folder" if kind in DATASET_KEYS else "path")
            if dataset.get("meta_info_file") is not None:
                self.file(f"{where}:meta_info_file", dataset["meta_info_file"])
            for name, folders in (dataset.get("synthetic_lr") or {}).items():
                self.file(f"{where}:synthetic_lr:{name}", folders, "folder")
        if self.is_train and "train" not in datasets:
            self.fail("datasets:train", "missing; a training run needs a training set")

    def paths(self, path: Mapping) -> None:
        accepted = {key: anything for key in RESOLVED_PATH_KEYS}
        accepted.update(resume_state=anything, ignore_resume_networks=anything)
        self.keys(path, "path", accepted, families=PATH_FAMILIES)
        for key, value in path.items():
            if value is not None and (key == "resume_state" or str(key).startswith("pretrain_network_")):
                self.file(f"path:{key}", value)

    def train(self, train: Mapping, model_type: Any) -> None:
        accepted = MODEL_TRAIN_KEYS.get(model_type, TRAIN_KEYS)
        families = {} if model_type in MODEL_TRAIN_KEYS else {"optim_": mapping}
        self.keys(train, "train", accepted, families=families, strict=model_type in MODEL_TRAIN_KEYS)
        if "total_iter" not in train:
            self.fail("train:total_iter", "missing; expected an integer >= 1")
        for key, value in train.items():
            if not isinstance(key, str) or not isinstance(value, Mapping):
                continue
            if key.startswith("optim_"):
                self.keys(value, f"train:{key}", OPTIMIZER_KEYS, strict=False)
                for needed in OPTIMIZER_KEYS:
                    if needed not in value:
                        self.fail(f"train:{key}:{needed}", f"missing; expected {OPTIMIZER_KEYS[needed](None)}")
            elif key.endswith("_opt"):
                self.keys(value, f"train:{key}", LOSS_KEYS, strict=False)
            elif key == "scheduler":
                self.keys(value, "train:scheduler", {"type": text}, strict=False)

    def collaborative(self, opt: Mapping) -> None:
        self.keys(self.section(opt, "collab"), "collab", COLLAB_KEYS)
        entries = opt.get("degradations")
        if entries is None and not self.is_train:
            return  # testing needs no degradation sources
        if not isinstance(entries, list) or not entries:
            self.fail("degradations", f"expected a list of K degradation sources, got {entries!r}")
        num_models = opt.get("num_models")
        if _is_int(num_models) and isinstance(opt.get("network_sr"), Mapping) and num_models != len(entries):
            self.fail("degradations", f"{len(entries)} entries for num_models: {num_models} (one per model)")
        for i, entry in enumerate(entries):
            for j, source in enumerate(entry if isinstance(entry, list) else [entry]):
                where = f"degradations[{i}]" + (f"[{j}]" if isinstance(entry, list) else "")
                if not isinstance(source, Mapping):
                    self.fail(where, f"expected generator: PATH, bicubic: true or offline: NAME, got {source!r}")
                self.keys(source, where, {"generator": text, "bicubic": boolean, "offline": text})
                if len([k for k in SOURCE_KEYS if k in source]) != 1:
                    self.fail(where, f"expected exactly one of generator: PATH, bicubic: true or offline: NAME, "
                                     f"got {dict(source)!r}")
                if "generator" in source:
                    self.file(f"{where}:generator", source["generator"])


def validate_options(opt: Mapping, *, source: Any = "options", root: Path = Path("."), is_train: bool = True,
                     check_files: bool = True) -> None:
    """Check an option dict before it is used (see :class:`OptionValidator`).

    Raises:
        OptionError: the first problem, naming ``source``, the key path and what was expected (for an unknown key,
            the closest accepted one), or the missing file.
    """
    OptionValidator(source, root=Path(root), is_train=is_train, check_files=check_files).validate(opt)
