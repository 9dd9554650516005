"""The client-error statuses of /wado, each by a real request to a real server. Malformed
parameters, broken files and upstream faults are in tests/reliability."""

from __future__ import annotations

import pytest

from renderer.params import etag_for
from tests.support import corpus
from tests.support.http import get, request

CT = "CT_small.dcm"


def wado(name: str = CT, **params: object) -> dict[str, object]:
    s = corpus.sample(name)
    return {
        "requestType": "WADO",
        "studyUID": s.study_uid,
        "seriesUID": s.series_uid,
        "objectUID": s.object_uid,
        **params,
    }


def without(params: dict[str, object], *names: str) -> dict[str, object]:
    return {k: v for k, v in params.items() if k not in names}


def test_unknown_parameters_are_ignored(wadofarm_folder) -> None:  # type: ignore[no-untyped-def]
    assert get(wadofarm_folder.url + "/wado", params=wado(charset="utf-8", foo="bar")).status == 200


@pytest.mark.parametrize(
    "params",
    [
        wado(objectUID="1.2.3.4.5.6.7.8.9"),
        wado(studyUID="1.2.3"),
        wado(seriesUID="1.2.3"),
    ],
    ids=["unknown objectUID", "wrong studyUID", "wrong seriesUID"],
)
def test_not_found_is_404(store_server, params) -> None:  # type: ignore[no-untyped-def]
    _, server = store_server
    reply = get(server.url + "/wado", params=params)
    assert reply.status == 404, reply.text
    assert reply.content_type == "text/plain"


def test_study_and_series_are_optional(store_server) -> None:  # type: ignore[no-untyped-def]
    _, server = store_server
    reply = get(server.url + "/wado", params=without(wado(), "studyUID", "seriesUID"))
    assert reply.status == 200


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_other_methods_are_405(wadofarm_folder, method) -> None:  # type: ignore[no-untyped-def]
    reply = request(method, wadofarm_folder.url + "/wado", params=wado())
    assert reply.status == 405
    assert "GET" in reply.headers.get("allow", "")


@pytest.mark.parametrize("content_type", ["text/html", "image/png;q=0", "video/mp4, text/*"])
def test_nothing_acceptable_is_406(wadofarm_folder, content_type) -> None:  # type: ignore[no-untyped-def]
    reply = get(wadofarm_folder.url + "/wado", params=wado(contentType=content_type))
    assert reply.status == 406, reply.text


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("image/jpeg", "image/jpeg"),
        ("image/jpg", "image/jpeg"),
        ("image/png", "image/png"),
        ("*/*", "image/jpeg"),
        ("image/*", "image/jpeg"),
        ("image/png;q=0.9, image/jpeg;q=0.5", "image/png"),
        ("text/html, image/png", "image/png"),
        ("application/dicom;q=0.1, image/jpeg;q=0.2", "image/jpeg"),
        ("application/dicom, image/jpeg", "application/dicom"),
    ],
)
def test_content_type_negotiation(wadofarm_folder, content_type, expected) -> None:  # type: ignore[no-untyped-def]
    reply = get(wadofarm_folder.url + "/wado", params=wado(contentType=content_type))
    assert reply.status == 200, reply.text
    assert reply.content_type == expected
    magic = {"image/jpeg": b"\xff\xd8", "image/png": b"\x89PNG", "application/dicom": b""}
    assert reply.body.startswith(magic[expected])


def test_etag_and_304(wadofarm_folder) -> None:  # type: ignore[no-untyped-def]
    url = wadofarm_folder.url + "/wado"
    first = get(url, params=wado(rows=50))
    etag = first.headers["etag"]
    assert etag.startswith('"') and "max-age" in first.headers["cache-control"]
    # Made by the worker from the bytes alone: the same whichever worker or router answers.
    assert etag == etag_for(first.body) and first.headers["x-wadofarm-cache"] == "render"
    hit = get(url, params=wado(rows=50))
    assert (hit.headers["x-wadofarm-cache"], hit.headers["etag"], hit.body) == (
        "L1",
        etag,
        first.body,
    )
    again = get(url, params=wado(rows=50), headers={"If-None-Match": etag})
    assert again.status == 304 and again.body == b"" and again.headers["etag"] == etag
    other = get(url, params=wado(rows=50), headers={"If-None-Match": '"nope"'})
    assert other.status == 200 and other.body == first.body
