"""One schema per option section that probdeg's models and datasets read: the validator checks a file against it,
and the model reads its typed values from it, so a new key is one edit here.

A section is a frozen dataclass; each field is one key, with its default, its check (what a value must be) and a
one-line meaning. :meth:`Section.read` checks a mapping and returns the typed section; :meth:`Section.checks` gives
the validator the same table.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Optional, TypeVar

from ...errors import OptionError

Check = Callable[[Any], Optional[str]]  # returns what was expected, or None when the value is fine
S = TypeVar("S", bound="Section")


# ----------------------------------------------------------------------------------------------- value checks
def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) or isinstance(value, float) and value.is_integer()


def as_number(value: Any) -> Optional[float]:
    """The number a value stands for, or None. PyYAML reads ``1e-4`` (no dot) as a string; BasicSR converts it with
    ``float()``, so it is accepted."""
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
        return None if is_int(value) and (minimum is None or value >= minimum) else expected
    return check


def number(minimum: Optional[float] = None, below: Optional[float] = None) -> Check:
    def check(value: Any) -> Optional[str]:
        x = as_number(value)
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


def either(*checks: Check) -> Check:
    def check(value: Any) -> Optional[str]:
        expected = [c(value) for c in checks]
        return None if any(e is None for e in expected) else " or ".join(e for e in expected if e)
    return check


POSITIVE, NON_NEGATIVE = integer(1), integer(0)


def shorten(value: Any, limit: int = 120) -> str:
    """``repr(value)``, cut to ``limit`` characters: a message never echoes a huge value (an expanded YAML alias)."""
    text_ = repr(value)
    return text_ if len(text_) <= limit else f"{text_[:limit]}... ({len(text_)} characters)"


# ----------------------------------------------------------------------------------------------- sections
def option(default: Any = None, check: Check = anything, meaning: str = "", *, required: bool = False,
           convert: Optional[Callable[[Any], Any]] = None) -> Any:
    """One key of a :class:`Section`: its default, its check, what it means; ``convert`` makes the typed value (e.g.
    ``float`` for a number written ``1e-4``)."""
    return field(default=default, metadata={"check": check, "meaning": meaning, "required": required,
                                            "convert": convert})


@dataclass(frozen=True)
class Section:
    """Base of the option sections. ``EXTRA``: keys accepted in the section but read by BasicSR, not by probdeg."""

    EXTRA: ClassVar[Mapping[str, Check]] = {}

    @classmethod
    def checks(cls) -> dict[str, Check]:
        """Every accepted key and its check."""
        return {**{f.name: f.metadata["check"] for f in dataclasses.fields(cls)}, **cls.EXTRA}

    @classmethod
    def required(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls) if f.metadata["required"]]

    @classmethod
    def read(cls: type[S], values: Optional[Mapping[str, Any]], where: str, *, strict: bool = True) -> S:
        """Check ``values`` (unknown keys, types, ranges, required keys) and return the typed section.

        Args:
            values: the section from the option file (``None``: every default).
            where: the section's key path, for the messages (``train:diversity_opt``).
            strict: refuse keys that are neither fields nor ``EXTRA``.

        Raises:
            OptionError: naming ``where:key`` and what was expected.
        """
        if values is None:
            values = {}
        if not isinstance(values, Mapping):
            raise OptionError(f"{where}: expected a mapping of keys, got {shorten(values)}")
        check_keys(values, where, cls.checks(), strict=strict)
        for key in cls.required():
            if values.get(key) is None:
                raise OptionError(f"{where}:{key}: missing")
        kwargs = {}
        for f in dataclasses.fields(cls):
            if f.name in values and values[f.name] is not None:
                convert = f.metadata["convert"]
                kwargs[f.name] = convert(values[f.name]) if convert is not None else values[f.name]
        return cls(**kwargs)

    @classmethod
    def describe(cls) -> str:
        """``key (default): meaning`` lines, for docstrings and ``--help``."""
        return "\n".join(f"- ``{f.name}`` ({f.default!r}): {f.metadata['meaning']}" for f in dataclasses.fields(cls))


def check_keys(section: Mapping, where: str, accepted: Mapping[str, Check], families: Mapping[str, Check] = (),
               strict: bool = True) -> None:
    """Check the keys of ``section`` (``families``: accepted key prefixes) and the types of their values.

    Raises:
        OptionError: an unknown key (with the closest accepted one) when ``strict``, or a value that fails its check.
    """
    for key, value in section.items():
        path = f"{where}:{key}" if where else str(key)
        check = accepted.get(key) if isinstance(key, str) else None
        if check is None and isinstance(key, str):
            check = next((c for prefix, c in dict(families).items() if key.startswith(prefix)), None)
        if check is None:
            if strict:
                names = list(accepted) + [f"{p}<name>" for p in dict(families)]
                close = difflib.get_close_matches(str(key), names, n=1, cutoff=0.6)
                hint = f"did you mean {close[0]!r}?" if close else f"accepted keys: {', '.join(sorted(names))}"
                raise OptionError(f"{path}: unknown key {shorten(str(key), 60)}; {hint}")
            continue
        expected = check(value)
        if expected is not None:
            raise OptionError(f"{path}: expected {expected}, got {shorten(value)}")


# ----------------------------------------------------------------------------------------------- probdeg's sections
LOADER_KEYS: dict[str, Check] = {
    "name": text, "type": text, "phase": text, "scale": POSITIVE, "batch_size_per_gpu": POSITIVE,
    "num_worker_per_gpu": NON_NEGATIVE, "dataset_enlarge_ratio": POSITIVE, "use_shuffle": boolean,
    "prefetch_mode": optional(one_of("cpu", "cuda")), "num_prefetch_queue": POSITIVE, "pin_memory": boolean,
    "persistent_workers": boolean,
}
"""The dataset keys BasicSR's loaders read (every dataset section may hold them)."""


@dataclass(frozen=True)
class UnpairedDatasetOptions(Section):
    """``datasets:<phase>`` of ``type: UnpairedImageDataset`` (:class:`probdeg.unpaired_data.UnpairedImageDataset`)."""

    EXTRA: ClassVar[Mapping[str, Check]] = LOADER_KEYS
    dataroot_hr: Any = option(None, anything, "clean HR images: a folder or a list of folders", required=True)
    dataroot_lr: Any = option(None, anything, "real LR images (unpaired): a folder or a list", required=True)
    crop_size: int = option(256, POSITIVE, "HR crop side; the LR crop is crop_size / scale", convert=int)
    scale: int = option(4, POSITIVE, "down-sampling factor (the option file's top-level scale)", convert=int)
    augment: bool = option(True, boolean, "random flips and quarter turns")
    small_images: str = option("skip", one_of("skip", "error"), "images smaller than their crop: skip or error")
    length: Optional[int] = option(None, optional(POSITIVE), "items per epoch (default: the larger folder)",
                                   convert=int)
    seed: int = option(0, NON_NEGATIVE, "mixed into every item's random numbers", convert=int)
    bicubic_reference: bool = option(True, boolean, "add hr_bicubic, the MATLAB bicubic LR of each HR crop")
    synthetic_lr: Optional[Mapping] = option(None, optional(mapping), "{name: folder} of LR made by probdeg degrade")
    cache_images: bool = option(False, boolean, "keep the decoded images in memory (small datasets)")


@dataclass(frozen=True)
class DegradationValOptions(Section):
    """``datasets:<phase>`` of ``type: DegradationValDataset``: validation images of a degradation generator."""

    EXTRA: ClassVar[Mapping[str, Check]] = LOADER_KEYS
    dataroot_hr: Any = option(None, anything, "clean HR images", required=True)
    dataroot_lr: Any = option(None, anything, "their real LR, paired by file stem (gives psnr_lr)")
    dataroot_real_lr: Any = option(None, anything, "unpaired real LR for the realism figures (default dataroot_lr)")
    scale: int = option(4, POSITIVE, "down-sampling factor", convert=int)
    crop_size: Optional[int] = option(None, optional(POSITIVE), "centre crop of each HR image, to bound the cost",
                                      convert=int)


DATASETS: dict[str, type[Section]] = {"UnpairedImageDataset": UnpairedDatasetOptions,
                                      "DegradationValDataset": DegradationValOptions}
"""probdeg's dataset types and their sections."""


@dataclass(frozen=True)
class CollabOptions(Section):
    """``collab``: the collaborative losses of ``CollaborativeSRModel`` (MSSR Eq. 4-6)."""

    lambda_sup: float = option(1.0, number(minimum=0), "weight of the supervised L1 on the model's own domain",
                               convert=float)
    lambda_col: float = option(0.01, number(minimum=0), "weight of the consistency with the peers (Eq. 5)",
                               convert=float)
    lambda_ada: float = option(10.0, number(minimum=0), "weight of the pseudo-label term on real LR (Eq. 6)",
                               convert=float)
    total_progress: Optional[int] = option(None, optional(POSITIVE), "P of r = p / P (default: train:total_iter)",
                                           convert=int)
    clamp: bool = option(False, boolean, "clamp outputs to [0, 1] before the losses (the released code does)")
    use_real_lr: bool = option(True, boolean, "the pseudo-label term on real LR (false: synthetic domain only)")


@dataclass(frozen=True)
class LossWeightOptions(Section):
    """A loss that has only a weight: ``train:color_opt``."""

    EXTRA: ClassVar[Mapping[str, Check]] = {"type": text}
    loss_weight: float = option(1.0, number(minimum=0), "weight of the term", convert=float)


@dataclass(frozen=True)
class GANLossOptions(Section):
    """``train:gan_opt``: BasicSR's ``GANLoss`` on the discriminator's high-pass view."""

    type: str = option("GANLoss", text, "BasicSR loss type")
    gan_type: str = option("vanilla", one_of("vanilla", "lsgan", "wgan", "wgan_softplus", "hinge"), "GAN objective")
    loss_weight: float = option(0.005, number(minimum=0), "weight of the generator's adversarial term (DASR: 0.005)",
                                convert=float)
    real_label_val: float = option(1.0, number(), "target of real samples", convert=float)
    fake_label_val: float = option(0.0, number(), "target of generated samples", convert=float)


@dataclass(frozen=True)
class PerceptualOptions(Section):
    """``train:perceptual_opt``: LPIPS (AlexNet) between the generated LR and its bicubic reference."""

    EXTRA: ClassVar[Mapping[str, Check]] = {"type": text}
    loss_weight: float = option(0.0, number(minimum=0), "weight (0: off; DASR: 0.01)", convert=float)
    weights: Optional[str] = option(None, optional(text), "AlexNet weights file (default: the torch hub cache)")
    target: str = option("sample", one_of("sample", "lowpass", "mean"), "what LPIPS compares with the reference: the "
                         "sample (DASR), its low-pass, or the mean of two samples (both stop fighting the noise)")


@dataclass(frozen=True)
class DiversityOptions(Section):
    """``train:diversity_opt``: reward two samples of one HR crop for differing in D's high-pass view, up to tau
    (:class:`probdeg.losses.DiversityLoss`). Off in the released recipe."""

    loss_weight: float = option(0.0, number(minimum=0), "weight of the term (0: off)", convert=float)
    tau: Optional[float] = option(None, optional(number(minimum=0)), "its bound, in D's high-pass units; ~: the "
                                  "spread two draws of the real LR's noise show there (estimated at start)",
                                  convert=float)
    tau_scale: float = option(1.0, number(minimum=0), "multiplies the estimated bound", convert=float)
    real_images: int = option(32, POSITIVE, "real LR images read to estimate their noise level", convert=int)


@dataclass(frozen=True)
class ValOptions(Section):
    """``val``: what probdeg's models read there, besides BasicSR's keys."""

    EXTRA: ClassVar[Mapping[str, Check]] = {"val_freq": POSITIVE, "save_img": boolean, "suffix": optional(text),
                                            "metrics": optional(mapping), "pbar": boolean}
    num_samples: int = option(3, POSITIVE, "LR samples per HR image in a generator's validation", convert=int)
    crop_border: Optional[int] = option(None, optional(NON_NEGATIVE), "border left out of SR PSNR (default: scale)",
                                        convert=int)
