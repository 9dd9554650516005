"""Presentation: polarity of the grayscale output (PS3.3 C.7.6.3.1.2, C.11.6, C.8.11.6.1.2).

MONOCHROME1 means the minimum value is white. Presentation LUT Shape (2050,0020), where an IOD
has it, states the polarity outright: IDENTITY keeps it, INVERSE inverts it, and the IODs
require INVERSE for MONOCHROME1 (e.g. DX, C.8.11.1.1.1), so the inversion is the same one and
is never applied twice. Without the attribute, MONOCHROME1 alone decides (dcmtk reads it so).
"""

from __future__ import annotations

import numpy as np

from renderer.decoding.elements import Elements
from renderer.display.voi import LEVELS


def lut_shape(ds: Elements) -> str:
    """(2050,0020) Presentation LUT Shape, upper case; empty when absent."""
    return str(ds.get("PresentationLUTShape", "") or "").strip().upper()


def inverts(ds: Elements, photometric: str) -> bool:
    return shape_inverts(lut_shape(ds), photometric)


def shape_inverts(shape: str, photometric: str) -> bool:
    if shape == "INVERSE":
        return True
    if shape == "IDENTITY":
        return False
    return photometric == "MONOCHROME1"


def apply_presentation(levels: np.ndarray, invert: bool) -> np.ndarray:
    """Levels 0..255 to P-values 0..255: y = 255 - x when inverted."""
    if invert:
        return LEVELS - levels
    return levels
