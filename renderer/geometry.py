"""Region crop and output size (PS3.18 8.2.2 rows/columns, 8.2.4 region), and the resize.

The size arithmetic is pure and cheap, so the router uses it too, to normalise cache keys.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from renderer.params import Region


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
    """The largest size with the source's displayed proportions that fits the box (either side
    alone is fine). `aspect` is a pixel's height over its width (PS3.3 C.7.6.3.1.7): a source of
    non-square pixels is shown as width x height*aspect. No box means the source's own grid."""
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


def resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Area averaging when shrinking (no aliasing in thumbnails), bilinear when enlarging (or
    when one side grows, as non-square pixels may ask: Pillow's bilinear filter widens with the
    reduction, so the shrinking side is still averaged).

    A shrink by whole factors each way (512 -> 128) is Pillow's `reduce`: the mean of each
    block, rounded half up, in a third of the time of the general BOX filter, which weighs
    fractional pixel overlaps and is kept for every other size."""
    h, w = image.shape[:2]
    if (w, h) == (width, height):
        return image
    picture = Image.fromarray(np.ascontiguousarray(image))
    if w % width == 0 and h % height == 0:
        return np.asarray(picture.reduce((w // width, h // height)))
    shrinking = width <= w and height <= h
    method = Image.Resampling.BOX if shrinking else Image.Resampling.BILINEAR
    return np.asarray(picture.resize((width, height), method))
