"""Option files checked when they are loaded: unknown keys (with the closest accepted one), wrong types and ranges,
and missing data folders / weight files, each named with the file and the key path.

Every section of an option file is checked against the keys probdeg's code reads plus those BasicSR documents
(Real-ESRGAN's degradation keys included). Sections whose keys depend on a class that is not probdeg's (a
BasicSR dataset type, a BasicSR model's ``train`` / ``val`` keys) get their types checked but accept other keys:
probdeg cannot know them all. Networks are checked when they are built (:func:`probdeg.registry.check_options`).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional

from ...errors import OptionError
from ...losses import ALEXNET_FILE, alexnet_weights_path
from ...runtime import AUTOCAST_CHOICES
from .registration import register
from .schema import (
    DATASETS,
    LOADER_KEYS,
    NON_NEGATIVE,
    POSITIVE,
    Check,
    CollabOptions,
    DiversityOptions,
    GANLossOptions,
    LossWeightOptions,
    PerceptualOptions,
    ValOptions,
    anything,
    as_number,
    boolean,
    check_keys,
    integer,
    is_int,
    mapping,
    number,
    optional,
    shorten,
    text,
)
from .sources import GeneratorSource, SourceCheck, read_degradations

PROBDEG_MODELS = ("DegradationGANModel", "CollaborativeSRModel")
MODEL_NETWORKS: dict[str, tuple[str, ...]] = {"DegradationGANModel": ("network_g", "network_d"),
                                              "CollaborativeSRModel": ("network_sr",)}
"""The networks each of probdeg's models builds."""
OPTIMIZERS = ("Adam",)
"""The optimiser types BasicSR 1.4.2's ``BaseModel.get_optimizer`` builds (probdeg's models use it)."""
SCHEDULERS = ("MultiStepLR", "MultiStepRestartLR", "CosineAnnealingRestartLR", "LinearDecay")
"""The scheduler types probdeg's models build (BasicSR's three, and probdeg's ``LinearDecay``)."""
MAX_TOTAL_ITER = 10**9
"""More iterations than any run needs (the paper's is 10^5 to 10^6): a larger ``total_iter`` is a typo."""


def seed(value: Any) -> Optional[str]:
    return None if value is None or is_int(value) and value >= 0 else "a non-negative integer or ~"


def num_gpu(value: Any) -> Optional[str]:
    return None if value == "auto" or is_int(value) and value >= 0 else "a non-negative integer or auto"


def autocast_choice(value: Any) -> Optional[str]:
    return None if value is False or value in AUTOCAST_CHOICES else f"one of {', '.join(AUTOCAST_CHOICES)}"


# ----------------------------------------------------------------------------------------------- accepted keys
OPTIMIZER_KEYS = {"type": text, "lr": number(minimum=0)}
LOSS_KEYS = {"loss_weight": number(minimum=0)}


def total_iter(value: Any) -> Optional[str]:
    ok = is_int(value) and 1 <= value <= MAX_TOTAL_ITER
    return None if ok else "an integer >= 1 (at most 10^9; the paper trains 1e5-1e6)"


TRAIN_KEYS: dict[str, Check] = {"total_iter": total_iter, "warmup_iter": integer(-1), "scheduler": mapping,
                                "ema_decay": number(minimum=0, below=1)}
GAN_LOSSES: dict[str, type] = {"color_opt": LossWeightOptions, "gan_opt": GANLossOptions,
                               "perceptual_opt": PerceptualOptions, "diversity_opt": DiversityOptions}
"""The loss sections of DegradationGANModel and their schemas."""
MODEL_TRAIN_KEYS: dict[str, dict[str, Check]] = {
    "DegradationGANModel": {**TRAIN_KEYS, "optim_g": mapping, "optim_d": mapping, "autocast": autocast_choice,
                            **{key: optional(mapping) for key in GAN_LOSSES}},
    "CollaborativeSRModel": {**TRAIN_KEYS, "optim_sr": mapping, "autocast": autocast_choice},
}
LOGGER_KEYS: dict[str, Check] = {"print_freq": POSITIVE, "save_checkpoint_freq": POSITIVE, "use_tb_logger": boolean,
                                 "wandb": optional(mapping)}
# Filled in by resolve_options; accepted so that a resolved option dict validates too.
RESOLVED_PATH_KEYS = ("experiments_root", "models", "training_states", "log", "visualization", "results_root",
                      "root")
PATH_FAMILIES: dict[str, Check] = {"pretrain_network_": anything, "strict_load_": boolean, "param_key_": text}
REAL_ESRGAN_KEYS = (
    "high_order_degradation", "gt_usm", "gt_size", "queue_size", "l1_gt_usm", "percep_gt_usm", "gan_gt_usm",
    "resize_prob", "resize_range", "gaussian_noise_prob", "noise_range", "poisson_scale_range", "gray_noise_prob",
    "jpeg_range", "second_blur_prob", "resize_prob2", "resize_range2", "gaussian_noise_prob2", "noise_range2",
    "poisson_scale_range2", "gray_noise_prob2", "jpeg_range2",
)


def experiment_name(value: Any) -> Optional[str]:
    """A plain folder name: the experiment goes to ``experiments/<name>`` and must not land anywhere else."""
    if not isinstance(value, str) or not value.strip():
        return "a non-empty folder name"
    if value in (".", "..") or any(c in value for c in "/\\\0") or Path(value).is_absolute() or value.startswith("~"):
        return "a plain folder name (no /, \\, .., ~ or absolute path: experiments stay under experiments/)"
    return None


TOP_KEYS: dict[str, Check] = {
    "name": experiment_name, "model_type": text, "scale": POSITIVE, "num_gpu": num_gpu, "manual_seed": seed,
    "datasets": mapping, "path": mapping, "train": optional(mapping), "val": optional(mapping),
    "logger": optional(mapping), "dist_params": optional(mapping), "find_unused_parameters": boolean,
    "network_sr": anything, "num_models": POSITIVE, "degradations": anything, "collab": optional(mapping),
    # Filled in by resolve_options.
    "is_train": boolean, "dist": boolean, "rank": NON_NEGATIVE, "world_size": POSITIVE, "auto_resume": boolean,
    "root_path": text,
    **{key: anything for key in REAL_ESRGAN_KEYS},
}


def _non_finite(value: Any, where: str) -> Optional[str]:
    """The key path of the first NaN / Inf number inside ``value`` (a network's options), or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return where
    if isinstance(value, Mapping):
        return next((p for k, v in value.items() if (p := _non_finite(v, f"{where}:{k}"))), None)
    if isinstance(value, (list, tuple)):
        return next((p for i, v in enumerate(value) if (p := _non_finite(v, f"{where}[{i}]"))), None)
    return None


class OptionValidator:
    """Checks one option dict; every problem raises :class:`OptionError` naming ``source`` and the key path.

    Args:
        source: the option file, for the messages.
        root: the folder relative data and weight paths are read from (``--root``, else the current directory).
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
        try:
            check_keys(section, where, accepted, families, strict)
        except OptionError as err:
            raise OptionError(f"{self.source}: {err}") from None

    def schema(self, section_type: type, values: Any, where: str) -> Any:
        try:
            return section_type.read(values, where)
        except OptionError as err:
            raise OptionError(f"{self.source}: {err}") from None

    def section(self, opt: Mapping, key: str, where: str = "") -> Mapping:
        value = opt.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.fail(f"{where}{key}", f"expected a mapping of keys, got {shorten(value)}")
        return value

    def path(self, item: str) -> Path:
        path = Path(item).expanduser()
        return path if path.is_absolute() else self.root / path

    def file(self, where: str, value: Any, kind: str = "file") -> None:
        """``value`` (a path or a list of paths) must exist, relative paths read from ``root``."""
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if not isinstance(item, str) or not item:
                self.fail(where, f"expected a {kind} path (or a list of them), got {shorten(item)}")
            if self.check_files:
                path = self.path(item)
                if not (path.is_dir() if kind == "folder" else path.exists()):
                    self.fail(where, f"{kind} not found: {item}" + (f" (looked in {self.root})"
                                                                    if not Path(item).is_absolute() else ""))

    # ------------------------------------------------------------------------------------------- sections
    def validate(self, opt: Mapping) -> None:
        for key in ("name", "datasets", "path"):
            if key not in opt:
                self.fail(key, "missing; the options need a name, datasets and path")
        self.keys(opt, "", TOP_KEYS, families={"network_": mapping})
        for key, value in opt.items():
            if isinstance(key, str) and key.startswith("network_") and (where := _non_finite(value, key)):
                self.fail(where, "expected a finite number, got NaN or Inf")
        if "model_type" not in opt:
            self.fail("model_type", f"missing; expected {' or '.join(PROBDEG_MODELS)} (or another BasicSR model)")
        model_type = opt.get("model_type")
        probdeg_model = model_type in PROBDEG_MODELS
        self.networks(opt, model_type)
        self.datasets(opt)
        self.paths(self.section(opt, "path"))
        if self.is_train:
            if opt.get("train") is None:
                self.fail("train", "missing; a training run needs a train section (total_iter, optimisers, ...)")
            self.train(self.section(opt, "train"), model_type)
        val = self.section(opt, "val")
        if probdeg_model:
            self.schema(ValOptions, val, "val")
        else:
            self.keys(val, "val", ValOptions.checks(), strict=False)
        logger = self.section(opt, "logger")
        self.keys(logger, "logger", LOGGER_KEYS)
        if self.is_train:
            for key in ("print_freq", "save_checkpoint_freq"):
                if key not in logger:
                    self.fail(f"logger:{key}", "missing; expected an integer >= 1")
        if model_type == "CollaborativeSRModel":
            self.collaborative(opt)
            self.pretrained_sr(opt)

    def networks(self, opt: Mapping, model_type: Any) -> None:
        """The networks the model builds are there, and a ``scale`` / ``upscale`` they declare is the run's."""
        for key in MODEL_NETWORKS.get(model_type, ()):
            if opt.get(key) is None:
                self.fail(key, f"missing; {model_type} builds it (a mapping with its type and options)")
        scale = opt.get("scale", 4)
        for key in ("network_g", "network_sr"):
            for where, declared in _declared_scales(opt.get(key), key):
                if is_int(declared) and is_int(scale) and declared != scale:
                    self.fail(where, f"{declared} disagrees with scale: {scale} (the run's; set both to one value)")

    def pretrained_sr(self, opt: Mapping) -> None:
        """A list under ``path:pretrain_network_sr`` holds one file per model (as CollaborativeSRModel counts them:
        a list of networks, else ``num_models``, else one per ``degradations`` entry)."""
        files = (opt.get("path") or {}).get("pretrain_network_sr")
        if not isinstance(files, (list, tuple)):
            return
        nets = opt.get("network_sr")
        models = len(nets) if isinstance(nets, (list, tuple)) else opt.get("num_models",
                                                                              len(opt.get("degradations") or [1]))
        if is_int(models) and len(files) != models:
            self.fail("path:pretrain_network_sr", f"{len(files)} file(s) for {models} models: give one per model, "
                                                  "or a single file for all")

    def datasets(self, opt: Mapping) -> None:
        datasets = self.section(opt, "datasets")
        scale = opt.get("scale", 4)
        phases = ("train", "val", "test")
        for phase, dataset in datasets.items():
            where = f"datasets:{phase}"
            if not isinstance(phase, str) or phase.split("_")[0] not in phases:
                self.fail(where, "a dataset phase is train, val, val_<name>, test or test_<name>")
            if not isinstance(dataset, Mapping):
                self.fail(where, f"expected a mapping of dataset options, got {shorten(dataset)}")
            kind = dataset.get("type")
            if text(kind) is not None:
                self.fail(f"{where}:type", f"expected a dataset type name, got {shorten(kind)}")
            section = DATASETS.get(kind)
            accepted = section.checks() if section is not None else LOADER_KEYS
            self.keys(dataset, where, accepted, strict=section is not None)
            required = ("name", *(section.required() if section is not None else ()),
                        *(("batch_size_per_gpu",) if phase == "train" else ()))
            for key in required:
                if dataset.get(key) is None:
                    self.fail(f"{where}:{key}", "missing" + (f"; expected {accepted[key](None)}"
                                                             if accepted[key](None) else ""))
            crop = dataset.get("crop_size")
            if is_int(crop) and is_int(scale) and scale > 0 and crop % scale:
                self.fail(f"{where}:crop_size", f"{crop} is not a multiple of scale {scale} (try "
                                                f"{crop - crop % scale or scale})")
            if phase == "train" and opt.get("model_type") == "DegradationGANModel" and is_int(crop) and is_int(scale):
                self.crop_fits_filter(int(crop), int(scale), opt.get("network_d"), f"{where}:crop_size")
            for key, value in dataset.items():
                if isinstance(key, str) and key.startswith("dataroot") and value is not None:
                    self.file(f"{where}:{key}", value, "folder" if section is not None else "path")
            if dataset.get("meta_info_file") is not None:
                self.file(f"{where}:meta_info_file", dataset["meta_info_file"])
            for name, folders in (dataset.get("synthetic_lr") or {}).items():
                self.file(f"{where}:synthetic_lr:{name}", folders, "folder")
        if self.is_train and "train" not in datasets:
            self.fail("datasets:train", "missing; a training run needs a training set")

    def crop_fits_filter(self, crop: int, scale: int, network_d: Any, where: str) -> None:
        """The LR crop (``crop_size / scale``) is at least the discriminator's filter: the colour loss filters it
        without padding, and the wavelet needs one 2x2 block."""
        network_d = network_d if isinstance(network_d, Mapping) else {}
        kind, kernel = network_d.get("filter", "wavelet"), network_d.get("kernel_size", 5)
        need = 2 if kind == "wavelet" else kernel
        if is_int(need) and scale > 0 and crop // scale < need:
            self.fail(where, f"{crop} gives {crop // scale}x{crop // scale} LR crops at scale {scale}, smaller than "
                             f"the {need}x{need} {kind!r} filter of network_d: use crop_size >= {need * scale} or a "
                             "smaller network_d:kernel_size")

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
                self.optimizer(value, f"train:{key}", model_type)
            elif model_type == "DegradationGANModel" and key in GAN_LOSSES:
                loss = self.schema(GAN_LOSSES[key], value, f"train:{key}")
                if key == "perceptual_opt" and loss.loss_weight > 0 and self.check_files:
                    self.lpips_weights(loss.weights, f"train:{key}:weights")
            elif key.endswith("_opt"):
                self.keys(value, f"train:{key}", LOSS_KEYS, strict=False)
            elif key == "scheduler":
                self.scheduler(value, train.get("total_iter"))
                if model_type in PROBDEG_MODELS:
                    self.known_type(value.get("type"), SCHEDULERS, "train:scheduler:type", "scheduler")

    def optimizer(self, value: Mapping, where: str, model_type: Any = None) -> None:
        self.keys(value, where, {**OPTIMIZER_KEYS, "injection_lr": number(minimum=0), "weight_decay": number(minimum=0),
                                 "betas": betas, "eps": number(minimum=0), "momentum": number(minimum=0)},
                  strict=False)
        for needed in OPTIMIZER_KEYS:
            if needed not in value:
                self.fail(f"{where}:{needed}", f"missing; expected {OPTIMIZER_KEYS[needed](None)}")
        if model_type in PROBDEG_MODELS:
            self.known_type(value.get("type"), OPTIMIZERS, f"{where}:type", "optimiser")

    def known_type(self, name: Any, known: tuple[str, ...], where: str, what: str) -> None:
        if name not in known:
            self.fail(where, f"unknown {what} {name!r}{_did_you_mean(name, known)}; known: {', '.join(known)}")

    def scheduler(self, value: Mapping, total_iter: Any) -> None:
        self.keys(value, "train:scheduler", {"type": text, "decay_start": NON_NEGATIVE, "gamma": number(minimum=0),
                                             "milestones": milestones, "total_iter": POSITIVE}, strict=False)
        total = value.get("total_iter", total_iter)
        if value.get("type") == "LinearDecay":
            if "decay_start" not in value:
                self.fail("train:scheduler:decay_start", "missing; LinearDecay needs the iteration the decay starts at")
            if is_int(total) and value["decay_start"] >= total:
                self.fail("train:scheduler:decay_start", f"{value['decay_start']} must be below total_iter {total}")

    def lpips_weights(self, weights: Optional[str], where: str) -> None:
        path = alexnet_weights_path(weights if weights is None else str(self.path(weights)))
        if not path.is_file():
            self.fail(where, f"LPIPS needs the AlexNet weights file {ALEXNET_FILE}, not found at {path}: copy it "
                             "there, give its path, or set perceptual_opt:loss_weight to 0")

    def collaborative(self, opt: Mapping) -> None:
        self.schema(CollabOptions, opt.get("collab"), "collab")
        entries = opt.get("degradations")
        if entries is None and not self.is_train:
            return  # testing needs no degradation sources
        if not isinstance(entries, list) or not entries:
            self.fail("degradations", f"expected a list of K degradation sources, got {shorten(entries)}")
        num_models = opt.get("num_models")
        if is_int(num_models) and isinstance(opt.get("network_sr"), Mapping) and num_models != len(entries):
            self.fail("degradations", f"{len(entries)} entries for num_models: {num_models} (one per model)")
        try:
            sources = read_degradations(entries)
        except OptionError as err:
            raise OptionError(f"{self.source}: {err}") from None
        scale = opt.get("scale", 4)
        context = SourceCheck(scale=int(scale) if is_int(scale) else 4, file=self.file)
        for i, entry in enumerate(sources):
            for j, source in enumerate(entry):
                source.check(f"degradations[{i}]" + (f"[{j}]" if isinstance(entries[i], list) else ""), context)


def _declared_scales(net: Any, where: str) -> list[tuple[str, Any]]:
    """``(key path, value)`` of the ``scale`` / ``upscale`` a network's options declare (a wrapper's ``net`` too;
    each of a list of networks)."""
    if isinstance(net, (list, tuple)):
        return [found for i, item in enumerate(net) for found in _declared_scales(item, f"{where}[{i}]")]
    if not isinstance(net, Mapping):
        return []
    found = [(f"{where}:{key}", net[key]) for key in ("scale", "upscale") if key in net]
    return found + _declared_scales(net.get("net"), f"{where}:net")


def _did_you_mean(name: Any, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def betas(value: Any) -> Optional[str]:
    ok = isinstance(value, (list, tuple)) and len(value) == 2 and all(
        (x := as_number(v)) is not None and math.isfinite(x) and 0 <= x < 1 for v in value)
    return None if ok else "two numbers in [0, 1), like [0.9, 0.99]"


def milestones(value: Any) -> Optional[str]:
    ok = isinstance(value, (list, tuple)) and all(is_int(v) and v >= 0 for v in value)
    return None if ok else "a list of iterations (integers >= 0)"


def check_registered(opt: Mapping, source: Any) -> None:
    """``model_type`` and every dataset ``type`` name a class in BasicSR's registries (probdeg's registered): checked
    when a run starts rather than at load, as an option file may name another plugin's classes.

    Raises:
        OptionError: an unknown name, with the closest registered one.
    """
    from basicsr.utils.registry import DATASET_REGISTRY, MODEL_REGISTRY

    register()
    models, datasets = tuple(sorted(name for name, _ in MODEL_REGISTRY)), tuple(sorted(n for n, _ in DATASET_REGISTRY))
    validator = OptionValidator(source, root=Path("."))
    validator.known_type(opt.get("model_type"), models, "model_type", "model type")
    for phase, dataset in (opt.get("datasets") or {}).items():
        validator.known_type(dataset.get("type"), datasets, f"datasets:{phase}:type", "dataset type")


def check_generator_sources(opt: Mapping, source: Any) -> None:
    """The generator checkpoints among a ``CollaborativeSRModel`` run's ``degradations``, each read and probed
    (:meth:`GeneratorSource.check_checkpoint`), so that an SR checkpoint, a generator of another scale or an
    unreadable file is named before any folder is made.

    Raises:
        OptionError: naming the entry, the file and what it is.
    """
    entries = opt.get("degradations")
    if opt.get("model_type") != "CollaborativeSRModel" or not isinstance(entries, list):
        return
    for i, entry in enumerate(read_degradations(entries)):
        for j, item in enumerate(entry):
            if isinstance(item, GeneratorSource):
                where = f"degradations[{i}]" + (f"[{j}]" if isinstance(entries[i], list) else "")
                try:
                    item.check_checkpoint(where, int(opt.get("scale", 4)))
                except OptionError as err:
                    raise OptionError(f"{source}: {err}") from None


def validate_options(opt: Mapping, *, source: Any = "options", root: Path = Path("."), is_train: bool = True,
                     check_files: bool = True) -> None:
    """Check an option dict before it is used (see :class:`OptionValidator`).

    Raises:
        OptionError: the first problem, naming ``source``, the key path and what was expected (for an unknown key,
            the closest accepted one), or the missing file.
    """
    OptionValidator(source, root=Path(root), is_train=is_train, check_files=check_files).validate(opt)
