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


def key_path(where: str, key: Any) -> str:
    """``where:key``, or ``key`` at the top of a file."""
    return f"{where}:{key}" if where else str(key)


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
                raise OptionError(f"{key_path(where, key)}: missing")
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
        path = key_path(where, key)
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


# ----------------------------------------------------------------------------------------------- degradation sources
def probability(value: Any) -> Optional[str]:
    x = as_number(value)
    return None if x is not None and 0 <= x <= 1 else "a probability in [0, 1]"


def value_range(minimum: Optional[float] = None, maximum: Optional[float] = None, what: str = "numbers", *,
                strict: bool = False) -> Check:
    """``[low, high]`` with ``low <= high`` (``low < high`` when ``strict``), both within ``[minimum, maximum]``."""
    def check(value: Any) -> Optional[str]:
        bounds = " within " + (f"[{minimum}, {maximum}]" if maximum is not None else f"[{minimum}, inf)") \
            if minimum is not None else ""
        expected = f"[low, high] {what} with low {'<' if strict else '<='} high{bounds}"
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            return expected
        low, high = (as_number(v) for v in value)
        ordered = low is not None and high is not None and (low < high if strict else low <= high)
        ok = ordered and math.isfinite(low) and math.isfinite(high) \
            and (minimum is None or low >= minimum) and (maximum is None or high <= maximum)
        return None if ok else expected
    return check


def distribution(size: Optional[int] = None) -> Check:
    """Probabilities (``size`` of them when given) that are >= 0 and sum to 1."""
    def check(value: Any) -> Optional[str]:
        count = f"{size} " if size else ""
        expected = f"a list of {count}probabilities >= 0 that sum to 1"
        if not isinstance(value, (list, tuple)) or not value or size is not None and len(value) != size:
            return expected
        numbers = [as_number(v) for v in value]
        ok = all(x is not None and math.isfinite(x) and x >= 0 for x in numbers) and abs(sum(numbers) - 1) <= 1e-6
        return None if ok else f"{expected}, got a sum of {sum(x or 0 for x in numbers):g}" if all(
            x is not None for x in numbers) else expected
    return check


BLUR_KERNELS = ("iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso")
"""The kernel names of ``basicsr.data.degradations.random_mixed_kernels``."""


def kernel_names(value: Any) -> Optional[str]:
    expected = "a list of blur kernel names, each one of " + ", ".join(BLUR_KERNELS)
    if not isinstance(value, (list, tuple)) or not value:
        return expected
    unknown = [v for v in value if v not in BLUR_KERNELS]
    if unknown:
        close = difflib.get_close_matches(str(unknown[0]), BLUR_KERNELS, n=1, cutoff=0.6)
        return f"{expected} (unknown kernel {shorten(unknown[0], 40)}" + (f"; did you mean {close[0]!r}?)"
                                                                           if close else ")")
    return None


def odd_size_range(value: Any) -> Optional[str]:
    ok = isinstance(value, (list, tuple)) and len(value) == 2 and all(is_int(v) and v % 2 == 1 for v in value) \
        and 3 <= value[0] <= value[1] <= 21
    return None if ok else "[low, high] odd kernel sizes with 3 <= low <= high <= 21, like [7, 21]"


def jpeg_qualities(value: Any) -> Optional[str]:
    check = value_range(1, 100, "JPEG qualities")
    return None if check(value) is None else "[low, high] JPEG qualities with 1 <= low <= high <= 100, like [30, 95]"


def as_pair(value: Any) -> tuple[float, float]:
    return float(value[0]), float(value[1])


def as_floats(value: Any) -> tuple[float, ...]:
    return tuple(float(v) for v in value)


def kernels(order: str) -> Any:
    return option(None, kernel_names, f"{order} blur: the kernel kinds, drawn per sample", required=True,
                  convert=tuple)


def kernel_probabilities(order: str) -> Any:
    return option(None, distribution(), f"{order} blur: the probability of each kind (one per kind)", required=True,
                  convert=as_floats)


def needed(check: Check, meaning: str, convert: Callable[[Any], Any]) -> Any:
    """A key every hand-made option block holds (the preset gives them all)."""
    return option(None, check, meaning, required=True, convert=convert)


# BasicSR's kernel samplers assert low < high for sigmas.
SIGMAS, BETAS = value_range(0.01, None, "sigmas", strict=True), value_range(0.01, None)
FACTORS = value_range(0.01, None, "factors")
NOISE_SIGMAS, SCALES = value_range(0, None, "sigmas (1/255)"), value_range(0, None, "scales")
UP_DOWN_KEEP = distribution(3)


@dataclass(frozen=True)
class HandmadeOptions(Section):
    """The parameters of Real-ESRGAN's second-order degradation (:mod:`probdeg.integrations.basicsr.handmade`),
    with the names of Real-ESRGAN's option files; its x4plus values are the preset ``handmade/realesrgan``. Which
    draws are per batch and which per sample is the original's (see the pipeline's module doc)."""

    usm_sharpen: bool = needed(boolean, "sharpen the HR (USMSharp, weight 0.5) before degrading it", bool)
    kernel_size_range: tuple[int, int] = needed(odd_size_range, "odd blur kernel sizes, per sample (hard-coded 7-21 "
                                                "in Real-ESRGAN)", lambda v: (int(v[0]), int(v[1])))
    kernel_list: tuple[str, ...] = kernels("first")
    kernel_prob: tuple[float, ...] = kernel_probabilities("first")
    blur_sigma: tuple[float, float] = needed(SIGMAS, "first blur: sigma range (HR px, both axes)", as_pair)
    betag_range: tuple[float, float] = needed(BETAS, "first blur: generalized Gaussian beta range", as_pair)
    betap_range: tuple[float, float] = needed(BETAS, "first blur: plateau beta range", as_pair)
    sinc_prob: float = needed(probability, "first blur: probability of a sinc kernel instead, per sample", float)
    resize_prob: tuple[float, float, float] = needed(UP_DOWN_KEEP, "first resize: up, down, keep (per batch)",
                                                     as_floats)
    resize_range: tuple[float, float] = needed(FACTORS, "first resize: factors (up U(1, high), down U(low, 1))",
                                               as_pair)
    gaussian_noise_prob: float = needed(probability, "first noise: Gaussian, else Poisson (per batch)", float)
    noise_range: tuple[float, float] = needed(NOISE_SIGMAS, "first noise: Gaussian sigma, per sample", as_pair)
    poisson_scale_range: tuple[float, float] = needed(SCALES, "first noise: Poisson scale, per sample", as_pair)
    gray_noise_prob: float = needed(probability, "first noise: probability of gray noise, per sample", float)
    jpeg_range: tuple[float, float] = needed(jpeg_qualities, "first JPEG: quality, per sample", as_pair)
    second_blur_prob: float = needed(probability, "probability of the second blur (per batch)", float)
    kernel_list2: tuple[str, ...] = kernels("second")
    kernel_prob2: tuple[float, ...] = kernel_probabilities("second")
    blur_sigma2: tuple[float, float] = needed(SIGMAS, "second blur: sigma range", as_pair)
    betag_range2: tuple[float, float] = needed(BETAS, "second blur: generalized Gaussian beta range", as_pair)
    betap_range2: tuple[float, float] = needed(BETAS, "second blur: plateau beta range", as_pair)
    sinc_prob2: float = needed(probability, "second blur: probability of a sinc kernel, per sample", float)
    resize_prob2: tuple[float, float, float] = needed(UP_DOWN_KEEP, "second resize: up, down, keep (per batch)",
                                                      as_floats)
    resize_range2: tuple[float, float] = needed(FACTORS, "second resize: factors, relative to the LR size", as_pair)
    gaussian_noise_prob2: float = needed(probability, "second noise: Gaussian, else Poisson (per batch)", float)
    noise_range2: tuple[float, float] = needed(NOISE_SIGMAS, "second noise: Gaussian sigma, per sample", as_pair)
    poisson_scale_range2: tuple[float, float] = needed(SCALES, "second noise: Poisson scale, per sample", as_pair)
    gray_noise_prob2: float = needed(probability, "second noise: probability of gray noise, per sample", float)
    jpeg_range2: tuple[float, float] = needed(jpeg_qualities, "final JPEG: quality, per sample", as_pair)
    final_sinc_prob: float = needed(probability, "probability of the final sinc filter, per sample", float)

    @classmethod
    def read(cls, values: Optional[Mapping[str, Any]], where: str, *, strict: bool = True) -> HandmadeOptions:
        options = super().read(values, where, strict=strict)
        for suffix in ("", "2"):
            names, probabilities = getattr(options, f"kernel_list{suffix}"), getattr(options, f"kernel_prob{suffix}")
            if len(names) != len(probabilities):
                raise OptionError(f"{key_path(where, 'kernel_prob' + suffix)}: {len(probabilities)} probabilities for "
                                  f"the {len(names)} kernels of kernel_list{suffix} (one per kernel)")
        return options

    def as_option(self) -> dict[str, Any]:
        """The block as plain YAML values (lists, numbers), e.g. to write a fitted block."""
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
                for f in dataclasses.fields(self)}
