"""One render: DICOM bytes and parameters in, encoded image out. Pure and synchronous: a worker
process runs it, and so can a test or a benchmark, without any server."""

from __future__ import annotations

from renderer.color import render_color
from renderer.decode import decode_frame, image_info, read_dataset
from renderer.encode import encode
from renderer.errors import OutputTooLarge
from renderer.fetch import HttpSource, RenderSource, fetch
from renderer.geometry import plan, resize
from renderer.grayscale import render_grayscale
from renderer.params import RenderParams, RenderResult

GRAYSCALE = ("MONOCHROME1", "MONOCHROME2")


def render(source: RenderSource, params: RenderParams) -> RenderResult:
    if isinstance(source, HttpSource):
        source = fetch(source)
    ds = read_dataset(source)
    info = image_info(ds, params.max_pixels)
    geometry = plan(
        info.rows, info.columns, params.region, params.rows, params.columns, info.pixel_aspect
    )
    if geometry.width * geometry.height > params.max_pixels:
        raise OutputTooLarge(
            f"output of {geometry.width}x{geometry.height} exceeds the limit of "
            f"{params.max_pixels} pixels (--max-pixels)"
        )
    frame, photometric = decode_frame(ds, info, params.frame)
    if photometric in GRAYSCALE and frame.ndim == 2:
        image = render_grayscale(ds, params, info.stored, photometric, frame, geometry.crop)
    else:
        image = render_color(ds, info.stored, photometric, frame, geometry.crop)
    image = resize(image, geometry.width, geometry.height)
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


__all__ = ["render"]
