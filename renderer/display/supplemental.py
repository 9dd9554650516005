"""The Supplemental Palette Color LUT (PS3.3 C.7.6.19; PS3.4 N.2.1.2): grayscale images whose
Pixel Presentation is COLOR or MIXED (enhanced MR, CT, PET functional overlays) carry a palette
that colours a range of stored values.

Stored values inside the palette's range -- from the descriptor's first mapped value for its
number of entries -- are shown as the palette's colour (entries of 16 bits keep their top 8);
every other value goes through the grayscale pipeline as usual and is shown gray. The output is
RGB.
"""

from __future__ import annotations

import numpy as np

from renderer.decoding.elements import Elements
from renderer.decoding.stored import StoredFormat, stored_values
from renderer.display.palette import Palette, apply_palette, palette_from

COLOUR_PRESENTATIONS = ("COLOR", "MIXED")  # (0008,9205) Pixel Presentation


def supplemental_palette(ds: Elements, *, signed: bool) -> Palette | None:
    """The palette of a grayscale image that has one for its Pixel Presentation, else None."""
    if "RedPaletteColorLookupTableDescriptor" not in ds:
        return None
    presentation = str(ds.get("PixelPresentation", "") or "").strip().upper()
    if presentation not in COLOUR_PRESENTATIONS:
        return None
    return palette_from(ds, signed=signed)


def apply_supplemental(
    gray: np.ndarray, cells: np.ndarray, palette: Palette, stored: StoredFormat
) -> np.ndarray:
    """8-bit gray levels of the cells, as RGB, with the cells in the palette's range coloured."""
    values = stored_values(cells, stored)
    lut = palette.red
    inside = (values >= lut.first) & (values < lut.first + len(lut.table))
    rgb = np.repeat(gray[..., None], 3, axis=-1)
    if inside.any():
        rgb[inside] = apply_palette(cells, palette, stored)[inside]
    return rgb


__all__ = ["apply_supplemental", "supplemental_palette"]
