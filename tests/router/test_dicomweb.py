"""DICOMweb rendered and thumbnail targets without a server: the resources match exactly the
paths aiohttp's own regular-expression resources match, with the same values; a request is
parsed once per raw URL and Accept header."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from multidict import MultiDict

from renderer.formats import OutputFormat
from router import dicomweb
from router.errors import InvalidRequest

STUDY, SERIES, INSTANCE = "1.2.3", "1.2.3.4", "1.2.3.4.5"
PATHS = [
    f"/dicom-web/studies/{STUDY}/rendered",
    f"/dicom-web/studies/{STUDY}/series/{SERIES}/thumbnail",
    f"/dicom-web/studies/{STUDY}/series/{SERIES}/instances/{INSTANCE}/rendered",
    f"/dicom-web/studies/{STUDY}/series/{SERIES}/instances/{INSTANCE}/frames/1,3/thumbnail",
    f"/dicom-web/studies/{STUDY}/series/{SERIES}/instances/a%2Fb%25c/rendered",
    f"/dicom-web/studies/{STUDY}/series//rendered",
    f"/dicom-web/studies/{STUDY}/series/{SERIES}/instances/{INSTANCE}/rendered/",
    f"/dicom-web/studies/{STUDY}/series/{SERIES}/frames/1/rendered",
    f"/dicom-web/studies/{STUDY}/series/{SERIES}/instances/x{{y}}/rendered",
    f"/dicom-web/studies/{STUDY}/SERIES/{SERIES}/thumbnail",
    f"/dicom-web/studies/{STUDY}/series/{SERIES}/rendered.png",
    "/dicom-web/studies/rendered",
]


@pytest.mark.parametrize("path", PATHS)
def test_targets_match_as_the_regular_expressions_do(path: str) -> None:
    for target in dicomweb.TARGETS:
        for kind in ("/rendered", "/thumbnail"):
            ours, theirs = dicomweb.Target(target + kind), web.DynamicResource(target + kind)
            assert ours._match(path) == theirs._match(path), (target + kind, path)
            assert ours.canonical == theirs.canonical  # the route label in /metrics


def request(path: str, accept: str | None = None) -> web.Request:
    """A request for `path`, with the values its target matched."""
    app = web.Application()
    dicomweb.add_routes(app)
    bare = path.partition("?")[0]
    values = next(v for r in app.router.resources() if (v := r._match(bare)) is not None)  # type: ignore[attr-defined]
    headers = {"Accept": accept} if accept else {}
    return make_mocked_request("GET", path, headers=headers, app=app, match_info=values)


def test_a_request_is_parsed_once_per_raw_url_accept_and_box() -> None:
    base = f"/dicom-web/studies/{STUDY}/series/{SERIES}/instances/{INSTANCE}/rendered"
    first = dicomweb.retrieval(request(base + "?quality=50"), None)
    again = dicomweb.retrieval(request(base + "?quality=50"), None)
    png = dicomweb.retrieval(request(base + "?quality=50", "image/png"), None)
    boxed = dicomweb.retrieval(request(base + "?quality=50"), 64)
    assert first is again and first.asked.quality == 50
    assert (first.study, first.series, first.instance, first.frames) == (
        STUDY,
        SERIES,
        INSTANCE,
        None,
    )
    assert png.asked.output is OutputFormat.PNG and png is not first
    assert (boxed.asked.rows, boxed.asked.columns, boxed.asked.animate) == (64, 64, False)


def test_a_list_of_frames_is_pictures_only() -> None:
    match = {"study": STUDY, "series": SERIES, "instance": INSTANCE, "frame": "3,1"}
    one = dicomweb.parse_retrieval({**match, "frame": "2"}, MultiDict(), "application/pdf", None)
    assert one.frames == (2,) and one.asked.output is OutputFormat.PDF
    several = dicomweb.parse_retrieval(match, MultiDict(), "application/pdf, image/png", None)
    assert several.frames == (3, 1) and several.asked.output is OutputFormat.PNG


def test_a_malformed_uid_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="study"):
        dicomweb.parse_retrieval({"study": "1..2"}, MultiDict(), None, None)
