"""WADO-URI query parsing and validation (PS3.18 9.4-9.5; the URI Service).

Every parameter is checked here, once, before anything reaches a store or a worker: a malformed
value is a 400 with a one-line reason. Unknown parameters are ignored, as the standard asks.
"""

from __future__ import annotations

import codecs
import functools
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from multidict import MultiMapping

from renderer.params import Deidentify, OutputFormat, Region, RenderParams, Window
from router.cache import BoundedDict
from router.errors import InvalidRequest, NotAcceptable
from router.negotiation import ranked
from router.uid import check_uid

JPEG = "image/jpeg"
PNG = "image/png"
GIF = "image/gif"  # animated for a multi-frame object without frameNumber
DICOM = "application/dicom"
PDF = "application/pdf"  # an Encapsulated PDF's document
HTML = "text/html"  # a structured report, readable, in `charset`
MPEG = "video/mpeg"  # a video's stream as stored
MP4 = "video/mp4"  # a video's stream in an MP4 container
OFFERED = (JPEG, PNG, GIF, DICOM, PDF, HTML, MPEG, MP4)  # the first is the default for */*
ALIASES = {"image/jpg": JPEG}  # what Orthanc's plugin defaults to

DEFAULT_QUALITY = 90  # Orthanc's
MAX_SIDE = 16384
MAX_FRAME = 1_000_000
MAX_VALUE_LENGTH = 1024

KNOWN = (
    "requestType",
    "studyUID",
    "seriesUID",
    "objectUID",
    "contentType",
    "rows",
    "columns",
    "region",
    "windowCenter",
    "windowWidth",
    "frameNumber",
    "imageQuality",
    "overlays",
    "presentationUID",
    "presentationSeriesUID",
    "charset",
    "annotation",
    "transferSyntax",
    "anonymize",
)
_KNOWN_SETS: dict[tuple[str, ...], frozenset[str]] = {}  # single_values' names, as sets
DEFAULT_CHARSET = "utf-8"
_CHARSET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+-]{0,39}")  # an IANA charset name (RFC 2978)
ANNOTATIONS = ("patient", "technique")  # PS3.18 annotation values, in the order they are kept
_INT = re.compile(r"[0-9]{1,9}")
_DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]{1,3})?")


@dataclass(frozen=True, slots=True)
class WadoRequest:
    object_uid: str
    study_uid: str | None = None
    series_uid: str | None = None
    media_type: str = JPEG
    rows: int | None = None
    columns: int | None = None
    region: Region | None = None
    window: Window | None = None
    frame: int | None = None  # 1-based, as in the URL
    quality: int = DEFAULT_QUALITY
    overlays: bool | None = None  # None: the server's --overlays
    presentation_uid: str | None = None  # a Grayscale Softcopy Presentation State to apply
    presentation_series_uid: str | None = None
    charset: str = DEFAULT_CHARSET  # of a text output (HTML)
    annotation: tuple[str, ...] = ()  # corner text, a subset of ANNOTATIONS
    transfer_syntax: str | None = None  # of application/dicom: transcoded by a worker
    anonymize: bool = False  # de-identified by a worker (only with --allow-anonymize)
    alternatives: tuple[str, ...] = ()  # acceptable types after media_type, in order


OUTPUTS = {
    JPEG: OutputFormat.JPEG,
    PNG: OutputFormat.PNG,
    GIF: OutputFormat.GIF,
    PDF: OutputFormat.PDF,
    HTML: OutputFormat.HTML,
    MPEG: OutputFormat.MPEG,
    MP4: OutputFormat.MP4,
    DICOM: OutputFormat.DICOM,  # only with transferSyntax: the stored file is sent as it is
}


REMEMBERED = 4096  # parsed query strings (and their render parameters) kept


@functools.lru_cache(maxsize=REMEMBERED)
def render_params(
    request: WadoRequest, settings: RenderParams, deidentify: Deidentify | None = None
) -> RenderParams:
    """The render an image request asks for, over the server's own settings (default window,
    pixel limit, how it de-identifies). The bench's renderer-alone ceiling builds its renders
    here too. Remembered, as parse_remembered is: a dataclasses.replace of every field was the
    largest part of a render-cache hit's own code (5 us of about 15; hashing both values
    costs 1)."""
    return replace(
        settings,
        frame=(request.frame or 1) - 1,
        output=OUTPUTS[request.media_type],
        rows=request.rows,
        columns=request.columns,
        region=request.region,
        window=request.window,
        quality=request.quality,
        animate=request.frame is None,  # GIF of a multi-frame object: every frame
        overlays=settings.overlays if request.overlays is None else request.overlays,
        charset=request.charset,
        annotation=request.annotation,
        transfer_syntax=request.transfer_syntax,
        anonymize=(deidentify or Deidentify()) if request.anonymize else None,
        alternatives=alternatives((request.media_type, *request.alternatives)),
    )


def parse_int(name: str, value: str, low: int, high: int) -> int:
    if not _INT.fullmatch(value):
        raise InvalidRequest(f"{name} must be a whole number, got {_show(value)}")
    number = int(value)
    if not low <= number <= high:
        raise InvalidRequest(f"{name} must be between {low} and {high}, got {number}")
    return number


def parse_decimal(name: str, value: str) -> float:
    if not _DECIMAL.fullmatch(value.strip()):
        raise InvalidRequest(f"{name} must be a decimal number, got {_show(value)}")
    number = float(value)
    if not math.isfinite(number):
        raise InvalidRequest(f"{name} is out of range, got {_show(value)}")
    return number


def parse_region(value: str) -> Region:
    parts = value.split(",")
    if len(parts) != 4:
        raise InvalidRequest("region must be four numbers xmin,ymin,xmax,ymax")
    xmin, ymin, xmax, ymax = (parse_decimal("region", p) for p in parts)
    if not (0.0 <= xmin < xmax <= 1.0 and 0.0 <= ymin < ymax <= 1.0):
        raise InvalidRequest("region must satisfy 0 <= xmin < xmax <= 1 and 0 <= ymin < ymax <= 1")
    return Region(xmin, ymin, xmax, ymax)


def parse_window(center: str | None, width: str | None) -> Window | None:
    if center is None and width is None:
        return None
    if center is None or width is None:
        raise InvalidRequest("windowCenter and windowWidth must be given together")
    c = parse_decimal("windowCenter", center)
    w = parse_decimal("windowWidth", width)
    if w <= 0:
        raise InvalidRequest(f"windowWidth must be positive, got {w:g}")
    return Window(c, w)


def parse_bool(name: str, value: str) -> bool:
    """A switch: true or false (any case)."""
    lowered = value.strip().lower()
    if lowered not in ("true", "false"):
        raise InvalidRequest(f"{name} must be true or false, got {_show(value)}")
    return lowered == "true"


def parse_charset(value: str | None) -> str:
    """`charset` (PS3.18 8.3.3.2): a comma list of character sets in preference order, with
    optional `;q=` weights (ignored but allowed); the first one this server can encode wins."""
    if value is None or not value.strip():
        return DEFAULT_CHARSET
    for candidate in value.split(","):
        name = candidate.split(";")[0].strip()
        if name == "*":
            return DEFAULT_CHARSET
        if not _CHARSET.fullmatch(name):
            continue
        try:
            codecs.lookup(name)
        except LookupError:
            continue
        return name
    raise NotAcceptable(f"none of the requested character sets is known ({_show(value)})")


def parse_annotation(value: str) -> tuple[str, ...]:
    """A comma list of `patient` and `technique`, each at most once; kept in a fixed order so
    that `technique,patient` and `patient,technique` are one render."""
    asked = [part.strip().lower() for part in value.split(",") if part.strip()]
    unknown = [part for part in asked if part not in ANNOTATIONS]
    if unknown or not asked:
        raise InvalidRequest(
            f"annotation must be a comma list of {' and '.join(ANNOTATIONS)}, got {_show(value)}"
        )
    return tuple(kind for kind in ANNOTATIONS if kind in asked)


def parse_anonymize(value: str | None, presentation: bool) -> bool:
    """`anonymize` (PS3.18 8.2.10): "yes", or absent."""
    if value is None:
        return False
    if value != "yes":
        raise InvalidRequest(f"anonymize must be yes, got {_show(value)}")
    if presentation:
        raise InvalidRequest("anonymize=yes is not offered with presentationUID")
    return True


def parse_transfer_syntax(value: str | None, content_type: str | None) -> str | None:
    """`transferSyntax` (PS3.18 8.2.11): a UID, only with contentType=application/dicom."""
    if value is None or not value.strip():
        return None
    if parse_content_type(content_type) != DICOM:
        raise InvalidRequest("transferSyntax applies only to contentType=application/dicom")
    return check_uid("transferSyntax", value.strip())


def parse_content_type(value: str | None) -> str:
    return parse_content_types(value)[0]


def parse_content_types(value: str | None) -> tuple[str, ...]:
    """The acceptable types, the preferred first: whether the first fits the object (a PDF,
    an HTML report) only the renderer knows, so the others come along as alternatives."""
    if value is None or not value.strip():
        return (JPEG,)
    acceptable = ranked(value, OFFERED, ALIASES)
    if not acceptable:
        raise NotAcceptable(
            f"none of the requested content types is available ({_show(value)}); "
            f"this server offers {', '.join(OFFERED)}"
        )
    return tuple(acceptable)


def alternatives(types: tuple[str, ...]) -> tuple[OutputFormat, ...]:
    """The renders to fall back on, in order, after the first type (the stored file is not
    one: it is chosen, or not, before any render)."""
    return tuple(OUTPUTS[t] for t in types[1:] if t != DICOM)


def single_values(query: MultiMapping[str], names: tuple[str, ...] = KNOWN) -> dict[str, str]:
    """The known parameters, each at most once; a repeated one is ambiguous, hence a 400. One
    pass over what was sent (a few items), not a look-up per parameter known."""
    known = _KNOWN_SETS.get(names)
    if known is None:
        known = _KNOWN_SETS[names] = frozenset(names)
    values: dict[str, str] = {}
    for name, value in query.items():
        if name not in known:
            continue
        if name in values:
            raise InvalidRequest(f"{name} is given {len(query.getall(name))} times")
        if len(value) > MAX_VALUE_LENGTH:
            raise InvalidRequest(f"{name} is longer than {MAX_VALUE_LENGTH} characters")
        values[name] = value
    return values


_parsed: BoundedDict[str, WadoRequest] = BoundedDict(REMEMBERED)


def parse_remembered(query_string: str, query: Callable[[], MultiMapping[str]]) -> WadoRequest:
    """parse() of a request's query, remembered by its raw (still percent-encoded, hence
    unambiguous) query string: a viewer farm sends the same URLs again and again (render-cache
    hits), and aiohttp's decoding of the query plus the checks here were a third of a hit's own
    work (issue 11). A malformed query is parsed (and refused) every time."""
    found = _parsed.get(query_string)
    if found is None:
        found = parse(query())
        _parsed.put(query_string, found)
    return found


def parse(query: MultiMapping[str]) -> WadoRequest:
    p = single_values(query)
    if p.get("requestType") != "WADO":
        raise InvalidRequest("requestType must be WADO")
    if "objectUID" not in p:
        raise InvalidRequest("objectUID is required")
    if "presentationSeriesUID" in p and "presentationUID" not in p:
        raise InvalidRequest("presentationSeriesUID is given without presentationUID")
    if "presentationUID" in p and parse_content_type(p.get("contentType")) == DICOM:
        raise InvalidRequest("presentationUID applies to rendered images, not application/dicom")
    types = parse_content_types(p.get("contentType"))
    return WadoRequest(
        object_uid=check_uid("objectUID", p["objectUID"]),
        study_uid=_optional_uid(p, "studyUID"),
        series_uid=_optional_uid(p, "seriesUID"),
        media_type=types[0],
        alternatives=types[1:],
        rows=_optional_int(p, "rows", 1, MAX_SIDE),
        columns=_optional_int(p, "columns", 1, MAX_SIDE),
        region=parse_region(p["region"]) if "region" in p else None,
        window=parse_window(p.get("windowCenter"), p.get("windowWidth")),
        frame=_optional_int(p, "frameNumber", 1, MAX_FRAME),
        quality=_optional_int(p, "imageQuality", 1, 100) or DEFAULT_QUALITY,
        overlays=parse_bool("overlays", p["overlays"]) if "overlays" in p else None,
        presentation_uid=_optional_uid(p, "presentationUID"),
        presentation_series_uid=_optional_uid(p, "presentationSeriesUID"),
        charset=parse_charset(p.get("charset")),
        annotation=parse_annotation(p["annotation"]) if "annotation" in p else (),
        transfer_syntax=parse_transfer_syntax(p.get("transferSyntax"), p.get("contentType")),
        anonymize=parse_anonymize(p.get("anonymize"), "presentationUID" in p),
    )


def _optional_uid(p: Mapping[str, str], name: str) -> str | None:
    value = p.get(name)
    return check_uid(name, value) if value else None


def _optional_int(p: Mapping[str, str], name: str, low: int, high: int) -> int | None:
    return parse_int(name, p[name], low, high) if name in p else None


def _show(value: str, limit: int = 40) -> str:
    """A value quoted for an error message: printable and short."""
    text = value if len(value) <= limit else value[:limit] + "…"
    return repr(text)
