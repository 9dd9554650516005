"""The image operations of the layout (renderer/output/layout.py): resize to the output size,
flips."""

from __future__ import annotations

import numpy as np
from PIL import Image

from renderer.output.layout import flips
from renderer.params import RenderParams


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


def apply_flips(image: np.ndarray, params: RenderParams) -> np.ndarray:
    """Mirror the rendered image as a pixel region's negative sides ask (a view, no copy)."""
    horizontal, vertical = flips(params)
    if horizontal:
        image = image[:, ::-1]
    if vertical:
        image = image[::-1]
    return image
