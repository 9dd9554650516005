"""One render: DICOM bytes and parameters in, encoded image out. Pure and synchronous: a worker
process runs it, and so can a test or a benchmark, without any server."""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable

import numpy as np
from pydicom.dataset import Dataset

from renderer import frames
from renderer.animation import frame_delays
from renderer.color import render_color
from renderer.decode import ImageInfo, decode_frame, image_info, read_dataset
from renderer.encode import encode, encode_gif
from renderer.errors import OutputTooLarge
from renderer.fetch import HttpSource, RenderSource, fetch
from renderer.geometry import Plan, resize
from renderer.grayscale import render_grayscale
from renderer.params import OutputFormat, RenderParams, RenderResult
from renderer.reduced import reduced_frame
from renderer.viewport import apply_flips, layout

GRAYSCALE = ("MONOCHROME1", "MONOCHROME2")


def render_frame(
    ds: Dataset,
    info: ImageInfo,
    params: RenderParams,
    geometry: Plan,
    cached: frames.Decoded | None = None,
    key: Hashable | None = None,
) -> np.ndarray:
    """Frame `params.frame` to 8-bit gray or RGB pixels at the output size. `cached` is this
    frame decoded earlier; a full decode is kept under `key` for the next render."""
    if cached is not None:
        frame, photometric, crop = cached.frame, cached.photometric, geometry.crop
    else:
        frame, photometric, crop = _frame(ds, info, params, geometry)
        if key is not None and crop == geometry.crop:
            _keep(key, ds, info, frame, photometric)
    if photometric in GRAYSCALE and frame.ndim == 2:
        image = render_grayscale(ds, params, info.stored, photometric, frame, crop)
    else:
        image = render_color(ds, info.stored, photometric, frame, crop)
    return apply_flips(resize(image, geometry.width, geometry.height), params)


def render(source: RenderSource, params: RenderParams) -> RenderResult:
    key = frames.key_for(source, params.frame) if frames.CACHE.max_bytes else None
    cached = frames.CACHE.get(key) if key is not None else None
    if cached is not None:  # decoded a moment ago by this worker: no fetch, no decode
        ds, info = cached.ds, cached.info
    else:
        ds = read_dataset(fetch(source) if isinstance(source, HttpSource) else source)
        info = image_info(ds, params.max_pixels)
    geometry = layout(info.rows, info.columns, params, info.pixel_aspect)
    animated = params.animate and params.output is OutputFormat.GIF and info.frames > 1
    count = info.frames if animated else 1
    if geometry.width * geometry.height * count > params.max_pixels:
        raise OutputTooLarge(
            f"output of {geometry.width}x{geometry.height}"
            + (f" x {count} frames" if count > 1 else "")
            + f" exceeds the limit of {params.max_pixels} pixels (--max-pixels)"
        )
    if animated:
        images = [
            render_frame(ds, info, dataclasses.replace(params, frame=index), geometry)
            for index in range(info.frames)
        ]
        data = encode_gif(images, frame_delays(ds, info.frames))
    else:
        image = render_frame(ds, info, params, geometry, cached, key)
        data = encode(image, params.output, params.quality)
    return RenderResult(
        data=data,
        output=params.output,
        width=geometry.width,
        height=geometry.height,
        source_rows=info.rows,
        source_columns=info.columns,
        frames=info.frames,
        pixel_aspect=info.pixel_aspect,
    )


def _keep(key: Hashable, ds: Dataset, info: ImageInfo, frame: np.ndarray, photometric: str) -> None:
    """Cache a full grayscale decode (the window-drag case); read-only, so no stage can change
    what the next render of this frame starts from."""
    if photometric in GRAYSCALE and frame.ndim == 2:
        frame.flags.writeable = False
        frames.CACHE.put(
            key, frames.Decoded(ds, info, frame, photometric, frames.measure(ds, frame))
        )


def _frame(
    ds: Dataset, info: ImageInfo, params: RenderParams, geometry: Plan
) -> tuple[np.ndarray, str, tuple[slice, slice]]:
    """The frame's cells, their photometric interpretation and the crop to take: a thumbnail of
    a whole compressed frame is decoded at reduced resolution where the codec allows."""
    whole = (geometry.x0, geometry.y0, geometry.x1, geometry.y1) == (0, 0, info.columns, info.rows)
    if whole:
        cells = reduced_frame(ds, info, params.frame, geometry.height, geometry.width)
        if cells is not None:
            full = cells.shape[:2] == (info.rows, info.columns)
            return cells, info.photometric, geometry.crop if full else (slice(None), slice(None))
    frame, photometric = decode_frame(ds, info, params.frame)
    return frame, photometric, geometry.crop


__all__ = ["render"]
