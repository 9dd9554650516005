"""DICOMweb rendered query parameters and Accept negotiation, parsed without a server."""

from __future__ import annotations

import pytest
from multidict import MultiDict

from renderer.formats import OutputFormat
from renderer.params import PixelRegion, Window
from router.errors import InvalidRequest, NotAcceptable
from router.render_request import RenderRequest
from router.rendered_query import (
    MAX_FRAMES,
    Viewport,
    parse,
    parse_frames,
    parse_viewport,
)

JPEG, PNG, GIF = OutputFormat.JPEG, OutputFormat.PNG, OutputFormat.GIF


def q(header: str | None = None, **params: str) -> RenderRequest:
    return parse(MultiDict(params), header)


def test_defaults() -> None:
    query = q()
    assert query.output is JPEG
    assert query.quality == 90
    assert query.rows is query.columns is query.pixel_region is query.window is None
    assert query.animate


def test_a_thumbnail_has_a_default_box_and_never_animates() -> None:
    assert parse(MultiDict(), None, True, 128) == RenderRequest(
        rows=128, columns=128, animate=False
    )
    own = parse(MultiDict(viewport="64,32"), None, True, 128)
    assert (own.rows, own.columns) == (32, 64)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, JPEG),
        ("", JPEG),
        ("*/*", JPEG),
        ("image/*", JPEG),
        ("image/png", PNG),
        ("image/gif", GIF),
        ("image/png;q=0.4, image/gif;q=0.6", GIF),
        ("image/jpeg;q=0, image/*", PNG),
        ("image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8", JPEG),
        ("application/dicom;q=1, image/png;q=0.1", PNG),
    ],
)
def test_accept_header(header: str | None, expected: OutputFormat) -> None:
    assert q(header).output is expected


def test_accept_parameter_overrides_the_header() -> None:
    assert q("image/png", accept="image/gif").output is GIF


def test_pictures_only_refuses_documents() -> None:
    assert parse(MultiDict(), "application/pdf, image/png;q=0.5", pictures=True).output is PNG
    with pytest.raises(NotAcceptable):
        parse(MultiDict(), "application/pdf", pictures=True)


@pytest.mark.parametrize(
    "accept", ["application/dicom", "image/webp", "multipart/related; type=image/jpeg"]
)
def test_nothing_acceptable(accept: str) -> None:
    with pytest.raises(NotAcceptable):
        q(accept)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("128,64", Viewport(128, 64)),
        ("100,100,10,20,30,40", Viewport(100, 100, PixelRegion(10, 20, 30, 40))),
        ("100,100,10,20,-30,-40", Viewport(100, 100, PixelRegion(10, 20, -30, -40))),
        ("100,100,,,,", Viewport(100, 100, PixelRegion(0, 0, None, None))),
        ("100,100,5,,-50,", Viewport(100, 100, PixelRegion(5, 0, -50, None))),
    ],
)
def test_viewport(value: str, expected: Viewport) -> None:
    assert parse_viewport(value) == expected
    asked = q(viewport=value)
    assert (asked.columns, asked.rows, asked.pixel_region) == (
        expected.columns,
        expected.rows,
        expected.pixel_region,
    )


@pytest.mark.parametrize(
    "value", ["128", "1,2,3", "0,10", "10,x", "10,10,-1,0,5,5", "10,10,0,0,0,5", "99999,10"]
)
def test_bad_viewport(value: str) -> None:
    with pytest.raises(InvalidRequest, match="viewport"):
        q(viewport=value)


def test_window() -> None:
    assert q(window="40,400,linear").window == Window(40.0, 400.0)
    assert q(window="-600.5,1500,LINEAR").window == Window(-600.5, 1500.0)


@pytest.mark.parametrize(
    "value", ["40,400", "40,400,linear,x", "40,0,linear", "a,400,linear", "40,400,cubic"]
)
def test_bad_window(value: str) -> None:
    with pytest.raises(InvalidRequest, match="window"):
        q(window=value)


@pytest.mark.parametrize("value", ["0", "101", "x", "9.5"])
def test_bad_quality(value: str) -> None:
    with pytest.raises(InvalidRequest, match="quality"):
        q(quality=value)


def test_repeated_parameter_is_ambiguous() -> None:
    with pytest.raises(InvalidRequest, match="2 times"):
        parse(MultiDict([("quality", "50"), ("quality", "60")]), None)


def test_frame_numbers() -> None:
    assert parse_frames("3") == (3,)
    assert parse_frames("5,1,3") == (5, 1, 3)  # in the order asked
    for bad in ("0", "x", "1,", "-1", "1,,2", ",".join(["1"] * (MAX_FRAMES + 1))):
        with pytest.raises(InvalidRequest):
            parse_frames(bad)
