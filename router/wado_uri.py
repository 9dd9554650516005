"""WADO-URI query parsing and validation (PS3.18 9.4-9.5; the URI Service).

Every parameter is checked here, once, before anything reaches a store or a worker: a malformed
value is a 400 with a one-line reason. Unknown parameters are ignored, as the standard asks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from multidict import MultiMapping

from renderer.formats import OutputFormat
from renderer.params import Region, Window
from router import values
from router.cache import BoundedDict
from router.errors import InvalidRequest, NotAcceptable
from router.negotiation import EVERY_FORMAT, acceptable, media_types
from router.render_request import ASK_DEFAULTS, DEFAULT_QUALITY, REMEMBERED, RenderRequest
from router.uid import check_uid

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


@dataclass(frozen=True, slots=True)
class WadoRequest:
    object_uid: str
    study_uid: str | None = None
    series_uid: str | None = None
    frame: int | None = None  # 1-based, as in the URL
    presentation_uid: str | None = None  # a Grayscale Softcopy Presentation State to apply
    presentation_series_uid: str | None = None
    render: RenderRequest = ASK_DEFAULTS  # what is asked of the render (or the file)

    @property
    def stored_file(self) -> bool:
        """The stored file as it is: streamed from the store, no worker involved."""
        render = self.render
        return render.output is OutputFormat.DICOM and not (
            render.transfer_syntax or render.anonymize
        )


def parse_region(value: str) -> Region:
    parts = value.split(",")
    if len(parts) != 4:
        raise InvalidRequest("region must be four numbers xmin,ymin,xmax,ymax")
    xmin, ymin, xmax, ymax = (values.parse_decimal("region", p) for p in parts)
    if not (0.0 <= xmin < xmax <= 1.0 and 0.0 <= ymin < ymax <= 1.0):
        raise InvalidRequest("region must satisfy 0 <= xmin < xmax <= 1 and 0 <= ymin < ymax <= 1")
    return Region(xmin, ymin, xmax, ymax)


def parse_window(center: str | None, width: str | None) -> Window | None:
    if center is None and width is None:
        return None
    if center is None or width is None:
        raise InvalidRequest("windowCenter and windowWidth must be given together")
    c = values.parse_decimal("windowCenter", center)
    w = values.parse_decimal("windowWidth", width)
    if w <= 0:
        raise InvalidRequest(f"windowWidth must be positive, got {w:g}")
    return Window(c, w)


def parse_anonymize(value: str | None, presentation: bool) -> bool:
    """`anonymize` (PS3.18 8.2.10): "yes", or absent."""
    if value is None:
        return False
    if value != "yes":
        raise InvalidRequest(f"anonymize must be yes, got {values.show(value)}")
    if presentation:
        raise InvalidRequest("anonymize=yes is not offered with presentationUID")
    return True


def parse_transfer_syntax(value: str | None, output: OutputFormat) -> str | None:
    """`transferSyntax` (PS3.18 8.2.11): a UID, only with contentType=application/dicom."""
    if value is None or not value.strip():
        return None
    if output is not OutputFormat.DICOM:
        raise InvalidRequest("transferSyntax applies only to contentType=application/dicom")
    return check_uid("transferSyntax", value.strip())


def parse_content_types(value: str | None) -> tuple[OutputFormat, ...]:
    """The acceptable formats, the preferred first: whether the first fits the object (a PDF,
    an HTML report) only the renderer knows, so the others come along as alternatives."""
    outputs = acceptable(value, EVERY_FORMAT)
    if not outputs:
        raise NotAcceptable(
            f"none of the requested content types is available ({values.show(value or '')}); "
            f"this server offers {media_types(EVERY_FORMAT)}"
        )
    return outputs


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
    p = values.single_values(query, KNOWN)
    if p.get("requestType") != "WADO":
        raise InvalidRequest("requestType must be WADO")
    if "objectUID" not in p:
        raise InvalidRequest("objectUID is required")
    if "presentationSeriesUID" in p and "presentationUID" not in p:
        raise InvalidRequest("presentationSeriesUID is given without presentationUID")
    outputs = parse_content_types(p.get("contentType"))
    if "presentationUID" in p and outputs[0] is OutputFormat.DICOM:
        raise InvalidRequest("presentationUID applies to rendered images, not application/dicom")
    object_uid = check_uid("objectUID", p["objectUID"])
    study_uid = _optional_uid(p, "studyUID")
    series_uid = _optional_uid(p, "seriesUID")
    render = RenderRequest(
        output=outputs[0],
        alternatives=outputs[1:],
        rows=_optional_int(p, "rows", 1, values.MAX_SIDE),
        columns=_optional_int(p, "columns", 1, values.MAX_SIDE),
        region=parse_region(p["region"]) if "region" in p else None,
        window=parse_window(p.get("windowCenter"), p.get("windowWidth")),
        quality=_optional_int(p, "imageQuality", 1, 100) or DEFAULT_QUALITY,
        overlays=values.parse_bool("overlays", p["overlays"]) if "overlays" in p else None,
        charset=values.parse_charset(p.get("charset")),
        annotation=values.parse_annotation(p["annotation"]) if "annotation" in p else (),
        transfer_syntax=parse_transfer_syntax(p.get("transferSyntax"), outputs[0]),
        anonymize=parse_anonymize(p.get("anonymize"), "presentationUID" in p),
    )
    return WadoRequest(
        object_uid=object_uid,
        study_uid=study_uid,
        series_uid=series_uid,
        frame=_optional_int(p, "frameNumber", 1, values.MAX_FRAME),
        presentation_uid=_optional_uid(p, "presentationUID"),
        presentation_series_uid=_optional_uid(p, "presentationSeriesUID"),
        render=render,
    )


def _optional_uid(p: Mapping[str, str], name: str) -> str | None:
    value = p.get(name)
    return check_uid(name, value) if value else None


def _optional_int(p: Mapping[str, str], name: str, low: int, high: int) -> int | None:
    return values.parse_int(name, p[name], low, high) if name in p else None
