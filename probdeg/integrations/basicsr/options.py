"""Option files, read safely and resolved the way BasicSR's ``parse_options`` does, without its hazards.

BasicSR reads options with PyYAML's unsafe loader (a ``!!python/object/apply`` tag runs code) and applies
``--force_yml`` with ``exec``; here YAML goes through a SafeLoader that keeps key order, overrides are parsed as
YAML scalars, and experiment folders go under the current directory (never under site-packages).
"""

from __future__ import annotations

import random
import warnings
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Optional, Union

import yaml

from ...checks import is_count
from ...errors import OptionError
from .schema import shorten
from .sources import HandmadeSource, read_degradations, write_entry
from .validation import validate_options


class _OrderedSafeLoader(yaml.SafeLoader):
    pass


def _construct_ordered(loader: yaml.SafeLoader, node: yaml.MappingNode) -> OrderedDict:
    loader.flatten_mapping(node)
    return OrderedDict(loader.construct_pairs(node))


_OrderedSafeLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_ordered)


MAX_FILE_BYTES = 1 << 20
"""Largest option file read (1 MiB; BasicSR's own are a few KiB)."""
MAX_EXPANDED_VALUES = 100_000
"""Most values an option file may hold once its YAML aliases are expanded, as a log or a message would print them."""


def expanded_size(value: Any) -> int:
    """How many values ``value`` holds with every shared reference (YAML alias) counted each time it is used.

    Computed in one pass over the distinct objects, so a file of nested aliases ("billion laughs") is measured
    without being expanded.
    """
    sizes: dict[int, int] = {}

    def size(node: Any) -> int:
        if not isinstance(node, (dict, list, tuple)):
            return 1
        if id(node) in sizes:
            return sizes[id(node)]
        children = node.values() if isinstance(node, dict) else node
        sizes[id(node)] = 1 + sum(size(child) for child in children)
        return sizes[id(node)]

    return size(value)


def check_bounded(opt: Any, source: Any) -> None:
    """Refuse options whose expanded size passes :data:`MAX_EXPANDED_VALUES` (printing them would fill the memory)."""
    size = expanded_size(opt)
    if size > MAX_EXPANDED_VALUES:
        raise OptionError(f"{source}: the options expand to {size:,} values (YAML aliases used within aliases?); at "
                          f"most {MAX_EXPANDED_VALUES:,} are accepted")


def read_yaml(path: Union[str, Path]) -> OrderedDict:
    """Read an option file with a safe loader (key order kept).

    Raises:
        FileNotFoundError: no such file.
        OptionError: too large, not valid YAML, a tag that would construct Python objects, aliases that expand past
            :data:`MAX_EXPANDED_VALUES` values, or not a mapping.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"option file not found: {path}")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise OptionError(f"{path} is {path.stat().st_size:,} bytes; an option file may have at most "
                          f"{MAX_FILE_BYTES:,} (is it an option file?)")
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.load(f, Loader=_OrderedSafeLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.constructor.ConstructorError as err:
        raise OptionError(f"{path}: refused a YAML tag that would construct a Python object (never executed): "
                          f"{err.problem} {err.problem_mark}") from err
    except yaml.YAMLError as err:
        raise OptionError(f"{path} is not valid YAML: {err}") from err
    except UnicodeDecodeError as err:
        raise OptionError(f"{path} is not UTF-8 text (byte {err.start}: {err.reason}); is it an option file?") from err
    except (ValueError, TypeError) as err:  # a tagged scalar that does not convert, e.g. !!float 1e-4x
        raise OptionError(f"{path} is not valid YAML: a value could not be read ({err})") from err
    if not isinstance(data, dict):
        raise OptionError(f"{path}: an option file must be a mapping of keys, got {type(data).__name__}")
    check_bounded(data, path)
    return data


def apply_overrides(opt: dict, overrides: list[str]) -> None:
    """Apply ``key:sub:key=value`` overrides; values are parsed as YAML (never evaluated as code); missing sections
    are created (the validator then checks their keys)."""
    for entry in overrides:
        if "=" not in entry:
            raise OptionError(f"override {shorten(entry)} must look like section:key=value")
        keys, value = entry.split("=", 1)
        node = opt
        parts = keys.strip().split(":")
        for key in parts[:-1]:
            if node.get(key) is None:
                node[key] = OrderedDict()  # a section the file leaves out, e.g. train:diversity_opt
            if not isinstance(node[key], dict):
                raise OptionError(f"override {shorten(entry)}: {key!r} is not a section of the options")
            node = node[key]
        try:
            node[parts[-1]] = yaml.safe_load(value)
        except yaml.YAMLError as err:
            raise OptionError(f"override {shorten(entry)}: the value is not valid YAML: {err}") from err


SCHEDULE_POINTS = ("decay_start", "milestones", "periods")
"""The iteration counts of a ``train:scheduler`` that :func:`scale_schedule` moves with ``train:total_iter``. A
scheduler with a ``total_iter`` of its own has a length fixed apart from the run's, and is left alone."""


def scale_schedule(opt: dict, total_before: Any, overrides: Sequence[str]) -> Optional[str]:
    """When an override sets ``train:total_iter`` and none touches ``train:scheduler``, move the scheduler's iteration
    counts (:data:`SCHEDULE_POINTS`) by the same ratio, so that a shortened run decays at the same fraction of it.

    Args:
        opt: the options, overrides applied.
        total_before: the file's ``train:total_iter``.
        overrides: the ``section:key=value`` overrides.

    Returns:
        One line saying what moved, or ``None`` when nothing did.
    """
    keys = [entry.split("=", 1)[0].strip() for entry in overrides]
    train = opt.get("train")
    if "train:total_iter" not in keys or any(k.startswith("train:scheduler") for k in keys) or \
            not isinstance(train, dict) or not isinstance(train.get("scheduler"), dict) or \
            "total_iter" in train["scheduler"]:  # the schedule's own length: stopping early keeps it
        return None
    total = train.get("total_iter")
    if not (is_count(total) and is_count(total_before)) or total == total_before:
        return None
    scheduler = train["scheduler"]
    changes = []
    for key, value in _scaled_points(scheduler, total_before, total).items():
        if value != scheduler[key]:
            changes.append(f"{key} {scheduler[key]} -> {value}")
            scheduler[key] = value
    if not changes:
        return None
    return (f"train:total_iter {total_before} -> {total}: train:scheduler scaled with it ({', '.join(changes)}); "
            "set train:scheduler:... in --set to choose yourself")


def _scaled_points(scheduler: Mapping[str, Any], total_before: int, total: int) -> dict[str, Any]:
    """The scheduler's iteration counts (:data:`SCHEDULE_POINTS`) moved from a run of ``total_before`` iterations to
    one of ``total``, rounded down (never below 1; a linear decay starts before the end)."""

    def moved(value: Any) -> Any:
        if isinstance(value, list):
            return [moved(v) for v in value]
        return max(1, value * total // total_before) if is_count(value) else value

    points = {key: moved(scheduler[key]) for key in SCHEDULE_POINTS if key in scheduler}
    if scheduler.get("type") == "LinearDecay" and is_count(points.get("decay_start")):
        points["decay_start"] = min(points["decay_start"], total - 1)
    return points


def scaled_schedule(train: Mapping[str, Any], total_iter: int) -> dict[str, Any]:
    """The ``--set`` overrides that move a ``train:`` section's scheduler to a run of ``total_iter`` iterations, in the
    section's own ratios (what :func:`scale_schedule` does to options in place).

    Example: a preset of 300 iterations decaying from 200, run for 1600: ``{"train:scheduler:decay_start": 1066}``.
    """
    points = _scaled_points(train.get("scheduler") or {}, int(train["total_iter"]), total_iter)
    return {f"train:scheduler:{key}": value for key, value in points.items()}


def resolve_options(opt: dict, *, root: Union[str, Path], is_train: bool = True, dist: bool = False, rank: int = 0,
                    world_size: int = 1, auto_resume: bool = False, debug: bool = False) -> dict:
    """Fill in what BasicSR's ``parse_options`` adds: seed, phases, scale, experiment paths under ``root``."""
    for key in ("name", "datasets", "path"):
        if key not in opt:
            raise OptionError(f"the options need a {key!r} section")
    opt["dist"], opt["rank"], opt["world_size"] = dist, rank, world_size
    if opt.get("manual_seed") is None:
        opt["manual_seed"] = random.randint(1, 10000)
    opt["auto_resume"] = auto_resume
    opt["is_train"] = is_train
    if debug and not opt["name"].startswith("debug"):
        opt["name"] = "debug_" + opt["name"]
    if opt.get("num_gpu", "auto") == "auto":
        import torch

        opt["num_gpu"] = torch.cuda.device_count()
    for phase, dataset in opt["datasets"].items():
        dataset["phase"] = phase.split("_")[0]
        if "scale" in opt:
            dataset["scale"] = opt["scale"]
    root = Path(root).resolve()
    opt["root_path"] = str(root)
    resolve_paths(opt, root)
    if is_train:
        experiments = root / "experiments" / opt["name"]
        opt["path"].update(experiments_root=str(experiments), models=str(experiments / "models"),
                           training_states=str(experiments / "training_states"), log=str(experiments),
                           visualization=str(experiments / "visualization"))
        if "debug" in opt["name"]:
            if "val" in opt:
                opt["val"]["val_freq"] = 8
            opt.setdefault("logger", {}).update(print_freq=1, save_checkpoint_freq=8)
    else:
        results = root / "results" / opt["name"]
        opt["path"].update(results_root=str(results), log=str(results), visualization=str(results / "visualization"))
    return opt


def resolve_paths(opt: dict, root: Path) -> None:
    """Make every data and weight path of ``opt`` absolute, relative ones read from ``root``, so that the loaders
    and models read what the validator checked, whatever the current directory."""
    def absolute(value: Any) -> Any:
        if isinstance(value, list):
            return [absolute(v) for v in value]
        if not isinstance(value, str):
            return value
        path = Path(value).expanduser()
        return str(path if path.is_absolute() else root / path)

    for dataset in (opt.get("datasets") or {}).values():
        for key in list(dataset):
            if isinstance(key, str) and (key.startswith("dataroot") or key == "meta_info_file"):
                dataset[key] = absolute(dataset[key])
        if isinstance(dataset.get("synthetic_lr"), dict):
            dataset["synthetic_lr"] = {name: absolute(folders) for name, folders in dataset["synthetic_lr"].items()}
    for key, value in list(opt["path"].items()):
        if value is not None and ("resume_state" in key or "pretrain_network" in key):
            opt["path"][key] = absolute(value)
    if opt.get("degradations"):
        opt["degradations"] = [write_entry([source.with_paths(absolute) for source in entry])
                               for entry in read_degradations(opt["degradations"])]


def load_options(path: Union[str, Path], *, root: Optional[Union[str, Path]] = None,
                 overrides: Optional[list[str]] = None, check_files: bool = True, **resolve: Any) -> dict:
    """Read, override, validate and resolve an option file. ``root`` defaults to the current directory; relative
    data and weight paths are looked for there (``check_files=False`` skips that, e.g. to build a model alone).

    Raises:
        FileNotFoundError: no option file.
        OptionError: unreadable YAML, an unknown key, a wrong type or range, or a missing data folder or weight file
            (see :mod:`probdeg.integrations.basicsr.validation`).
    """
    root = Path(root) if root is not None else Path.cwd()
    opt = read_yaml(path)
    total_before = (opt.get("train") or {}).get("total_iter") if isinstance(opt.get("train"), dict) else None
    apply_overrides(opt, overrides or [])
    scaled = scale_schedule(opt, total_before, overrides or [])
    if scaled is not None:
        warnings.warn(scaled, stacklevel=2)
    validate_options(opt, source=path, root=root, is_train=resolve.get("is_train", True), check_files=check_files)
    return resolve_options(opt, root=root, **resolve)


def read_handmade(spec: str) -> HandmadeSource:
    """A hand-made source named on the command line (``--handmade``): a preset name (``realesrgan``), or an option
    file (``.yml``) holding one block ``{handmade: PRESET, key: value, ...}`` (what ``degradations:`` takes).

    Raises:
        FileNotFoundError: a ``.yml`` that does not exist.
        OptionError: an unknown preset, or a bad key or value, naming the file and the key.
    """
    path = Path(spec).expanduser()
    if path.suffix.lower() in (".yml", ".yaml") or path.is_file():
        values = read_yaml(path)
        try:
            return HandmadeSource.read(values, "")
        except OptionError as err:
            raise OptionError(f"{path}: {err}") from None
    return HandmadeSource.read({"handmade": spec}, "--handmade")
