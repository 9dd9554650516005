"""The output layout of a render: the crop and the output size, from either a `region` in
fractions (WADO-URI, PS3.18 8.2.4) or a source rectangle in pixels with flips (the DICOMweb
viewport, PS3.18 8.3.5.1.3).

Pure and cheap, so the router uses it too, to normalise cache keys.
"""

from __future__ import annotations

import numpy as np

from renderer.errors import SourceOutOfRange
from renderer.geometry import Plan, fit, plan
from renderer.params import RenderParams, SourceBox


def source_crop(rows: int, columns: int, box: SourceBox) -> tuple[int, int, int, int]:
    """The pixel box x0, y0, x1, y1 (exclusive) a source rectangle covers, clipped to the
    image; a rectangle that starts outside the image is refused."""
    if not (0 <= box.x < columns and 0 <= box.y < rows):
        raise SourceOutOfRange(
            f"viewport source offset {box.x},{box.y} lies outside the {columns}x{rows} image"
        )
    width = columns - box.x if box.width is None else abs(box.width)
    height = rows - box.y if box.height is None else abs(box.height)
    if width == 0 or height == 0:
        raise SourceOutOfRange("viewport source width and height must not be 0")
    return box.x, box.y, min(box.x + width, columns), min(box.y + height, rows)


def layout(rows: int, columns: int, params: RenderParams, aspect: float = 1.0) -> Plan:
    """The crop and the output size of a render of an image of `rows` x `columns` whose pixels
    are `aspect` times as high as wide."""
    if params.source is None:
        return plan(rows, columns, params.region, params.rows, params.columns, aspect)
    x0, y0, x1, y1 = source_crop(rows, columns, params.source)
    width, height = fit(x1 - x0, y1 - y0, params.columns, params.rows, aspect)
    return Plan(x0, y0, x1, y1, width, height)


def flips(params: RenderParams) -> tuple[bool, bool]:
    """Horizontal and vertical flip: a negative source width or height."""
    box = params.source
    if box is None:
        return False, False
    return (box.width or 0) < 0, (box.height or 0) < 0


def apply_flips(image: np.ndarray, params: RenderParams) -> np.ndarray:
    """Mirror the rendered image as the negative source sides ask (a view, no copy)."""
    horizontal, vertical = flips(params)
    if horizontal:
        image = image[:, ::-1]
    if vertical:
        image = image[::-1]
    return image
