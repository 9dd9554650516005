"""The grayscale pipeline of PS3.4 N.2: stored values, Modality LUT, VOI LUT, presentation, to
8 bits. Each stage is its own module; this one composes them and picks the VOI.

Integer frames of up to 16 bits go through a lookup table: the very same float functions applied
once to every possible pixel cell, so both paths give identical output while the table path costs
one gather per pixel. Tables are cached by what they depend on (a window drag builds one per
window, a series of slices with one rescale and window shares one).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from renderer.decoding.stored import StoredFormat, stored_values
from renderer.display.header import Header
from renderer.display.lut import Lut
from renderer.display.modality import Modality, apply_modality, output_bits
from renderer.display.presentation import apply_presentation, shape_inverts
from renderer.display.voi import Voi, apply_voi, fallback_window
from renderer.params import DefaultWindow, RenderParams

LUT_MAX_ITEMSIZE = 2  # 2^16 cells at most: a 64 KiB table


@dataclass(frozen=True, slots=True)
class Grayscale:
    """Everything that decides a pixel's output level, hashable so its table can be cached."""

    stored: StoredFormat
    modality: Modality
    voi: Voi
    invert: bool


def to_uint8(levels: np.ndarray) -> np.ndarray:
    """Round 0..255 floats half up, as the display's 8-bit output (NaN, from float data, is 0)."""
    out = levels + 0.5
    np.floor(out, out=out)
    np.clip(out, 0.0, 255.0, out=out)
    if out.dtype.kind == "f" and np.isnan(out).any():
        np.nan_to_num(out, copy=False, nan=0.0)
    return out.astype(np.uint8)


def levels(cells: np.ndarray, spec: Grayscale) -> np.ndarray:
    """The whole chain in float64 for any array of cells (integers as decoded, or floats)."""
    plain = cells.dtype.kind == "f" or spec.stored.is_identity_for(cells.dtype)
    return _shown(cells if plain else stored_values(cells, spec.stored), spec)


def _shown(values: np.ndarray, spec: Grayscale) -> np.ndarray:
    """Stored values through the Modality LUT, the VOI and the presentation, to 8 bits."""
    with np.errstate(over="ignore", invalid="ignore"):
        shown = apply_voi(apply_modality(values, spec.modality), spec.voi)
    return to_uint8(apply_presentation(shown, spec.invert))


@functools.lru_cache(maxsize=8)
def _value_of_cell(stored: StoredFormat, dtype: np.dtype[np.generic]) -> np.ndarray:
    """For every possible cell, its stored value's index among all values of `stored`."""
    every_cell = np.arange(1 << (8 * dtype.itemsize), dtype=f"u{dtype.itemsize}")
    index = stored_values(every_cell.view(dtype), stored) - stored.min_value
    index.flags.writeable = False
    return index


@functools.lru_cache(maxsize=32)
def lookup_table(spec: Grayscale, dtype: np.dtype[np.generic]) -> np.ndarray:
    """The output level of every possible cell of `dtype`, indexed by the cell's unsigned bits.

    The chain runs once per stored value (4096 of them for 12 bits), then a cached map from cells
    to values spreads the result over all cells: a window drag rebuilds 4096 entries, not 65536.
    """
    every_value = np.arange(spec.stored.min_value, spec.stored.max_value + 1, dtype=np.int64)
    table: np.ndarray = _shown(every_value, spec)[_value_of_cell(spec.stored, dtype)]
    table.flags.writeable = False
    return table


def frame_table(cells: np.ndarray, spec: Grayscale) -> np.ndarray:
    """A table like lookup_table's, filled only for the cells from the frame's smallest to its
    largest (the others stay 0: no pixel of this frame looks them up). For 16-bit stored values
    that is a few thousand entries of a CT slice instead of 65536: ~0.05 ms, not ~0.7 ms."""
    unsigned = f"u{cells.dtype.itemsize}"
    present = np.arange(int(cells.min()), int(cells.max()) + 1, dtype=np.int64).astype(cells.dtype)
    table = np.zeros(1 << (8 * cells.dtype.itemsize), dtype=np.uint8)
    table[present.view(unsigned)] = levels(present, spec)
    return table


class _FirstSight:
    """Which table specs this worker has met (bounded): a spec met for the first time gets a
    frame table, a spec met again (a series with one window) the whole cached table."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._met: dict[tuple[Grayscale, np.dtype[np.generic]], None] = {}

    def first(self, key: tuple[Grayscale, np.dtype[np.generic]]) -> bool:
        if key in self._met:
            return False
        if len(self._met) >= self.size:
            self._met.pop(next(iter(self._met)))
        self._met[key] = None
        return True


FIRST_SIGHT = _FirstSight()
WIDE_BITS = 14  # from here a whole table costs more than a frame table plus a min/max pass


def apply_grayscale(cells: np.ndarray, spec: Grayscale) -> np.ndarray:
    """Cells to 8-bit levels, through a table where the dtype allows: the cached table of every
    cell, or, for wide stored values under a spec not met before (each step of a window drag),
    a table of this frame's cells only."""
    dtype = cells.dtype
    if dtype.kind in "iu" and dtype.itemsize <= LUT_MAX_ITEMSIZE and dtype.isnative:
        if spec.stored.bits_stored >= WIDE_BITS and cells.size and FIRST_SIGHT.first((spec, dtype)):
            table = frame_table(cells, spec)
        else:
            table = lookup_table(spec, dtype)
        return np.take(table, cells.view(f"u{dtype.itemsize}"))
    return levels(cells, spec)


def modality_range(
    cells: np.ndarray, stored: StoredFormat, modality: Modality
) -> tuple[float, float] | None:
    """The smallest and largest modality value of a frame (for the MINMAX window)."""
    if cells.size == 0:
        return None
    if cells.dtype.kind == "f":
        finite = cells[np.isfinite(cells)]
        if finite.size == 0:
            return None
        ends = np.array([finite.min(), finite.max()])
        return float(ends[0]), float(ends[1])
    values = cells if stored.is_identity_for(cells.dtype) else stored_values(cells, stored)
    lo, hi = int(values.min()), int(values.max())
    if isinstance(modality, Lut):  # any shape: the extremes of the entries the range reaches
        last = len(modality.table) - 1
        start = min(max(lo - modality.first, 0), last)
        stop = min(max(hi - modality.first, 0), last)
        span = modality.table[start : stop + 1]
        return float(span.min()), float(span.max())
    ends = apply_modality(np.array([lo, hi], dtype=np.int64), modality)
    return float(ends.min()), float(ends.max())


def select_voi(
    header: Header,
    params: RenderParams,
    cells: np.ndarray,
    stored: StoredFormat,
    modality: Modality,
) -> Voi:
    """The request's window, else the file's, else the fallback (MINMAX for float data, where
    2^BitsStored means nothing)."""
    if params.window is not None:
        return params.window
    if header.voi is not None:
        return header.voi
    mode = DefaultWindow.MINMAX if cells.dtype.kind == "f" else params.default_window
    ends = modality_range(cells, stored, modality) if mode is DefaultWindow.MINMAX else None
    return fallback_window(mode, output_bits(modality, stored.bits_stored), ends)


def render_grayscale(
    header: Header,
    params: RenderParams,
    photometric: str,
    frame: np.ndarray,
    crop: tuple[slice, slice],
) -> np.ndarray:
    """Cells of a frame to the 8-bit grayscale image of its cropped part."""
    stored = header.info.stored
    modality = header.modality  # identity for Float Pixel Data (renderer.display.header)
    voi = select_voi(header, params, frame, stored, modality)
    spec = Grayscale(stored, modality, voi, shape_inverts(header.presentation, photometric))
    return apply_grayscale(frame[crop], spec)
