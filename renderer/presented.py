"""One render of an image frame through a Grayscale Softcopy Presentation State (PS3.4 N.2, the
WADO-URI presentationUID): the state's Modality LUT, VOI and Presentation LUT, then the
activated overlays and the shutters on the stored image, then the displayed area (padded with
black where it extends past the image), the rotation and the flip, then `region` and the
output box, and last the graphic annotations and any corner annotations, drawn at the output size.

The state is read by the worker from its own source (the router never parses it); the image
comes from the frame cache when this worker decoded it recently, so a change of state costs no
decode.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from renderer.annotation.annotate import Mapping, draw
from renderer.annotation.labels import labelled
from renderer.decoding.decode import GRAYSCALE
from renderer.display.color import render_color
from renderer.display.grayscale import render_grayscale
from renderer.display.gsps import DisplayedArea, Presentation, presentation_for, read_state
from renderer.display.header import Header
from renderer.display.lut import Lut, apply_lut
from renderer.display.overlay import burn
from renderer.display.shutter import apply_shutter
from renderer.errors import OutputTooLarge
from renderer.files import frames
from renderer.files.anonymize import check_pixels, check_size
from renderer.files.local_file import read_nofollow
from renderer.files.stored_file import StoredFile, fetched
from renderer.output.encode import encode
from renderer.output.geometry import resize
from renderer.output.layout import Plan, crop_box, fit
from renderer.params import Deidentify, PresentationRef, RenderParams, RenderResult, RenderSource

WHOLE = (slice(None), slice(None))


def state_bytes(source: RenderSource, anonymize: Deidentify | None = None) -> bytes:
    data = fetched(source, anonymize)
    if isinstance(data, str):
        return read_nofollow(data)  # as the image: no symlink on the path
    if anonymize is not None:
        check_size(len(data), anonymize)
    return data


def _frame(
    source: RenderSource, params: RenderParams
) -> tuple[Header, np.ndarray, str, StoredFile | None]:
    """The frame's header and full-resolution cells, from the frame cache when it has them
    (not for corner annotations, which read the whole header, nor when de-identifying), and
    the file when read."""
    shared = frames.CACHE.max_bytes and params.anonymize is None
    key = frames.key_for(source, params.frame) if shared else None
    cached = frames.CACHE.get(key) if key is not None and not params.annotation else None
    if cached is not None:
        return cached.header, cached.frame, cached.photometric, None
    file = StoredFile(fetched(source, params.anonymize), params.anonymize)
    if params.anonymize is not None:
        check_pixels(file.dataset(), params.anonymize)
    header = file.header(params.frame, params.max_pixels)
    info = header.info
    whole = Plan(0, 0, info.columns, info.rows, info.columns, info.rows)
    cells, photometric, _ = file.cells(header, params.frame, whole, reduce=False)
    if key is not None and photometric in GRAYSCALE and cells.ndim == 2:
        cells.flags.writeable = False
        frames.CACHE.put(key, frames.Decoded(header, cells, photometric, frames.measure(cells)))
    return header, cells, photometric, file


def apply_presentation_lut(image: np.ndarray, lut: Lut) -> np.ndarray:
    """A Presentation LUT Sequence table (C.11.6): the VOI output's full range spread over the
    table's entries, each entry a P-value of lut.bits bits, as 8-bit levels."""
    count = len(lut.table)
    index = np.rint(np.arange(256) * ((count - 1) / 255.0)).astype(np.int64) + lut.first
    levels = apply_lut(index, lut).astype(np.float64) * (255.0 / lut.max_output)
    table = np.clip(np.floor(levels + 0.5), 0, 255).astype(np.uint8)
    out: np.ndarray = table[image]
    return out


def displayed(image: np.ndarray, area: DisplayedArea | None, max_pixels: int) -> np.ndarray:
    """The displayed area of the stored image (1-based, inclusive), black past its edges."""
    if area is None:
        return image
    rows, columns = image.shape[:2]
    left, top = area.left - 1, area.top - 1
    width, height = max(area.right - left, 1), max(area.bottom - top, 1)
    if width * height > max_pixels:
        raise OutputTooLarge(
            f"the presentation state's displayed area of {width}x{height} exceeds the limit of "
            f"{max_pixels} pixels (--max-pixels)"
        )
    if (left, top, width, height) == (0, 0, columns, rows):
        return image
    out = np.zeros((height, width, *image.shape[2:]), dtype=image.dtype)
    ya, yb = max(top, 0), min(top + height, rows)
    xa, xb = max(left, 0), min(left + width, columns)
    if ya < yb and xa < xb:
        out[ya - top : yb - top, xa - left : xb - left] = image[ya:yb, xa:xb]
    return out


def spatial(image: np.ndarray, rotation: int, flip: bool) -> np.ndarray:
    """C.10.6: rotate clockwise, then flip horizontally."""
    if rotation:
        image = np.rot90(image, k=-(rotation // 90))
    if flip:
        image = image[:, ::-1]
    return image


def output_size(
    width: int, height: int, params: RenderParams, state: Presentation, aspect: float
) -> tuple[int, int]:
    """The output box (rows/columns) fits the shown area; without one, SCALE TO FIT and TRUE
    SIZE (no display to measure) show it a stored pixel to an output pixel, MAGNIFY times its
    Presentation Pixel Magnification Ratio."""
    if params.rows is not None or params.columns is not None:
        return fit(width, height, params.columns, params.rows, aspect)
    area = state.area
    scale = area.magnification if area is not None and area.mode == "MAGNIFY" else 1.0
    return max(1, round(width * scale)), max(1, round(height * aspect * scale))


def render_presented(source: RenderSource, params: RenderParams) -> RenderResult:
    ref = params.presentation
    assert ref is not None
    state_ds = read_state(state_bytes(ref.source, params.anonymize))
    header, cells, photometric, file = _frame(source, params)
    info = header.info
    state = presentation_for(state_ds, ref.uid, ref.image_uid, params.frame, info)
    if params.anonymize is not None:
        # The profile's treatment of the state: Graphic Annotation Sequence D (its text and
        # graphics replaced), Overlay Data X; the image's overlays are off (renderer.pipeline).
        state = dataclasses.replace(state, graphics=(), texts=(), overlays=())
    image = _shown(header, params, photometric, cells, state)
    area = state.area
    shown = spatial(displayed(image, area, params.max_pixels), state.rotation, state.flip)
    height, width = shown.shape[:2]
    x0, y0, x1, y1 = crop_box(height, width, params.region)
    aspect = area.aspect if area is not None and area.aspect else info.pixel_aspect
    if state.rotation in (90, 270):
        aspect = 1.0 / aspect
    out_width, out_height = output_size(x1 - x0, y1 - y0, params, state, aspect)
    if out_width * out_height > params.max_pixels:
        raise OutputTooLarge(
            f"output of {out_width}x{out_height} exceeds the limit of {params.max_pixels} "
            "pixels (--max-pixels)"
        )
    picture = resize(np.ascontiguousarray(shown[y0:y1, x0:x1]), out_width, out_height)
    mapping = Mapping(
        left=(area.left - 1) if area else 0,
        top=(area.top - 1) if area else 0,
        width=image.shape[1] if area is None else max(area.right - area.left + 1, 1),
        height=image.shape[0] if area is None else max(area.bottom - area.top + 1, 1),
        rotation=state.rotation,
        flip=state.flip,
        crop=(x0, y0, x1, y1),
        out_width=out_width,
        out_height=out_height,
    )
    picture = draw(picture, state.graphics, state.texts, mapping)
    through = dataclasses.replace(header, voi=state.voi or header.voi)
    picture = labelled(picture, file, through, params)
    return RenderResult(
        data=encode(picture, params.output, params.quality),
        output=params.output,
        width=out_width,
        height=out_height,
        stored_rows=info.rows,
        stored_columns=info.columns,
        frames=info.frames,
        pixel_aspect=info.pixel_aspect,
        # A fact of the image, not of the state: the router's keys of its plain renders use it.
        default_window=info.photometric in GRAYSCALE and header.voi is None,
    )


def _shown(
    header: Header,
    params: RenderParams,
    photometric: str,
    cells: np.ndarray,
    state: Presentation,
) -> np.ndarray:
    """The whole stored frame through the state's grayscale pipeline, with its activated
    overlays and its shutters: 8-bit P-values at the stored size."""
    if photometric in GRAYSCALE and cells.ndim == 2:
        through = dataclasses.replace(
            header,
            modality=state.modality or header.modality,
            voi=state.voi or header.voi,
            presentation=state.shape,
        )
        image = render_grayscale(through, params, photometric, cells, WHOLE)
        if state.lut is not None:
            image = apply_presentation_lut(image, state.lut)
    else:
        image = render_color(header.palette, header.info.stored, photometric, cells, WHOLE)
    if params.overlays:
        planes = tuple(p for p in header.overlays if p.group in state.image_overlays)
        planes += state.overlays
        image = burn(image, planes, params.frame, cells, WHOLE, state.overlay_level)
    return apply_shutter(image, state.shutter, params.frame)


__all__ = ["PresentationRef", "render_presented"]
