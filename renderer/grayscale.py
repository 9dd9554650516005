"""Grayscale display pipeline: modality LUT, VOI window, polarity, to 8 bits (PS3.4 N.2).

Integer frames of up to 16 bits go through a lookup table built by applying the very same float
functions to every possible stored value, so both paths give identical output while the table
path costs one gather per pixel instead of several float passes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from pydicom.dataset import Dataset

from renderer.modality import Rescale, apply_rescale, rescale_for_frame
from renderer.params import RenderParams, Window
from renderer.voi import apply_linear_window, fallback_window, stored_window

Transform = Callable[[np.ndarray], np.ndarray]


def to_uint8(levels: np.ndarray) -> np.ndarray:
    """Round 0..255 floats half up, as the display's 8-bit output."""
    out = levels + 0.5
    np.floor(out, out=out)
    return out.astype(np.uint8)


def select_window(
    ds: Dataset, params: RenderParams, bits_stored: int, frame: np.ndarray, rescale: Rescale
) -> Window:
    """The request's window, else the file's first, else the configured fallback."""
    if params.window is not None:
        return params.window
    found = stored_window(ds, params.frame)
    if found is not None:
        return found
    ends = None
    if frame.size:
        ends = apply_rescale(np.array([np.min(frame), np.max(frame)]), rescale)
    return fallback_window(params.default_window, bits_stored, ends)


def grayscale_transform(rescale: Rescale, window: Window, invert: bool) -> Transform:
    def transform(values: np.ndarray) -> np.ndarray:
        levels = apply_linear_window(apply_rescale(values, rescale), window)
        if invert:
            levels = 255.0 - levels
        return to_uint8(levels)

    return transform


def apply_transform(values: np.ndarray, transform: Transform) -> np.ndarray:
    """Apply `transform` to every pixel, through a lookup table where the dtype allows."""
    if values.dtype.kind in "iu" and values.dtype.itemsize <= 2:
        unsigned = np.dtype(f"u{values.dtype.itemsize}")
        every_value = np.arange(2 ** (8 * values.dtype.itemsize), dtype=unsigned)
        lut = transform(every_value.view(values.dtype))
        return np.take(lut, values.view(unsigned))
    return transform(values)


def render_grayscale(
    ds: Dataset,
    params: RenderParams,
    bits_stored: int,
    photometric: str,
    frame: np.ndarray,
    crop: tuple[slice, slice],
) -> np.ndarray:
    """Stored values of a frame to the 8-bit grayscale image of its cropped part."""
    rescale = rescale_for_frame(ds, params.frame)
    window = select_window(ds, params, bits_stored, frame, rescale)
    transform = grayscale_transform(rescale, window, invert=photometric == "MONOCHROME1")
    return apply_transform(frame[crop], transform)
