"""Colour images to 8-bit RGB (PS3.3 C.7.6.3.1.2, C.7.6.3.1.5-6). No window applies to colour."""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels.processing import apply_color_lut

from renderer.errors import UnsupportedImage


def scale_to_uint8(rgb: np.ndarray, bits_stored: int) -> np.ndarray:
    """Drop the low bits of colour samples deeper than 8 bits."""
    if rgb.dtype == np.uint8:
        return rgb
    shift = max(0, bits_stored - 8)
    return (rgb.astype(np.uint32) >> shift).clip(0, 255).astype(np.uint8)


def palette_to_rgb(indices: np.ndarray, ds: Dataset) -> np.ndarray:
    """PALETTE COLOR through the Red/Green/Blue Palette Color LUTs, to 8-bit RGB."""
    try:
        rgb = apply_color_lut(indices, ds)
    except Exception as exc:
        raise UnsupportedImage(f"cannot apply the palette colour LUT: {exc}") from None
    bits = int(ds.RedPaletteColorLookupTableDescriptor[2])
    return scale_to_uint8(rgb, bits)


def render_color(
    ds: Dataset, bits_stored: int, photometric: str, frame: np.ndarray, crop: tuple[slice, slice]
) -> np.ndarray:
    """Decoded colour samples (RGB, or palette indices) to the 8-bit RGB image of the crop."""
    part = frame[crop]
    if photometric == "PALETTE COLOR":
        return palette_to_rgb(part, ds)
    if part.ndim != 3 or part.shape[-1] != 3:
        raise UnsupportedImage(f"unsupported colour layout {photometric} with shape {part.shape}")
    return scale_to_uint8(part, bits_stored)
