"""DICOMweb rendered and thumbnail query parameters (PS3.18 8.3.5.1) and content negotiation
(PS3.18 8.7.4), checked once: a malformed value is a 400 with a one-line reason, nothing
acceptable a 406. Unknown parameters (iccprofile) are ignored."""

from __future__ import annotations

from dataclasses import dataclass

from multidict import MultiMapping

from renderer.formats import OutputFormat
from renderer.params import PixelRegion, VoiFunction, Window
from router import values
from router.errors import InvalidRequest, NotAcceptable
from router.negotiation import PICTURES, RENDERINGS, acceptable, media_types
from router.render_request import DEFAULT_QUALITY, RenderRequest

MAX_FRAMES = 64  # frames in one multipart answer: each is a render
KNOWN = ("accept", "quality", "viewport", "window", "overlays", "charset", "annotation")
# The VOI LUT Functions of PS3.3 C.11.2.1.3, by their PS3.18 query names.
WINDOW_FUNCTIONS = {
    "linear": VoiFunction.LINEAR,
    "linear-exact": VoiFunction.LINEAR_EXACT,
    "sigmoid": VoiFunction.SIGMOID,
}


@dataclass(frozen=True, slots=True)
class Viewport:
    columns: int  # vw: the output box
    rows: int  # vh
    pixel_region: PixelRegion | None = None


def parse_viewport(value: str) -> Viewport:
    """vw,vh[,sx,sy,sw,sh]: the output box, then a pixel region (the crop); sx,sy may be
    empty (0) and sw,sh empty (to the image's edge); a negative sw or sh flips."""
    parts = [p.strip() for p in value.split(",")]
    if len(parts) not in (2, 6):
        raise InvalidRequest("viewport must be vw,vh or vw,vh,sx,sy,sw,sh")
    vw = values.parse_int("viewport width", parts[0], 1, values.MAX_SIDE)
    vh = values.parse_int("viewport height", parts[1], 1, values.MAX_SIDE)
    if len(parts) == 2:
        return Viewport(vw, vh)
    sx = values.parse_int("viewport sx", parts[2], 0, values.MAX_SIDE) if parts[2] else 0
    sy = values.parse_int("viewport sy", parts[3], 0, values.MAX_SIDE) if parts[3] else 0
    sw = _signed_side("viewport sw", parts[4])
    sh = _signed_side("viewport sh", parts[5])
    return Viewport(vw, vh, PixelRegion(sx, sy, sw, sh))


def _signed_side(name: str, value: str) -> int | None:
    if not value:
        return None
    negative = value.startswith("-")
    side = values.parse_int(name, value.removeprefix("-"), 1, values.MAX_SIDE)
    return -side if negative else side


def parse_window(value: str) -> Window:
    """center,width,function (PS3.18 8.3.5.1.4), function one of WINDOW_FUNCTIONS."""
    parts = [p.strip() for p in value.split(",")]
    if len(parts) != 3:
        raise InvalidRequest("window must be center,width,function")
    center = values.parse_decimal("window center", parts[0])
    width = values.parse_decimal("window width", parts[1])
    if width <= 0:
        raise InvalidRequest(f"window width must be positive, got {width:g}")
    function = parts[2].lower()
    if function not in WINDOW_FUNCTIONS:
        raise InvalidRequest(
            f"window function must be one of {', '.join(WINDOW_FUNCTIONS)}, got {parts[2]!r}"
        )
    return window_with_function(center, width, function)


def window_with_function(center: float, width: float, function: str) -> Window:
    return Window(center, width, WINDOW_FUNCTIONS[function])


def negotiate_media(
    accept: str | None, offered: tuple[OutputFormat, ...] = RENDERINGS
) -> tuple[OutputFormat, ...]:
    """The `accept` parameter, else the Accept header, as the acceptable offered formats, the
    preferred first; absent or empty means JPEG."""
    chosen = acceptable(accept, offered)
    if not chosen:
        shown = (accept or "") if len(accept or "") <= 60 else (accept or "")[:60] + "…"
        raise NotAcceptable(
            f"none of the requested media types is offered ({shown!r}); "
            f"these resources are {media_types(offered)}"
        )
    return chosen


def parse(
    query: MultiMapping[str],
    accept_header: str | None,
    pictures: bool = False,
    thumbnail: int | None = None,
) -> RenderRequest:
    """What a rendered resource's query asks. `pictures`: only picture formats are offered (a
    thumbnail, a part per frame); `thumbnail` is a /thumbnail's default box (the server's
    --thumbnail-size), None for /rendered. A thumbnail is never animated."""
    p = values.single_values(query, KNOWN)
    outputs = negotiate_media(p.get("accept", accept_header), PICTURES if pictures else RENDERINGS)
    viewport = parse_viewport(p["viewport"]) if "viewport" in p else None
    if viewport is None and thumbnail is not None:
        viewport = Viewport(thumbnail, thumbnail)
    quality = p.get("quality")
    return RenderRequest(
        output=outputs[0],
        alternatives=outputs[1:],
        quality=DEFAULT_QUALITY
        if quality is None
        else values.parse_int("quality", quality, 1, 100),
        rows=viewport.rows if viewport else None,
        columns=viewport.columns if viewport else None,
        pixel_region=viewport.pixel_region if viewport else None,
        window=parse_window(p["window"]) if "window" in p else None,
        overlays=values.parse_bool("overlays", p["overlays"]) if "overlays" in p else None,
        charset=values.parse_charset(p.get("charset")),
        annotation=values.parse_annotation(p["annotation"]) if "annotation" in p else (),
        animate=thumbnail is None,
    )


def parse_frames(value: str) -> tuple[int, ...]:
    """The 1-based frames of a /frames/{list} target, in the order asked (PS3.18 8.3.3.1)."""
    parts = value.split(",")
    if len(parts) > MAX_FRAMES:
        raise InvalidRequest(f"at most {MAX_FRAMES} frames are rendered per request")
    return tuple(
        values.parse_int("frame number", part.strip(), 1, values.MAX_FRAME) for part in parts
    )
