"""DICOMweb rendered and thumbnail resources by real HTTP, through both stores."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from renderer.output.layout import fit
from tests.support import corpus
from tests.support.http import Reply, get
from tests.support.images import decode
from tests.support.series import Series

CT = "CT_small.dcm"  # 128x128, no stored window
WINDOWED = "MR_small_implicit.dcm"  # 64x64, Window Center/Width stored
CINE = "GREYSCALE_CINE.dcm"  # 27 frames, 800x600
MR = "MR2_UNCR.dcm"  # 1024x1024
MAGIC = {"image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG", "image/gif": b"GIF8"}


def instance_path(name: str) -> str:
    s = corpus.sample(name)
    return f"/dicom-web/studies/{s.study_uid}/series/{s.series_uid}/instances/{s.object_uid}"


def wado(server, name: str, **params: object) -> Reply:  # type: ignore[no-untyped-def]
    s = corpus.sample(name)
    return get(
        server.url + "/wado", params={"requestType": "WADO", "objectUID": s.object_uid, **params}
    )


def gif_frame_count(body: bytes) -> int:
    with Image.open(io.BytesIO(body)) as gif:
        return int(getattr(gif, "n_frames", 1))


def test_rendered_shares_the_wado_render_and_cache(store_server) -> None:  # type: ignore[no-untyped-def]
    """An image with a stored window: the same picture whichever route asks."""
    _, server = store_server
    first = wado(server, WINDOWED, rows=97, imageQuality=61)
    assert first.status == 200 and first.headers["x-wadofarm-cache"] == "render"
    again = get(
        server.url + instance_path(WINDOWED) + "/rendered",
        params={"viewport": "97,97", "quality": 61},
    )
    assert again.status == 200, again.text
    assert again.headers["x-wadofarm-cache"] == "L1"
    assert again.body == first.body and again.headers["etag"] == first.headers["etag"]
    assert again.headers["vary"] == "Accept"


def test_without_a_stored_window_each_route_has_its_own_default(store_server) -> None:  # type: ignore[no-untyped-def]
    """CT_small stores no window: /wado takes Orthanc's /wado fallback, DICOMweb the frame's
    range (as Orthanc's /rendered), so neither answers from the other's cache entry; with a
    window in the request they share it again."""
    _, server = store_server
    first = wado(server, CT, rows=95)
    again = get(server.url + instance_path(CT) + "/rendered", params={"viewport": "95,95"})
    assert first.status == again.status == 200, again.text
    assert again.headers["x-wadofarm-cache"] == "render"
    assert decode(again.body).max() > 4 * decode(first.body).max()
    first = wado(server, CT, rows=95, windowCenter=40, windowWidth=400)
    again = get(
        server.url + instance_path(CT) + "/rendered",
        params={"viewport": "95,95", "window": "40,400,linear"},
    )
    assert again.headers["x-wadofarm-cache"] == "L1" and again.body == first.body


@pytest.mark.parametrize("name", [CT, MR, "US1_UNCR.dcm", CINE])
def test_thumbnail_fits_the_default_box(store_server, catalogue, name) -> None:  # type: ignore[no-untyped-def]
    _, server = store_server
    reply = get(server.url + instance_path(name) + "/thumbnail")
    assert reply.status == 200, reply.text
    assert reply.content_type == "image/jpeg"
    m = corpus.sample(name).manifest
    assert m is not None
    width, height = fit(int(m["Columns"]), int(m["Rows"]), 128, 128)
    assert decode(reply.body).shape[:2] == (height, width)


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "image/jpeg"),
        ("*/*", "image/jpeg"),
        ("image/*", "image/jpeg"),
        ("image/png", "image/png"),
        ("image/gif", "image/gif"),
        ("image/jpeg;q=0.2, image/png;q=0.8", "image/png"),
        ("text/html, image/gif;q=0.5", "image/gif"),
    ],
)
def test_accept_header(store_server, accept, expected) -> None:  # type: ignore[no-untyped-def]
    _, server = store_server
    headers = {"Accept": accept} if accept else {}
    reply = get(server.url + instance_path(CT) + "/rendered", headers=headers)
    assert reply.status == 200, reply.text
    assert reply.content_type == expected
    assert reply.body.startswith(MAGIC[expected])


def test_accept_parameter_wins_over_the_header(wadofarm_folder) -> None:  # type: ignore[no-untyped-def]
    reply = get(
        wadofarm_folder.url + instance_path(CT) + "/rendered",
        params={"accept": "image/png"},
        headers={"Accept": "image/gif"},
    )
    assert reply.content_type == "image/png"


@pytest.mark.parametrize("accept", ["application/dicom", "image/webp", "text/html"])
def test_nothing_acceptable_is_406(store_server, accept) -> None:  # type: ignore[no-untyped-def]
    _, server = store_server
    reply = get(server.url + instance_path(CT) + "/rendered", headers={"Accept": accept})
    assert reply.status == 406, reply.text
    # Refused by the router (none offered), or by the renderer: text/html is a report's only.
    assert "image/jpeg" in reply.text or "offered as a picture (JPEG" in reply.text


def test_multi_frame_gif_is_animated(store_server) -> None:  # type: ignore[no-untyped-def]
    _, server = store_server
    gif = {"Accept": "image/gif"}
    base = server.url + instance_path(CINE)
    animated = get(base + "/rendered", params={"viewport": "80,80"}, headers=gif)
    assert animated.status == 200, animated.text
    assert gif_frame_count(animated.body) == 27
    one = get(base + "/frames/5/rendered", params={"viewport": "80,80"}, headers=gif)
    assert gif_frame_count(one.body) == 1
    thumb = get(base + "/thumbnail", headers=gif)
    assert gif_frame_count(thumb.body) == 1


def test_wado_uri_gif_is_animated_without_frame_number(store_server) -> None:  # type: ignore[no-untyped-def]
    _, server = store_server
    animated = wado(server, CINE, contentType="image/gif", rows=60)
    assert animated.status == 200 and animated.content_type == "image/gif"
    assert gif_frame_count(animated.body) == 27
    single = wado(server, CINE, contentType="image/gif", rows=60, frameNumber=3)
    assert gif_frame_count(single.body) == 1
    png = wado(server, CINE, contentType="image/png", rows=60, frameNumber=3)
    with Image.open(io.BytesIO(single.body)) as frame:
        assert np.array_equal(np.asarray(frame.convert("L")), decode(png.body))


def test_frame_target_is_that_frame(wadofarm_folder) -> None:  # type: ignore[no-untyped-def]
    reply = get(
        wadofarm_folder.url + instance_path(CINE) + "/frames/14/rendered",
        params={"accept": "image/png"},
    )
    assert reply.status == 200, reply.text
    expected = wado(wadofarm_folder, CINE, contentType="image/png", frameNumber=14)
    assert np.array_equal(decode(reply.body), decode(expected.body))
    past = get(wadofarm_folder.url + instance_path(CINE) + "/frames/28/rendered")
    assert past.status == 400 and "27" in past.text


def test_viewport_source_and_flip(wadofarm_folder) -> None:  # type: ignore[no-untyped-def]
    url = wadofarm_folder.url + instance_path(MR) + "/rendered"
    full = decode(get(url, params={"accept": "image/png"}).body)
    part = decode(
        get(url, params={"accept": "image/png", "viewport": "300,200,256,512,300,200"}).body
    )
    assert np.array_equal(part, full[512:712, 256:556])
    flipped = decode(
        get(url, params={"accept": "image/png", "viewport": "300,200,256,512,-300,200"}).body
    )
    assert np.array_equal(flipped, part[:, ::-1])
    scaled = decode(
        get(url, params={"accept": "image/png", "viewport": "150,150,256,512,300,200"}).body
    )
    assert scaled.shape == (100, 150)


def test_window_parameter_matches_wado_window(wadofarm_folder) -> None:  # type: ignore[no-untyped-def]
    reply = get(
        wadofarm_folder.url + instance_path(MR) + "/rendered",
        params={"accept": "image/png", "window": "300,50,linear", "viewport": "256,256"},
    )
    assert reply.status == 200, reply.text
    expected = wado(
        wadofarm_folder, MR, contentType="image/png", rows=256, windowCenter=300, windowWidth=50
    )
    assert reply.body == expected.body


def test_quality_trades_bytes(wadofarm_folder) -> None:  # type: ignore[no-untyped-def]
    url = wadofarm_folder.url + instance_path(MR) + "/rendered"
    low, high = (len(get(url, params={"quality": q}).body) for q in (20, 95))
    assert low < high * 0.6


def test_not_modified(store_server) -> None:  # type: ignore[no-untyped-def]
    _, server = store_server
    url = server.url + instance_path(CT) + "/thumbnail"
    etag = get(url).headers["etag"]
    reply = get(url, headers={"If-None-Match": etag})
    assert reply.status == 304 and reply.body == b""


@pytest.mark.parametrize(
    ("suffix", "params", "status"),
    [
        ("/rendered", {"viewport": "10"}, 400),
        ("/rendered", {"viewport": "10,10,5000,0,,"}, 400),
        ("/rendered", {"window": "1,2"}, 400),
        ("/rendered", {"quality": "0"}, 400),
        ("/frames/0/rendered", {}, 400),
        ("/frames/1,2/rendered", {}, 400),
    ],
)
def test_bad_parameters_are_400(store_server, suffix, params, status) -> None:  # type: ignore[no-untyped-def]
    _, server = store_server
    reply = get(server.url + instance_path(CT) + suffix, params=params)
    assert reply.status == status, reply.text
    assert reply.content_type == "text/plain" and reply.text.strip()


def test_unknown_or_mismatched_targets_are_404(store_server) -> None:  # type: ignore[no-untyped-def]
    _, server = store_server
    ct, mr = corpus.sample(CT), corpus.sample(MR)
    for path in (
        f"/dicom-web/studies/{ct.study_uid}/series/{ct.series_uid}/instances/1.2.3.4/rendered",
        f"/dicom-web/studies/{ct.study_uid}/series/{mr.series_uid}/instances/{ct.object_uid}/rendered",
        "/dicom-web/studies/1.2.3.4/thumbnail",
        f"/dicom-web/studies/{ct.study_uid}/series/1.2.3.4/rendered",
    ):
        reply = get(server.url + path)
        assert reply.status == 404, (path, reply.text)
    bad = get(server.url + "/dicom-web/studies/1.2.x/rendered")
    assert bad.status == 400


def _series_targets(series: Series) -> tuple[str, str, str]:
    study = f"/dicom-web/studies/{series.study_uid}"
    return (
        study,
        f"{study}/series/{series.series_uid}",
        f"{study}/series/{series.series_uid}/instances/{series.middle.object_uid}",
    )


@pytest.mark.parametrize("resource", ["rendered", "thumbnail"])
@pytest.mark.parametrize("kind", ["folder", "orthanc"])
def test_study_and_series_show_the_middle_instance(request, kind, resource) -> None:  # type: ignore[no-untyped-def]
    if kind == "folder":
        server, series = (
            request.getfixturevalue("wadofarm_series"),
            request.getfixturevalue("series_on_disk"),
        )
    else:
        server, series = (
            request.getfixturevalue("wadofarm_orthanc"),
            request.getfixturevalue("orthanc_series"),
        )
    assert series.middle.name == CT and series.middle.number == 3
    study, whole, middle = (get(server.url + t + "/" + resource) for t in _series_targets(series))
    assert middle.status == 200, middle.text
    assert study.body == whole.body == middle.body
    for member in series.members:  # and no other instance looks like it
        if member is not series.middle:
            path = f"{_series_targets(series)[1]}/instances/{member.object_uid}/{resource}"
            assert get(server.url + path).body != middle.body


@pytest.mark.parametrize(
    ("function", "voi"),
    [("linear-exact", "LINEAR_EXACT"), ("sigmoid", "SIGMOID"), ("linear", "LINEAR")],
)
def test_window_functions_render_as_the_renderer_does(
    wadofarm_folder, catalogue, function, voi
) -> None:  # type: ignore[no-untyped-def]
    from renderer.formats import OutputFormat
    from renderer.params import RenderParams, VoiFunction, Window
    from renderer.pipeline import render

    reply = get(
        wadofarm_folder.url + instance_path(MR) + "/rendered",
        params={"accept": "image/png", "window": f"300,200,{function}", "viewport": "128,128"},
    )
    assert reply.status == 200, reply.text
    expected = render(
        str(catalogue[MR]),
        RenderParams(
            output=OutputFormat.PNG,
            rows=128,
            columns=128,
            window=Window(300, 200, VoiFunction[voi]),
        ),
    )
    assert reply.body == expected.data
