"""DICOMweb rendered and thumbnail query parameters (PS3.18 8.3.5.1) and content negotiation
(PS3.18 8.7.4), checked once: a malformed value is a 400 with a one-line reason, nothing
acceptable a 406. Unknown parameters (iccprofile) are ignored."""

from __future__ import annotations

from dataclasses import dataclass

from multidict import MultiMapping

from renderer.params import SourceBox, VoiFunction, Window
from router.errors import InvalidRequest, NotAcceptable
from router.negotiation import ranked
from router.wado_uri import (
    ALIASES,
    DEFAULT_CHARSET,
    DEFAULT_QUALITY,
    GIF,
    HTML,
    JPEG,
    MAX_FRAME,
    MAX_SIDE,
    MP4,
    MPEG,
    PDF,
    PNG,
    parse_annotation,
    parse_bool,
    parse_charset,
    parse_decimal,
    parse_int,
    single_values,
)

PICTURES = (JPEG, PNG, GIF)  # JPEG first: the default, and what */* and image/* mean
OFFERED = (*PICTURES, PDF, HTML, MPEG, MP4)  # /rendered; a /thumbnail is a picture
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
    source: SourceBox | None = None


@dataclass(frozen=True, slots=True)
class RenderedQuery:
    media_type: str = JPEG
    quality: int = DEFAULT_QUALITY
    viewport: Viewport | None = None
    window: Window | None = None
    overlays: bool | None = None  # a wadofarm extension, as on /wado; None: --overlays
    charset: str = DEFAULT_CHARSET  # of a text output (HTML)
    annotation: tuple[str, ...] = ()  # patient, technique (PS3.18 8.3.5.1.5)
    alternatives: tuple[str, ...] = ()  # acceptable types after media_type, in order


def parse_viewport(value: str) -> Viewport:
    """vw,vh[,sx,sy,sw,sh]: the output box, then the source rectangle in pixels; sx,sy may be
    empty (0) and sw,sh empty (to the image's edge); a negative sw or sh flips."""
    parts = [p.strip() for p in value.split(",")]
    if len(parts) not in (2, 6):
        raise InvalidRequest("viewport must be vw,vh or vw,vh,sx,sy,sw,sh")
    vw = parse_int("viewport width", parts[0], 1, MAX_SIDE)
    vh = parse_int("viewport height", parts[1], 1, MAX_SIDE)
    if len(parts) == 2:
        return Viewport(vw, vh)
    sx = parse_int("viewport sx", parts[2], 0, MAX_SIDE) if parts[2] else 0
    sy = parse_int("viewport sy", parts[3], 0, MAX_SIDE) if parts[3] else 0
    sw = _signed_side("viewport sw", parts[4])
    sh = _signed_side("viewport sh", parts[5])
    return Viewport(vw, vh, SourceBox(sx, sy, sw, sh))


def _signed_side(name: str, value: str) -> int | None:
    if not value:
        return None
    negative = value.startswith("-")
    side = parse_int(name, value.removeprefix("-"), 1, MAX_SIDE)
    return -side if negative else side


def parse_window(value: str) -> Window:
    """center,width,function (PS3.18 8.3.5.1.4), function one of WINDOW_FUNCTIONS."""
    parts = [p.strip() for p in value.split(",")]
    if len(parts) != 3:
        raise InvalidRequest("window must be center,width,function")
    center = parse_decimal("window center", parts[0])
    width = parse_decimal("window width", parts[1])
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


def negotiate_media(accept: str | None, offered: tuple[str, ...] = OFFERED) -> tuple[str, ...]:
    """The `accept` parameter, else the Accept header, as the acceptable offered types, the
    preferred first; absent or empty means JPEG."""
    if accept is None or not accept.strip():
        return (JPEG,)
    chosen = tuple(ranked(accept, offered, ALIASES))
    if not chosen:
        shown = accept if len(accept) <= 60 else accept[:60] + "…"
        raise NotAcceptable(
            f"none of the requested media types is offered ({shown!r}); "
            f"these resources are {', '.join(offered)}"
        )
    return chosen


def parse(
    query: MultiMapping[str], accept_header: str | None, offered: tuple[str, ...] = OFFERED
) -> RenderedQuery:
    p = single_values(query, KNOWN)
    types = negotiate_media(p.get("accept", accept_header), offered)
    return RenderedQuery(
        media_type=types[0],
        alternatives=types[1:],
        quality=parse_int("quality", p["quality"], 1, 100) if "quality" in p else DEFAULT_QUALITY,
        viewport=parse_viewport(p["viewport"]) if "viewport" in p else None,
        window=parse_window(p["window"]) if "window" in p else None,
        overlays=parse_bool("overlays", p["overlays"]) if "overlays" in p else None,
        charset=parse_charset(p.get("charset")),
        annotation=parse_annotation(p["annotation"]) if "annotation" in p else (),
    )


def parse_frames(value: str) -> tuple[int, ...]:
    """The 1-based frames of a /frames/{list} target, in the order asked (PS3.18 8.3.3.1)."""
    parts = value.split(",")
    if len(parts) > MAX_FRAMES:
        raise InvalidRequest(f"at most {MAX_FRAMES} frames are rendered per request")
    return tuple(parse_int("frame number", part.strip(), 1, MAX_FRAME) for part in parts)
