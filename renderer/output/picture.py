"""The last steps for a picture that does not come from the display pipeline (a PDF page, a video
frame, a placeholder card): the same crop, fit, flips, size limit and encoders as an image, so
`region`, `rows`/`columns` and the DICOMweb viewport mean the same for every kind of object."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from renderer.errors import FrameOutOfRange, OutputTooLarge
from renderer.output.encode import encode
from renderer.output.geometry import apply_flips, resize
from renderer.output.layout import Plan, layout
from renderer.params import RenderParams, RenderResult

# Draws the whole picture at a given width and height (8-bit gray or RGB).
Drawing = Callable[[int, int], np.ndarray]


def check_frame(params: RenderParams, frames: int, what: str) -> None:
    """`frameNumber` picks a page or a frame; past the last one is a client error."""
    if not 0 <= params.frame < frames:
        raise FrameOutOfRange(
            f"frameNumber {params.frame + 1} is out of range: the object has {frames} {what}"
        )


def plan_output(rows: int, columns: int, params: RenderParams) -> Plan:
    """The crop and output size for a picture of `rows` x `columns`, refused past the limit."""
    geometry = layout(rows, columns, params)
    if geometry.width * geometry.height > params.max_pixels:
        raise OutputTooLarge(
            f"output of {geometry.width}x{geometry.height} exceeds the limit of "
            f"{params.max_pixels} pixels (--max-pixels)"
        )
    return geometry


def finish(
    rows: int, columns: int, params: RenderParams, draw: Drawing, frames: int = 1
) -> RenderResult:
    """Encode the picture whose natural size is `rows` x `columns`. A whole-picture request is
    drawn straight at the output size (text stays sharp in a thumbnail); a crop is drawn at the
    natural size, cut and resized as an image is."""
    geometry = plan_output(rows, columns, params)
    whole = (geometry.x0, geometry.y0, geometry.x1, geometry.y1) == (0, 0, columns, rows)
    if whole:
        image = draw(geometry.width, geometry.height)
    else:
        image = resize(draw(columns, rows)[geometry.crop], geometry.width, geometry.height)
    image = apply_flips(image, params)
    return RenderResult(
        data=encode(image, params.output, params.quality),
        output=params.output,
        width=geometry.width,
        height=geometry.height,
        stored_rows=rows,
        stored_columns=columns,
        frames=frames,
    )


def fitted(image: np.ndarray) -> Drawing:
    """A drawing from a picture already in pixels: resized to whatever size is asked."""
    return lambda width, height: resize(image, width, height)


__all__ = ["Drawing", "check_frame", "finish", "fitted", "plan_output"]
