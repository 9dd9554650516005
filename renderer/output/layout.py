"""The size arithmetic of a render: crop box, output size, flips (PS3.18 8.2.2 rows/columns,
8.2.4 region; 10.4 viewport). Pure Python with no pixel library, so the router uses it too, to
normalise cache keys without loading numpy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from renderer.errors import RegionOutOfRange
from renderer.params import PixelRegion, Region, RenderParams


@dataclass(frozen=True, slots=True)
class Plan:
    x0: int
    y0: int
    x1: int  # exclusive
    y1: int
    width: int  # output
    height: int

    @property
    def crop(self) -> tuple[slice, slice]:
        return slice(self.y0, self.y1), slice(self.x0, self.x1)


def crop_box(rows: int, columns: int, region: Region | None) -> tuple[int, int, int, int]:
    """Fractions to a pixel box that covers them, at least one pixel each way."""
    if region is None:
        return 0, 0, columns, rows
    x0 = min(math.floor(region.xmin * columns), columns - 1)
    y0 = min(math.floor(region.ymin * rows), rows - 1)
    x1 = max(min(math.ceil(region.xmax * columns), columns), x0 + 1)
    y1 = max(min(math.ceil(region.ymax * rows), rows), y0 + 1)
    return x0, y0, x1, y1


def fit(
    width: int,
    height: int,
    box_columns: int | None,
    box_rows: int | None,
    aspect: float = 1.0,
) -> tuple[int, int]:
    """The largest size with the cropped image's displayed proportions that fits the box (either
    side alone is fine). `aspect` is a pixel's height over its width (PS3.3 C.7.6.3.1.7): an
    image of non-square pixels is shown as width x height*aspect. No box means the image's own
    grid."""
    if box_columns is None and box_rows is None:
        return width, height
    shown_height = height * aspect
    scales = []
    if box_columns is not None:
        scales.append(box_columns / width)
    if box_rows is not None:
        scales.append(box_rows / shown_height)
    scale = min(scales)
    return max(1, round(width * scale)), max(1, round(shown_height * scale))


def plan(
    rows: int,
    columns: int,
    region: Region | None,
    box_rows: int | None,
    box_columns: int | None,
    aspect: float = 1.0,
) -> Plan:
    x0, y0, x1, y1 = crop_box(rows, columns, region)
    width, height = fit(x1 - x0, y1 - y0, box_columns, box_rows, aspect)
    return Plan(x0, y0, x1, y1, width, height)


def pixel_crop(rows: int, columns: int, box: PixelRegion) -> tuple[int, int, int, int]:
    """The pixel box x0, y0, x1, y1 (exclusive) a pixel region covers, clipped to the
    image; a rectangle that starts outside the image is refused."""
    if not (0 <= box.x < columns and 0 <= box.y < rows):
        raise RegionOutOfRange(
            f"viewport source offset {box.x},{box.y} lies outside the {columns}x{rows} image"
        )
    width = columns - box.x if box.width is None else abs(box.width)
    height = rows - box.y if box.height is None else abs(box.height)
    if width == 0 or height == 0:
        raise RegionOutOfRange("viewport source width and height must not be 0")
    return box.x, box.y, min(box.x + width, columns), min(box.y + height, rows)


def layout(rows: int, columns: int, params: RenderParams, aspect: float = 1.0) -> Plan:
    """The crop and the output size of a render of an image of `rows` x `columns` whose pixels
    are `aspect` times as high as wide."""
    if params.pixel_region is None:
        return plan(rows, columns, params.region, params.rows, params.columns, aspect)
    x0, y0, x1, y1 = pixel_crop(rows, columns, params.pixel_region)
    width, height = fit(x1 - x0, y1 - y0, params.columns, params.rows, aspect)
    return Plan(x0, y0, x1, y1, width, height)


def flips(params: RenderParams) -> tuple[bool, bool]:
    """Horizontal and vertical flip: a pixel region's negative width or height."""
    box = params.pixel_region
    if box is None:
        return False, False
    return (box.width or 0) < 0, (box.height or 0) < 0
