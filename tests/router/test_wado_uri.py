"""The WADO-URI parser on its own: what each parameter becomes."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest
from multidict import MultiDict

from renderer.formats import OutputFormat
from renderer.params import Region, RenderParams, Window
from router import wado_uri
from router.errors import InvalidRequest, NotAcceptable
from router.render_request import RenderRequest, render_params

BASE = {"requestType": "WADO", "objectUID": "1.2.840.1"}


def parse(**params: str) -> wado_uri.WadoRequest:
    return wado_uri.parse(MultiDict({**BASE, **params}))


def test_defaults_match_orthanc() -> None:
    request = parse()
    assert request == wado_uri.WadoRequest(object_uid="1.2.840.1")
    assert request.render.output is OutputFormat.JPEG and request.render.quality == 90


def test_every_parameter() -> None:
    request = parse(
        studyUID="1.2",
        seriesUID="1.3",
        contentType="image/png",
        rows="10",
        columns="20",
        region="0.1,0.2,0.3,0.4",
        windowCenter="-40.5",
        windowWidth="1e3",
        frameNumber="3",
        imageQuality="55",
    )
    assert request == wado_uri.WadoRequest(
        object_uid="1.2.840.1",
        study_uid="1.2",
        series_uid="1.3",
        frame=3,
        render=RenderRequest(
            output=OutputFormat.PNG,
            rows=10,
            columns=20,
            region=Region(0.1, 0.2, 0.3, 0.4),
            window=Window(-40.5, 1000.0),
            quality=55,
        ),
    )


@pytest.mark.parametrize("value", ["", " ", "１２", "+1", "1_0", "0x10", "1e2", "١٢"])
def test_rows_must_be_plain_ascii_digits(value: str) -> None:
    with pytest.raises(InvalidRequest):
        parse(rows=value)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e999", "0x1p3", "1,5", "--1"])
def test_decimals_are_finite_and_plain(value: str) -> None:
    with pytest.raises(InvalidRequest):
        parse(windowCenter=value, windowWidth="10")


def test_values_too_long_are_refused() -> None:
    with pytest.raises(InvalidRequest, match="longer"):
        parse(contentType="image/jpeg," * 200)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("image/jpeg;q=0.1, image/png;q=0.2", OutputFormat.PNG),
        ("IMAGE/PNG", OutputFormat.PNG),
        ("image/webp, image/jpg", OutputFormat.JPEG),
        ("image/gif;q=0.9, image/png;q=0.5", OutputFormat.GIF),
        ("application/*", OutputFormat.DICOM),
    ],
)
def test_content_type_lists(value: str, expected: OutputFormat) -> None:
    assert parse(contentType=value).render.output is expected


def test_content_type_alternatives_keep_their_order() -> None:
    asked = parse(contentType="application/pdf, text/html;q=0.5, image/png;q=0.2").render
    assert (asked.output, asked.alternatives) == (
        OutputFormat.PDF,
        (OutputFormat.HTML, OutputFormat.PNG),
    )


def test_nothing_acceptable() -> None:
    with pytest.raises(NotAcceptable):
        parse(contentType="image/webp")


@pytest.mark.parametrize(("value", "expected"), [("false", False), ("TRUE", True), ("true", True)])
def test_overlays_switch(value: str, expected: bool) -> None:
    request = parse(overlays=value)
    assert request.render.overlays is expected
    settings = RenderParams(overlays=not expected)
    assert render_params(request.render, request.frame, settings).overlays is expected


def test_overlays_default_to_the_server_setting() -> None:
    request = parse()
    assert request.render.overlays is None
    for setting in (True, False):
        params = render_params(request.render, request.frame, RenderParams(overlays=setting))
        assert params.overlays is setting


@pytest.mark.parametrize("value", ["", "no", "0", "off"])
def test_overlays_must_be_true_or_false(value: str) -> None:
    with pytest.raises(InvalidRequest, match="overlays must be true or false"):
        parse(overlays=value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("patient", ("patient",)),
        ("technique,patient", ("patient", "technique")),
        (" Patient , TECHNIQUE ", ("patient", "technique")),
    ],
)
def test_annotation_values(value: str, expected: tuple[str, ...]) -> None:
    assert parse(annotation=value).render.annotation == expected


@pytest.mark.parametrize("value", ["", ",", "dose", "patient,dose"])
def test_annotation_must_be_patient_or_technique(value: str) -> None:
    with pytest.raises(InvalidRequest, match="annotation"):
        parse(annotation=value)


def test_a_query_is_parsed_once_and_remembered_by_its_raw_form() -> None:
    calls: list[str] = []

    def query(raw: str) -> MultiDict[str]:
        calls.append(raw)
        return MultiDict(parse_qsl(raw, keep_blank_values=True))

    first = "requestType=WADO&objectUID=1.2.3&rows=64"
    encoded = "requestType=WADO&objectUID=1.2.3&rows=6%34"  # the same values, another URL
    a = wado_uri.parse_remembered(first, lambda: query(first))
    b = wado_uri.parse_remembered(first, lambda: query(first))
    c = wado_uri.parse_remembered(encoded, lambda: query(encoded))
    assert a is b and a == c and calls == [first, encoded]
    bad = "requestType=WADO&objectUID=1.2.3&rows=0"
    for _ in range(2):  # refused each time, never remembered
        with pytest.raises(InvalidRequest):
            wado_uri.parse_remembered(bad, lambda: query(bad))
    assert calls == [first, encoded, bad, bad]
