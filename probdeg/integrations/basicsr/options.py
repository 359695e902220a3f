"""Option files, read safely and resolved the way BasicSR's ``parse_options`` does, without its hazards.

BasicSR reads options with PyYAML's unsafe loader (a ``!!python/object/apply`` tag runs code) and applies
``--force_yml`` with ``exec``; here YAML goes through a SafeLoader that keeps key order, overrides are parsed as
YAML scalars, and experiment folders go under the current directory (never under site-packages).
"""

from __future__ import annotations

import random
from collections import OrderedDict
from pathlib import Path
from typing import Any, Optional, Union

import yaml


class OptionError(ValueError):
    """An option file that cannot be used; the message names the file and the key."""


class _OrderedSafeLoader(yaml.SafeLoader):
    pass


def _construct_ordered(loader: yaml.SafeLoader, node: yaml.MappingNode) -> OrderedDict:
    loader.flatten_mapping(node)
    return OrderedDict(loader.construct_pairs(node))


_OrderedSafeLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_ordered)


def read_yaml(path: Union[str, Path]) -> OrderedDict:
    """Read an option file with a safe loader (key order kept).

    Raises:
        FileNotFoundError: no such file.
        OptionError: not valid YAML, a tag that would construct Python objects, or not a mapping.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"option file not found: {path}")
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
    return data


def apply_overrides(opt: dict, overrides: list[str]) -> None:
    """Apply ``key:sub:key=value`` overrides; values are parsed as YAML scalars (never evaluated as code)."""
    for entry in overrides:
        if "=" not in entry:
            raise OptionError(f"override {entry!r} must look like section:key=value")
        keys, value = entry.split("=", 1)
        node = opt
        parts = keys.strip().split(":")
        for key in parts[:-1]:
            if not isinstance(node.get(key), dict):
                raise OptionError(f"override {entry!r}: {key!r} is not a section of the options")
            node = node[key]
        node[parts[-1]] = yaml.safe_load(value)


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
    for key, value in list(opt["path"].items()):
        if value is not None and ("resume_state" in key or "pretrain_network" in key):
            expand = lambda v: str(Path(v).expanduser())  # noqa: E731
            opt["path"][key] = [expand(v) for v in value] if isinstance(value, list) else expand(value)
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


def load_options(path: Union[str, Path], *, root: Optional[Union[str, Path]] = None,
                 overrides: Optional[list[str]] = None, check_files: bool = True, **resolve: Any) -> dict:
    """Read, override, validate and resolve an option file. ``root`` defaults to the current directory; relative
    data and weight paths are looked for there (``check_files=False`` skips that, e.g. to build a model alone).

    Raises:
        FileNotFoundError: no option file.
        OptionError: unreadable YAML, an unknown key, a wrong type or range, or a missing data folder or weight file
            (see :mod:`probdeg.integrations.basicsr.validation`).
    """
    from .validation import validate_options  # it imports OptionError from here

    root = Path(root) if root is not None else Path.cwd()
    opt = read_yaml(path)
    apply_overrides(opt, overrides or [])
    validate_options(opt, source=path, root=root, is_train=resolve.get("is_train", True), check_files=check_files)
    return resolve_options(opt, root=root, **resolve)
