"""One tiled forward for images too large for memory, used by ``degrade`` (HR -> LR) and ``sr`` (LR -> SR).

The input is cut into ``tile`` x ``tile`` squares (the last row and column may be smaller); each runs with ``overlap``
pixels of real image context on every side (less at the image border, where the untiled net sees zero padding too),
and the centre of its output is placed in the output image. For a net without global operations (pooling,
attention) and an overlap at least its receptive-field radius, the tiled output equals the untiled one to float
rounding; nets with global operations see only their tile.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Callable, NamedTuple, Optional

import torch
from torch import Tensor

from .errors import UserError
from .noise_field import Window

Forward = Callable[[Tensor, Window], Tensor]
"""``forward(piece, window)``: the output of a (B, C, h, w) piece found at ``window`` of the whole input."""


class Span(NamedTuple):
    """One tile along one axis: its core ``[start, end)`` and the context it runs with, ``[padded_start,
    padded_end)``."""

    start: int
    end: int
    padded_start: int
    padded_end: int


def tile_spans(size: int, tile: int, overlap: int) -> list[Span]:
    """The tiles along an axis of ``size`` pixels."""
    spans = []
    for start in range(0, size, tile):
        end = min(start + tile, size)
        spans.append(Span(start, end, max(0, start - overlap), min(size, end + overlap)))
    return spans


def count_tiles(height: int, width: int, tile: Optional[int]) -> int:
    """How many forward calls :func:`run_tiled` makes for an image of this size."""
    if tile is None or (height <= tile and width <= tile):
        return 1
    return -(-height // tile) * -(-width // tile)


INTEGER_RANGES = {torch.uint8: 255, torch.uint16: 65535}
"""The integer pixel types an output can be quantised to, with their largest value."""


def quantise(image: Tensor, dtype: torch.dtype = torch.uint8) -> Tensor:
    """Float [0, 1] -> uint8 (or uint16) as an 8-bit (16-bit) PNG stores it: clamped, scaled, rounded half to even."""
    return image.clamp(0, 1).mul(INTEGER_RANGES[dtype]).round().to(dtype)


SATURATION_MARGIN = 1.0
"""A raw output value more than this outside [0, 1] is far out of the image range (see :class:`OutputCheck`)."""


@dataclass
class OutputCheck:
    """Counts, per image of a batch, the raw output values (before clamping) that are NaN or infinite, and those more
    than :data:`SATURATION_MARGIN` outside [0, 1]: a net whose activations overflowed writes an all-black or
    all-white image once clamped, so such an output is not an image to keep.

    Attributes:
        nonfinite: per image, the NaN or infinite values seen.
        far: per image, the finite values far outside [0, 1].
        values: per image, the values seen.
    """

    nonfinite: Optional[Tensor] = None
    far: Optional[Tensor] = None
    values: int = 0

    def add(self, piece: Tensor) -> None:
        """Count the values of one output piece (B, C, h, w)."""
        with torch.no_grad():
            finite = torch.isfinite(piece)
            far = finite & ((piece < -SATURATION_MARGIN) | (piece > 1 + SATURATION_MARGIN))
            nonfinite, far = (~finite).flatten(1).sum(1).cpu(), far.flatten(1).sum(1).cpu()
        self.nonfinite = nonfinite if self.nonfinite is None else self.nonfinite + nonfinite
        self.far = far if self.far is None else self.far + far
        self.values += piece[0].numel()

    def problems(self) -> list[Optional[str]]:
        """Per image: ``None`` for a usable output, else the output in words ("an output with ..."). It is unusable when
        it holds a NaN or infinite value, or when most of its values are far outside [0, 1] (saturated)."""
        if self.nonfinite is None or self.far is None:
            return []
        out: list[Optional[str]] = []
        for nonfinite, far in zip(self.nonfinite.tolist(), self.far.tolist()):
            if nonfinite:
                out.append(f"an output with {nonfinite} of {self.values} values NaN or infinite")
            elif far > self.values // 2:
                out.append(f"a saturated output, {far} of {self.values} values far outside [0, 1], that would be "
                           "written flat black or white")
            else:
                out.append(None)
        return out


def run_tiled(forward: Forward, x: Tensor, *, tile: Optional[int], overlap: int, up: int = 1, down: int = 1,
              out: Optional[Tensor] = None, on_tile: Optional[Callable[[], None]] = None,
              check: Optional[OutputCheck] = None) -> Tensor:
    """Apply ``forward`` to ``x`` whole, or tile by tile, and stitch the tile centres.

    Args:
        forward: maps a piece and its window to the piece's output, ``up / down`` times the piece's size.
        x: the input batch.
        tile: tile side in input pixels; ``None`` (or an image no larger than one tile) runs the whole input.
        overlap: input pixels of context on every side of a tile.
        up, down: the output size is ``size * up // down`` (``up = scale`` for SR, ``down = scale`` to degrade);
            tile sides and overlaps must be multiples of ``down``.
        out: where to write the output, preallocated; a uint8 (uint16) one holds the output quantised as an 8-bit
            (16-bit) image would (:func:`quantise`), so memory does not grow with a float copy of it. ``None``:
            allocated from the first piece, in its dtype.
        on_tile: called after each forward call (progress inside a large image).
        check: counts the raw output values that are not finite or far outside [0, 1], per image.

    Returns:
        ``out``, or the output allocated here.

    Shape:
        x: (B, C, H, W) -> (B, C', H * up // down, W * up // down).
    """
    height, width = x.shape[-2:]

    def place(target: Optional[Tensor], rows: slice, cols: slice, piece: Tensor) -> Tensor:
        if target is None:
            target = piece.new_empty(piece.shape[0], piece.shape[1], height * up // down, width * up // down)
        target[..., rows, cols] = quantise(piece, target.dtype) if target.dtype in INTEGER_RANGES else piece
        return target

    if tile is None or (height <= tile and width <= tile):
        piece = forward(x, Window(0, 0, height, width))
        if check is not None:
            check.add(piece)
        if on_tile is not None:
            on_tile()
        if out is None:
            return piece
        return place(out, slice(None), slice(None), piece)
    for ys in tile_spans(height, tile, overlap):
        for xs in tile_spans(width, tile, overlap):
            piece = forward(x[..., ys.padded_start:ys.padded_end, xs.padded_start:xs.padded_end],
                            Window(ys.padded_start, xs.padded_start, ys.padded_end - ys.padded_start,
                                   xs.padded_end - xs.padded_start))
            core = piece[..., (ys.start - ys.padded_start) * up // down:(ys.end - ys.padded_start) * up // down,
                         (xs.start - xs.padded_start) * up // down:(xs.end - xs.padded_start) * up // down]
            if check is not None:
                check.add(core)
            out = place(out, slice(ys.start * up // down, ys.end * up // down),
                        slice(xs.start * up // down, xs.end * up // down), core)
            if on_tile is not None:
                on_tile()
    assert out is not None
    return out


def is_out_of_memory(err: BaseException) -> bool:
    """A failed allocation: MemoryError, CUDA's OutOfMemoryError, or the CPU allocator's RuntimeError."""
    if isinstance(err, MemoryError) or type(err).__name__ == "OutOfMemoryError":
        return True
    text = str(err)
    return isinstance(err, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


@contextlib.contextmanager
def memory_hint(what: str, tile: Optional[int], *, advice: Optional[str] = None) -> Iterator[None]:
    """Turn running out of memory on ``what`` into one line: ``advice``, by default tiles (smaller ones when already
    tiled), which help the nets' forward but not, say, the image writer."""
    try:
        yield
    except (MemoryError, RuntimeError) as err:
        if not is_out_of_memory(err):
            raise
        tiles = f"try a smaller --tile than {tile}" if tile else "process it in tiles with --tile (e.g. --tile 256)"
        raise UserError(f"out of memory on {what}: {advice or tiles}") from None
