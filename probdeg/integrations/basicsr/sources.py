"""The degradation sources of ``CollaborativeSRModel`` (the entries of ``degradations:``): one class per kind, each
its keys (a :class:`~probdeg.integrations.basicsr.schema.Section`), its own checks, its paths and what it makes in the
model. The validator, the path resolution, the model and the demo all go through :func:`read_degradations`, so a new
kind is one class added to :data:`SOURCES`.

An entry is one source or a list of sources mixed per sample (the naive combination)::

    degradations:
      - {generator: experiments/g/models/net_g_latest.pth, jpeg: [40, 70]}
      - [{offline: deresnet}, {bicubic: true}]
      - {handmade: realesrgan, jpeg_range: [60, 95]}
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Optional

import torch
import yaml
from torch import Tensor

from ...checkpoint import load_network
from ...degrade import infer_scale
from ...errors import OptionError, UserError
from ...jpeg import compress_batch, is_quality_range
from ...noise_field import stable_seed
from ...presets import PRESETS_DIR
from .archs import resolve_arch
from .datasets import matlab_bicubic_tensor
from .handmade import RealESRGANDegradation
from .schema import Check, HandmadeOptions, Section, check_keys, key_path, option, shorten, text

Synthesise = Callable[[Tensor, Mapping, int], Tensor]
"""What a built source does each iteration: (HR batch, the loader's batch, iteration) -> its LR batch."""


@dataclass(frozen=True)
class SourceCheck:
    """What a source's own checks read.

    Attributes:
        scale: the run's down-sampling factor.
        file: the validator's file check, ``file(key_path, path)``: raises :class:`OptionError` for a missing file
            (does nothing when files are not checked).
    """

    scale: int
    file: Callable[[str, Any], None]


@dataclass(frozen=True)
class SourceBuild:
    """What a source needs to make LR in a model: the device, the run's scale, a seed (the run's, per rank) and its
    key path (``degradations[1]``), which keeps the draws of two sources apart."""

    device: torch.device
    scale: int
    seed: int
    where: str


def quality_range(value: Any) -> Optional[str]:
    return None if is_quality_range(value) else "[low, high] JPEG qualities with 1 <= low <= high <= 100, like [40, 70]"


def exactly_true(value: Any) -> Optional[str]:
    return None if value is True else "true"


@dataclass(frozen=True)
class DegradationSource(Section, abc.ABC):
    """Base of the kinds. ``KEY``: the key that names the kind; ``FORM``: how it is written, for messages;
    ``REFUSED``: keys of other kinds that mean something else here, with what to do instead."""

    KEY: ClassVar[str] = ""
    FORM: ClassVar[str] = ""
    REFUSED: ClassVar[Mapping[str, str]] = {}

    def check(self, where: str, context: SourceCheck) -> None:
        """Checks beyond the keys' own (files, the run's scale); raise :class:`OptionError` naming ``where``."""

    def with_paths(self, absolute: Callable[[str], str]) -> DegradationSource:
        """The same source with its file paths made absolute by ``absolute``."""
        return self

    def as_option(self) -> dict[str, Any]:
        """The mapping it is written as in an option file (keys at their default left out)."""
        return {f.name: value for f in dataclasses.fields(self)
                if (value := getattr(self, f.name)) != f.default or f.name == self.KEY}

    @abc.abstractmethod
    def build(self, context: SourceBuild) -> Synthesise:
        """What the model calls each iteration for this source's LR."""


@dataclass(frozen=True)
class GeneratorSource(DegradationSource):
    """``{generator: PATH}``: a frozen generator, fresh latents every iteration; ``jpeg: [40, 70]`` adds JPEG at a
    quality drawn per sample, the blocking a generator cannot learn (:mod:`probdeg.jpeg`)."""

    KEY: ClassVar[str] = "generator"
    FORM: ClassVar[str] = "generator: PATH"
    generator: str = option(None, text, "a generator checkpoint written by probdeg", required=True)
    jpeg: Optional[tuple[int, int]] = option(None, quality_range, "JPEG quality range added per sample",
                                             convert=lambda v: (int(v[0]), int(v[1])))

    def check(self, where: str, context: SourceCheck) -> None:
        context.file(f"{where}:generator", self.generator)

    def check_checkpoint(self, where: str, scale: int) -> None:
        """Read and probe the checkpoint (when a run starts: it builds the net): an unreadable file, an SR checkpoint
        or a generator of another scale than the run's (a x2 one in a x4 run) is an :class:`OptionError`."""
        try:
            generator = load_network(self.generator, resolve=resolve_arch)
            generator_scale = infer_scale(generator, check=True)
        except FileNotFoundError as err:
            raise OptionError(f"{where}:generator: {err}") from None
        except UserError as err:
            raise OptionError(f"{where}:generator: {self.generator}: {err} (an SR checkpoint?)"
                              if "cannot infer the scale" in str(err) else f"{where}:generator: {err}") from None
        if generator_scale != scale:
            raise OptionError(f"{where}:generator: {self.generator} is a x{generator_scale} degradation generator, "
                              f"but the run's scale is {scale}: give a x{scale} generator")

    def with_paths(self, absolute: Callable[[str], str]) -> GeneratorSource:
        return dataclasses.replace(self, generator=absolute(self.generator))

    def as_option(self) -> dict[str, Any]:
        return {"generator": self.generator, **({"jpeg": list(self.jpeg)} if self.jpeg else {})}

    def build(self, context: SourceBuild) -> Synthesise:
        generator = load_network(self.generator, resolve=resolve_arch, device=context.device)
        generator.requires_grad_(False)
        jpeg = self.jpeg

        def synthesise(hr: Tensor, data: Mapping, iteration: int) -> Tensor:
            with torch.no_grad():
                lr = generator(hr).clamp(0, 1)
            return compress_batch(lr, jpeg) if jpeg else lr
        return synthesise


@dataclass(frozen=True)
class BicubicSource(DegradationSource):
    """``{bicubic: true}``: the MATLAB bicubic of the HR crop (the loader's ``hr_bicubic`` when it made one)."""

    KEY: ClassVar[str] = "bicubic"
    FORM: ClassVar[str] = "bicubic: true"
    REFUSED: ClassVar[Mapping[str, str]] = {"jpeg": ""}
    bicubic: bool = option(True, exactly_true, "bicubic downscaling of the HR crop")

    def build(self, context: SourceBuild) -> Synthesise:
        def synthesise(hr: Tensor, data: Mapping, iteration: int) -> Tensor:
            reference = data.get("hr_bicubic")  # made by the dataset's workers when it has bicubic_reference: true
            return reference.to(context.device).clamp(0, 1) if reference is not None \
                else matlab_bicubic_tensor(hr, context.scale).clamp(0, 1)
        return synthesise


@dataclass(frozen=True)
class OfflineSource(DegradationSource):
    """``{offline: NAME}``: LR read by the dataset from a folder made by ``probdeg degrade`` (see
    ``UnpairedImageDataset.synthetic_lr``)."""

    KEY: ClassVar[str] = "offline"
    FORM: ClassVar[str] = "offline: NAME"
    REFUSED: ClassVar[Mapping[str, str]] = {"jpeg": " (compress an offline folder with probdeg degrade --jpeg)"}
    offline: str = option(None, text, "a name of datasets:train:synthetic_lr", required=True)

    def build(self, context: SourceBuild) -> Synthesise:
        key = f"lr_{self.offline}"
        return lambda hr, data, iteration: data[key].to(context.device)


HANDMADE_PRESETS = PRESETS_DIR / "handmade"


def handmade_preset(name: Any, where: str) -> dict[str, Any]:
    """The parameters of the hand-made preset ``name`` (``handmade/<name>.yml``, shipped with probdeg)."""
    known = sorted(p.stem for p in HANDMADE_PRESETS.glob("*.yml"))
    if name not in known:
        raise OptionError(f"{where}: expected a hand-made preset, one of {', '.join(known)}; got {shorten(name)}")
    return yaml.safe_load((HANDMADE_PRESETS / f"{name}.yml").read_text(encoding="utf-8"))


@dataclass(frozen=True)
class HandmadeSource(DegradationSource):
    """``{handmade: realesrgan}``: Real-ESRGAN's second-order pipeline (:mod:`~probdeg.integrations.basicsr.handmade`)
    from a preset, any of its parameters overridden beside it (``{handmade: realesrgan, jpeg_range: [60, 95]}``).
    Every iteration draws from a seed of (the run's seed, the rank, the entry, the iteration): a run is reproducible
    and a resumed one draws what the uninterrupted one would."""

    KEY: ClassVar[str] = "handmade"
    FORM: ClassVar[str] = "handmade: PRESET"
    REFUSED: ClassVar[Mapping[str, str]] = {"jpeg": " (the hand-made pipeline has jpeg_range and jpeg_range2)"}
    handmade: str = option(None, text, "the preset the parameters start from: realesrgan", required=True)
    options: HandmadeOptions = field(default=None, metadata={"check": None, "meaning": "the pipeline's parameters",
                                                             "required": False, "convert": None})

    @classmethod
    def checks(cls) -> dict[str, Check]:
        return {"handmade": text, **HandmadeOptions.checks()}

    @classmethod
    def read(cls, values: Optional[Mapping[str, Any]], where: str, *, strict: bool = True) -> HandmadeSource:
        values = dict(values or {})
        check_keys(values, where, cls.checks(), strict=strict)
        name = values.pop("handmade", None)
        preset = handmade_preset(name, key_path(where, "handmade"))
        return cls(handmade=name, options=HandmadeOptions.read({**preset, **values}, where))

    def as_option(self) -> dict[str, Any]:
        return {"handmade": self.handmade, **self.options.as_option()}

    def degradation(self, scale: int) -> RealESRGANDegradation:
        """The pipeline, as a module (``probdeg degrade`` and ``score-generator`` take it)."""
        return RealESRGANDegradation(self.options, scale=scale)

    def build(self, context: SourceBuild) -> Synthesise:
        pipeline = self.degradation(context.scale).to(context.device)

        def synthesise(hr: Tensor, data: Mapping, iteration: int) -> Tensor:
            return pipeline.degrade(hr, stable_seed("probdeg.handmade", context.seed, context.where, iteration))
        return synthesise


SOURCES: dict[str, type[DegradationSource]] = {
    kind.KEY: kind for kind in (GeneratorSource, BicubicSource, OfflineSource, HandmadeSource)}
"""Every kind of degradation source, by the key that names it."""


def forms() -> str:
    return ", ".join(kind.FORM for kind in SOURCES.values())


def read_source(values: Any, where: str) -> DegradationSource:
    """One source: its kind from the key it holds, then that kind's keys and values.

    Raises:
        OptionError: naming ``where`` (and the key): not a mapping, an unknown key (with the closest known one), a
            wrong value, a key of another kind, none or several kinds.
    """
    if not isinstance(values, Mapping):
        raise OptionError(f"{where}: expected one of {forms()}, got {shorten(values)}")
    every_key: dict[str, Check] = {}
    for kind in SOURCES.values():
        every_key.update({k: c for k, c in kind.checks().items() if k not in every_key})
    check_keys(values, where, every_key)
    kinds = [kind for key, kind in SOURCES.items() if key in values]
    if len(kinds) == 1:
        accepted = kinds[0].checks()
        for key in values:
            if key not in accepted:
                owners = [k for k, kind in SOURCES.items() if key in kind.checks()]
                raise OptionError(f"{where}:{key}: applies to {' and '.join(owners)} sources only"
                                  f"{kinds[0].REFUSED.get(key, '')}")
        return kinds[0].read(values, where)
    raise OptionError(f"{where}: expected exactly one of {forms()}, got {shorten(dict(values))}")


def read_entry(entry: Any, where: str) -> list[DegradationSource]:
    """One entry: a source, or a list of sources mixed per sample."""
    if isinstance(entry, list):
        if not entry:
            raise OptionError(f"{where}: expected a source or a non-empty list of sources, got []")
        return [read_source(source, f"{where}[{j}]") for j, source in enumerate(entry)]
    return [read_source(entry, where)]


def read_degradations(entries: Any, where: str = "degradations") -> list[list[DegradationSource]]:
    """The ``degradations`` list: K entries, one per SR model.

    Raises:
        OptionError: not a non-empty list, or a bad entry (see :func:`read_source`).
    """
    if not isinstance(entries, list) or not entries:
        raise OptionError(f"{where}: expected a list of K degradation sources, got {shorten(entries)}")
    return [read_entry(entry, f"{where}[{i}]") for i, entry in enumerate(entries)]


def write_entry(sources: list[DegradationSource]) -> Any:
    """An entry as written in an option file (a mapping, or a list when it mixes sources)."""
    return sources[0].as_option() if len(sources) == 1 else [s.as_option() for s in sources]
