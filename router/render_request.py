"""What a request asks of a render, in neither protocol's words: router/wado_uri.py and
router/rendered_query.py translate their parameters into a RenderRequest, and render_params() is
the one builder of the render parameters from it and the server's own settings, remembered."""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

from renderer.formats import FORMATS, OutputFormat
from renderer.params import Deidentify, PixelRegion, Region, RenderParams, Window

DEFAULT_QUALITY = 90  # Orthanc's
DEFAULT_CHARSET = "utf-8"
REMEMBERED = 4096  # render parameters kept (and parsed query strings, by each adapter)


@dataclass(frozen=True, slots=True)
class RenderRequest:
    output: OutputFormat = OutputFormat.JPEG
    alternatives: tuple[OutputFormat, ...] = ()  # acceptable after `output`, in order
    rows: int | None = None  # the output box
    columns: int | None = None
    region: Region | None = None  # WADO-URI region: a crop in fractions of the image
    pixel_region: PixelRegion | None = None  # DICOMweb viewport sx,sy,sw,sh: a crop in pixels
    window: Window | None = None
    quality: int = DEFAULT_QUALITY
    overlays: bool | None = None  # None: the server's --overlays
    charset: str = DEFAULT_CHARSET  # of a text output (HTML)
    annotation: tuple[str, ...] = ()  # corner text: patient, technique
    transfer_syntax: str | None = None  # of the stored file (WADO-URI transferSyntax)
    anonymize: bool = False  # WADO-URI anonymize=yes
    # A multi-frame object asked without a frame shows every frame where the format can (GIF);
    # a thumbnail never does.
    animate: bool = True


ASK_DEFAULTS = RenderRequest()  # a request with no render parameter: a JPEG, as Orthanc's


@functools.lru_cache(maxsize=REMEMBERED)
def render_params(
    request: RenderRequest,
    frame: int | None,
    settings: RenderParams,
    deidentify: Deidentify | None = None,
) -> RenderParams:
    """The render `request` asks of frame `frame` (1-based, as in URLs; None: the first, or all
    of them animated), over the server's own settings (default window, pixel limit, overlays;
    `deidentify`: how anonymize=yes is done). The bench's renderer-alone ceiling builds its
    renders here too. Remembered: a viewer farm asks for the same renders again and again, and
    a dataclasses.replace of every field was the largest part of a render-cache hit's own code
    (5 us of about 15; hashing the arguments costs 1)."""
    return replace(
        settings,
        frame=(frame or 1) - 1,
        output=request.output,
        rows=request.rows,
        columns=request.columns,
        region=request.region,
        pixel_region=request.pixel_region,
        window=request.window,
        quality=request.quality,
        animate=request.animate and frame is None,
        overlays=settings.overlays if request.overlays is None else request.overlays,
        charset=request.charset,
        annotation=request.annotation,
        transfer_syntax=request.transfer_syntax,
        anonymize=(deidentify or Deidentify()) if request.anonymize else None,
        # The stored file is no render to fall back on: it is chosen, or not, before any.
        alternatives=tuple(a for a in request.alternatives if not FORMATS[a].stored_file),
    )
