"""`Probabilistic`: turn any HR->LR network into a probabilistic one by injecting latents into its features.

The wrapped network's code is not edited: latents are added by forward hooks (``before`` a module, on its first
input, or ``after`` it, on its output). Its parameters keep their names under ``net.``, and the injection layers
live under ``injections.``, so deterministic weights load unchanged.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Literal, Optional, Union

import torch
from torch import Tensor, nn

from .injection import SAMPLE_MODES, LatentOptions, NoiseInjection, SampleMode, SamplingContext, check_latent_options

if TYPE_CHECKING:
    from typing_extensions import Unpack

Where = Literal["before", "after"]
Predicate = Callable[[str, nn.Module], bool]
PointSpec = Union[None, str, Sequence[str], type, tuple, Predicate]

DEFAULT_MAX_POINTS = 16


@dataclass(frozen=True)
class InjectionPoint:
    """Where one latent goes, as found by the probe forward.

    Attributes:
        name: qualified module name inside the wrapped net.
        where: ``"before"`` (on the module's first input) or ``"after"`` (on its output).
        module_type: class name of the module.
        shape: (C, H, W) of the feature at that point for the probe input.
    """

    name: str
    where: Where
    module_type: str
    shape: tuple[int, int, int]


class _Injector:
    """The forward hook of one point. A plain object (not a closure), so ``copy.deepcopy`` keeps it tied to the
    copied layer."""

    def __init__(self, layer: NoiseInjection, where: Where) -> None:
        self.layer = layer
        self.where = where

    def __call__(self, module: nn.Module, args: tuple, output: Any = None) -> Any:
        if self.where == "before":
            if not args or not isinstance(args[0], Tensor):
                raise TypeError(f"cannot inject before {self.layer.name!r}: its first input is not a tensor")
            return (self.layer(args[0]),) + tuple(args[1:])
        if not isinstance(output, Tensor):
            raise TypeError(f"cannot inject after {self.layer.name!r}: its output is not a tensor")
        return self.layer(output)


def _parse_point(spec: str, default_where: Where) -> tuple[Where, str]:
    where: Where = default_where
    for prefix in ("before:", "after:"):
        if spec.startswith(prefix):
            where = prefix[:-1]  # type: ignore[assignment]
            spec = spec[len(prefix):]
    return where, spec


def _name_regex(pattern: str) -> re.Pattern:
    # "*" stays inside one dotted component ("blocks.*" is blocks.0 .. blocks.7, not their children); "**" crosses.
    parts = re.split(r"(\*\*|\*|\?)", pattern)
    table = {"**": ".*", "*": "[^.]*", "?": "[^.]"}
    return re.compile("".join(table.get(part, re.escape(part)) for part in parts))


def _matches(pattern: str, name: str, module: nn.Module) -> bool:
    if pattern.startswith("type:"):
        return type(module).__name__ == pattern[len("type:"):]
    return _name_regex(pattern).fullmatch(name) is not None


def _probe(net: nn.Module, example_input: Tensor) -> tuple[list[str], dict[str, tuple], dict[str, tuple]]:
    """Run one forward and record, for each submodule, its call order and its first input and output shapes."""
    order: list[str] = []
    in_shapes: dict[str, tuple] = {}
    out_shapes: dict[str, tuple] = {}
    handles = []

    def record(name: str):
        def hook(module: nn.Module, args: tuple, output: Any) -> None:
            if name in in_shapes:
                return
            order.append(name)
            first = args[0] if args else None
            in_shapes[name] = tuple(first.shape) if isinstance(first, Tensor) else ()
            out_shapes[name] = tuple(output.shape) if isinstance(output, Tensor) else ()
        return hook

    for name, module in net.named_modules():
        if name:
            handles.append(module.register_forward_hook(record(name)))
    modes = {m: m.training for m in net.modules()}
    try:
        net.eval()
        with torch.no_grad():
            net(example_input)
    finally:
        for h in handles:
            h.remove()
        for m, training in modes.items():
            m.training = training
    return order, in_shapes, out_shapes


def _default_example_input(net: nn.Module) -> Tensor:
    first_conv = next((m for m in net.modules() if isinstance(m, nn.modules.conv._ConvNd)), None)
    if first_conv is None:
        raise ValueError("cannot guess an input for this net (it has no Conv layer): pass example_input=")
    param = next(net.parameters())
    gen = torch.Generator().manual_seed(0)  # the probe must not consume the user's global RNG stream
    x = torch.rand((1, first_conv.in_channels, 64, 64), generator=gen)
    return x.to(device=param.device, dtype=param.dtype)


def _select_points(
    net: nn.Module, at: PointSpec, where: Where, order: list[str], in_shapes: dict, out_shapes: dict,
    input_channels: int, max_points: Optional[int],
) -> list[tuple[str, Where]]:
    modules = dict(net.named_modules())
    if at is None:
        at = getattr(net, "injection_points", None) or "auto"
    if at == "auto":
        # Auto: every conv whose feature at the point is a real feature map: more channels than the image and
        # larger than 1x1 (this skips the image-facing head/tail convs and squeeze-excitation convs).
        chosen = []
        for name in order:
            module = modules[name]
            shape = in_shapes[name] if where == "before" else out_shapes[name]
            if isinstance(module, nn.modules.conv._ConvNd) and len(shape) == 4 and shape[1] > input_channels \
                    and shape[2] * shape[3] > 1:
                chosen.append((name, where))
        if max_points is not None and len(chosen) > max_points:
            step = len(chosen) / max_points
            chosen = [chosen[int(i * step)] for i in range(max_points)]
        return chosen

    if isinstance(at, type) or (isinstance(at, tuple) and at and all(isinstance(t, type) for t in at)):
        return [(n, where) for n in order if isinstance(modules[n], at)]
    if callable(at) and not isinstance(at, str):
        return [(n, where) for n in order if at(n, modules[n])]
    specs = [at] if isinstance(at, str) else list(at)
    chosen: list[tuple[str, Where]] = []
    for spec in specs:
        if not isinstance(spec, str):
            raise TypeError(f"injection point specs must be strings, got {spec!r}")
        point_where, pattern = _parse_point(spec, where)
        hits = [n for n in order if _matches(pattern, n, modules[n])]
        if not hits:
            known = [n for n in modules if n]
            if pattern in modules:
                raise ValueError(f"module {pattern!r} was not called by the probe forward: pass an example_input "
                                 "that runs it")
            close = difflib.get_close_matches(pattern, known, n=5)
            hint = f"; close names: {', '.join(close)}" if close else f"; modules are e.g. {', '.join(known[:8])}"
            raise ValueError(f"injection point {spec!r} matches no module of {type(net).__name__}{hint}")
        chosen.extend((n, point_where) for n in hits if (n, point_where) not in chosen)
    chosen.sort(key=lambda p: order.index(p[0]))
    return chosen


class Probabilistic(nn.Module):
    """Wrap a degradation network so that each forward samples latents at chosen feature maps (Eq. 1-3).

    Args:
        net: any ``nn.Module`` mapping an image batch to an image batch; its code is not changed.
        at: where to inject. ``None``: the net's own ``injection_points`` attribute when it has one (probdeg's
            archs declare the released code's points), else ``"auto"``. ``"auto"``: before (or after, see
            ``where``) every conv whose feature map has more channels than the input image and is larger than 1x1,
            at most ``max_points`` of them evenly spread in call order. A string or list of strings: module-name
            patterns (``"blocks.*"``: ``*`` matches within one dotted component, ``**`` across them),
            ``"type:ClassName"`` for modules of that class, each optionally prefixed ``"before:"`` / ``"after:"``
            to override ``where`` for that entry. A class or tuple of classes. A predicate ``(name, module) -> bool``.
        where: ``"before"`` injects into a module's first input, ``"after"`` into its output.
        example_input: input used once to find the points' channel counts; default a (1, C_in, 64, 64) image with
            C_in from the first conv.
        max_points: cap on the number of automatic points (``None``: no cap).
        latent: every latent's options (:class:`probdeg.NoiseInjection` has their defaults): ``sigma``
            (``"channel"``, the released code's learned per-channel scale x ``std``, or ``"conditional"``, Eq. 2-3:
            sigma is a function of the feature), ``std`` (fixed noise scale, 0.1), ``noise`` (``"shared"``: one
            spatial map for all channels, or ``"per_channel"``), ``mean_shift`` (``conditional`` only: a learned,
            zero-initialised shift of each latent's mean), ``init_strength`` (initial noise scale; 0 keeps the
            wrapped net bit-identical to the bare one until trained).

    Shape:
        input (B, C, H, W) -> the net's output; with ``n_samples=n > 1``, (B, n, *out) with ``n`` samples per image.

    Example:
        >>> G = Probabilistic(MyDegradationNet(), at="type:ResidualBlock")
        >>> lr = G(hr)                                  # one random sample, in train and eval mode alike
        >>> lrs = G(hr, n_samples=4, seed=0)            # (B, 4, 3, h, w), reproducible
        >>> lr_mean = G(hr, mode="mean")                # eps = 0
    """

    def __init__(
        self,
        net: nn.Module,
        *,
        at: PointSpec = None,
        where: Where = "before",
        example_input: Optional[Tensor] = None,
        max_points: Optional[int] = DEFAULT_MAX_POINTS,
        **latent: Unpack[LatentOptions],
    ) -> None:
        super().__init__()
        if not isinstance(net, nn.Module):
            raise TypeError(f"Probabilistic wraps an nn.Module, got {type(net).__name__}")
        if isinstance(net, Probabilistic):
            raise TypeError("this net is already Probabilistic: wrap the plain net once")
        if where not in ("before", "after"):
            raise ValueError(f"where must be 'before' or 'after', got {where!r}")
        options = check_latent_options(dict(latent), "Probabilistic")
        self.net = net
        self.sampling = SamplingContext()
        if example_input is None:
            example_input = _default_example_input(net)
        order, in_shapes, out_shapes = _probe(net, example_input)
        chosen = _select_points(net, at, where, order, in_shapes, out_shapes, example_input.shape[1], max_points)
        if not chosen:
            raise ValueError(f"no injection point selected in {type(net).__name__} by at={at!r}")

        modules = dict(net.named_modules())
        self.points: list[InjectionPoint] = []
        self.injections = nn.ModuleList()
        self._handles: list = []
        for name, point_where in chosen:
            shape = in_shapes[name] if point_where == "before" else out_shapes[name]
            if len(shape) != 4:
                raise ValueError(f"cannot inject {point_where} {name!r} ({type(modules[name]).__name__}): the "
                                 f"feature there has shape {shape}, a (B, C, H, W) tensor is needed")
            layer = NoiseInjection(shape[1], **options, context=self.sampling, name=f"{point_where}:{name}")
            layer.to(device=example_input.device, dtype=example_input.dtype)
            self.injections.append(layer)
            self.points.append(InjectionPoint(name, point_where, type(modules[name]).__name__, tuple(shape[1:])))
        self._input_hw = tuple(example_input.shape[-2:])
        self.config: dict[str, Any] = {"at": [f"{p.where}:{p.name}" for p in self.points], **options}
        self._attach()

    # ----------------------------------------------------------------------------------------------- hooks
    def _attach(self) -> None:
        modules = dict(self.net.named_modules())
        for point, layer in zip(self.points, self.injections):
            injector = _Injector(layer, point.where)
            module = modules[point.name]
            hook = module.register_forward_pre_hook if point.where == "before" else module.register_forward_hook
            self._handles.append(hook(injector))

    def unwrap(self) -> nn.Module:
        """Remove the hooks and return the plain net (its weights as trained; the latents are dropped)."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        return self.net

    # ----------------------------------------------------------------------------------------------- sampling
    def forward(
        self,
        x: Tensor,
        *args: Any,
        n_samples: int = 1,
        mode: Optional[SampleMode] = None,
        temperature: Optional[float] = None,
        generator: Optional[torch.Generator] = None,
        seed: Optional[int] = None,
        **kwargs: Any,
    ) -> Any:
        """Run the net with fresh latents.

        Args:
            x: input batch.
            n_samples: samples per input; above 1 the output gains a sample axis after the batch axis.
            mode: ``"random"`` (default, also in eval mode) or ``"mean"`` (eps = 0); default ``self.sampling.mode``.
            temperature: multiplies eps; default ``self.sampling.temperature`` (1).
            generator: ``torch.Generator`` for reproducible samples.
            seed: shortcut for a fresh generator on ``x``'s device seeded with ``seed``.

        Returns:
            The net's output: (B, ...) or, with ``n_samples > 1``, (B, n_samples, ...).
        """
        if mode is not None and mode not in SAMPLE_MODES:
            raise ValueError(f"mode must be one of {SAMPLE_MODES}, got {mode!r}")
        if n_samples < 1:
            raise ValueError(f"n_samples must be >= 1, got {n_samples}")
        if seed is not None:
            if generator is not None:
                raise ValueError("pass either seed or generator, not both")
            generator = torch.Generator(device=x.device).manual_seed(int(seed))
        ctx = self.sampling
        saved = (ctx.mode, ctx.temperature, ctx.generator)
        ctx.mode = mode if mode is not None else ctx.mode
        ctx.temperature = float(temperature) if temperature is not None else ctx.temperature
        ctx.generator = generator
        try:
            if n_samples == 1:
                return self.net(x, *args, **kwargs)
            out = self.net(x.repeat_interleave(n_samples, dim=0), *args, **kwargs)
            if not isinstance(out, Tensor):
                raise TypeError("n_samples > 1 needs a net that returns one tensor")
            return out.unflatten(0, (x.shape[0], n_samples))
        finally:
            ctx.mode, ctx.temperature, ctx.generator = saved

    def set_sampling(self, mode: Optional[SampleMode] = None, temperature: Optional[float] = None) -> Probabilistic:
        """Change the default sampling mode / temperature used when ``forward`` is called without them."""
        if mode is not None:
            if mode not in SAMPLE_MODES:
                raise ValueError(f"mode must be one of {SAMPLE_MODES}, got {mode!r}")
            self.sampling.mode = mode
        if temperature is not None:
            self.sampling.temperature = float(temperature)
        return self

    # ----------------------------------------------------------------------------------------------- weights
    def injection_parameters(self) -> list[nn.Parameter]:
        """The latent layers' parameters (noise scales, sigma and mean-shift convs)."""
        return list(self.injections.parameters())

    def net_parameters(self) -> list[nn.Parameter]:
        """The wrapped net's own parameters."""
        return list(self.net.parameters())

    def param_groups(self, lr: float, injection_lr: Optional[float] = None, **group_options: Any) -> list[dict]:
        """Two optimiser groups: the net at ``lr``, the injections at ``injection_lr`` (default ``lr``)."""
        return param_groups(self, lr, injection_lr, **group_options)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Load a wrapped state dict, or a bare net's state dict (e.g. pretrained deterministic weights).

        A bare state dict (no key of this wrapper's own) goes into ``self.net`` with its keys unchanged; the
        injections keep their values (zero after construction, i.e. the deterministic net).
        """
        own_keys = set(self.state_dict().keys())
        if state_dict and not any(key in own_keys for key in state_dict):
            return self.net.load_state_dict(state_dict, strict=strict, assign=assign)
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    # ----------------------------------------------------------------------------------------------- display
    def summary(self) -> str:
        """A table of the injection points: where each latent goes, its feature size and parameter count."""
        h0, w0 = self._input_hw
        rows = [("#", "where", "module", "type", "channels", "resolution", "params")]
        for i, (point, layer) in enumerate(zip(self.points, self.injections)):
            c, h, w = point.shape
            scale = f"{h}x{w}" + (f" (1/{h0 // h})" if h and h0 % h == 0 and h != h0 else "")
            rows.append((str(i), point.where, point.name, point.module_type, str(c), scale,
                         str(sum(p.numel() for p in layer.parameters()))))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
        total = sum(p.numel() for p in self.injection_parameters())
        head = (f"Probabilistic({type(self.net).__name__}): {len(self.points)} latents, sigma={self.config['sigma']}, "
                f"std={self.config['std']:g}, noise={self.config['noise']}, probe input {h0}x{w0}")
        return "\n".join([head, *lines, f"injection parameters: {total}"])

    def extra_repr(self) -> str:
        return f"points={len(self.points)}, sigma={self.config['sigma']}, std={self.config['std']:g}"


def split_parameters(model: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """Split any model's parameters into (others, latent-injection parameters). Works through DDP / compile
    wrappers, since it looks for :class:`NoiseInjection` submodules.
    """
    injection_ids = {id(p) for m in model.modules() if isinstance(m, NoiseInjection) for p in m.parameters()}
    params = list(model.parameters())
    return [p for p in params if id(p) not in injection_ids], [p for p in params if id(p) in injection_ids]


def param_groups(model: nn.Module, lr: float, injection_lr: Optional[float] = None, **group_options: Any) -> list[dict]:
    """Optimiser parameter groups with the injection parameters in their own group (own lr, as released).

    Args:
        model: any module, wrapped or not (a model without latents gives one group).
        lr: learning rate of the ordinary parameters.
        injection_lr: learning rate of the injection parameters (default ``lr``).
        group_options: extra keys for both groups (e.g. ``weight_decay``).

    Returns:
        A list of one or two dicts for ``torch.optim`` constructors; the injection group has ``name="injection"``.
    """
    base, injection = split_parameters(model)
    groups = [{"params": base, "lr": lr, "name": "net", **group_options}]
    if injection:
        groups.append({"params": injection, "lr": lr if injection_lr is None else injection_lr, "name": "injection",
                       **group_options})
    return groups
