"""Display shutters (PS3.3 C.7.6.11 Display Shutter, C.7.6.15 Bitmap Display Shutter): the parts
of the image a presentation state hides behind the Shutter Presentation Value.

Coordinates are those of the stored image, 1-based, edges inclusive (a pixel on an edge is
shown): a rectangle by its left and right columns and upper and lower rows, a circle by its
centre (row\\column) and radius, a polygon by its vertices (row\\column). Several shapes may be
given together; a pixel is shown only when it lies inside every one. A bitmap shutter is an
overlay plane of the state whose set bits are hidden. The hidden pixels take the P-value
Shutter Presentation Value (0..65535) scaled to 8 bits as dcmtk scales it (value x 255 / 65535,
truncated), after the presentation LUT, so an INVERSE state does not invert them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from renderer.display.overlay import OverlayPlane, bitmap

P_VALUE_MAX = 65535


@dataclass(frozen=True, slots=True)
class Shutter:
    rectangle: tuple[int, int, int, int] | None = None  # left, right, upper, lower; 1-based
    circle: tuple[int, int, int] | None = None  # centre row, centre column, radius
    polygon: tuple[tuple[int, int], ...] = ()  # vertices, (row, column)
    bitmap: OverlayPlane | None = None
    value: int = 0  # Shutter Presentation Value, a P-value

    @property
    def is_open(self) -> bool:
        return (
            self.rectangle is None
            and self.circle is None
            and not self.polygon
            and self.bitmap is None
        )

    @property
    def level(self) -> int:
        return self.value * 255 // P_VALUE_MAX


def hidden(shutter: Shutter, rows: int, columns: int, frame: int) -> np.ndarray:
    """A rows x columns bool array, True where the shutter hides the image."""
    hide = np.zeros((rows, columns), bool)
    y, x = np.ogrid[1 : rows + 1, 1 : columns + 1]  # 1-based pixel coordinates
    if shutter.rectangle is not None:
        left, right, upper, lower = shutter.rectangle
        hide |= (x < left) | (x > right) | (y < upper) | (y > lower)
    if shutter.circle is not None:
        row, column, radius = shutter.circle
        hide |= (y - row) ** 2 + (x - column) ** 2 > radius**2
    if len(shutter.polygon) >= 3:
        inside = Image.new("1", (columns, rows), 0)
        vertices = [(column - 1, row - 1) for row, column in shutter.polygon]
        ImageDraw.Draw(inside).polygon(vertices, fill=1, outline=1)
        hide |= ~np.asarray(inside, dtype=bool)
    if shutter.bitmap is not None:
        plane = shutter.bitmap
        bits = bitmap(plane, frame, None)
        if bits is not None:
            top, left = plane.top, plane.left
            ya, yb = max(top, 0), min(top + plane.rows, rows)
            xa, xb = max(left, 0), min(left + plane.columns, columns)
            if ya < yb and xa < xb:
                hide[ya:yb, xa:xb] |= bits[ya - top : yb - top, xa - left : xb - left]
    return hide


def apply_shutter(image: np.ndarray, shutter: Shutter, frame: int) -> np.ndarray:
    """The whole-frame image (8-bit gray or RGB) with the shuttered pixels set; a copy when
    anything is hidden."""
    if shutter.is_open:
        return image
    hide = hidden(shutter, image.shape[0], image.shape[1], frame)
    if not hide.any():
        return image
    out = np.array(image, copy=True)
    out[hide] = shutter.level
    return out


__all__ = ["Shutter", "apply_shutter", "hidden"]
