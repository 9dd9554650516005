"""What the rendering parameters of /wado do to the image, by real requests."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from tests.support import corpus
from tests.support.http import get
from tests.support.images import decode

MR = "MR2_UNCR.dcm"  # 1024x1024
CINE = "GREYSCALE_CINE.dcm"  # 27 frames, 800x600


def wado(name: str, **params: object) -> dict[str, object]:
    return {"requestType": "WADO", "objectUID": corpus.sample(name).object_uid, **params}


def fetch(server, name: str, **params: object) -> np.ndarray:  # type: ignore[no-untyped-def]
    reply = get(server.url + "/wado", params=wado(name, contentType="image/png", **params))
    assert reply.status == 200, reply.text
    return decode(reply.body)


@pytest.mark.parametrize(
    ("params", "shape"),
    [
        ({"rows": 100}, (100, 100)),
        ({"columns": 256}, (256, 256)),
        ({"rows": 300, "columns": 100}, (100, 100)),
        ({"rows": 2048, "columns": 4096}, (2048, 2048)),
        ({"region": "0,0,0.5,0.25"}, (256, 512)),
        ({"region": "0.5,0.5,1,1", "rows": 64}, (64, 64)),
    ],
)
def test_output_size(wadofarm_folder, params, shape) -> None:  # type: ignore[no-untyped-def]
    assert fetch(wadofarm_folder, MR, **params).shape == shape


def test_region_is_the_crop_of_the_full_render(wadofarm_folder) -> None:  # type: ignore[no-untyped-def]
    full = fetch(wadofarm_folder, MR)
    part = fetch(wadofarm_folder, MR, region="0.25,0.5,0.75,1")
    assert np.array_equal(part, full[512:1024, 256:768])


def test_thumbnail_is_the_area_mean_of_the_full_render(wadofarm_folder) -> None:  # type: ignore[no-untyped-def]
    full = fetch(wadofarm_folder, MR).astype(np.float64)
    thumb = fetch(wadofarm_folder, MR, rows=128).astype(np.float64)
    mean = full.reshape(128, 8, 128, 8).mean(axis=(1, 3))
    assert np.abs(thumb - mean).max() <= 1.0


def test_window_changes_the_levels(wadofarm_folder) -> None:  # type: ignore[no-untyped-def]
    header = pydicom.dcmread(corpus.sample(MR).path, stop_before_pixels=True)
    stored = fetch(wadofarm_folder, MR)
    same = fetch(
        wadofarm_folder,
        MR,
        windowCenter=str(header.WindowCenter),
        windowWidth=str(header.WindowWidth),
    )
    narrow = fetch(wadofarm_folder, MR, windowCenter="300", windowWidth="50")
    assert np.array_equal(stored, same)
    assert (narrow == 255).mean() > (stored == 255).mean()
    assert set(np.unique(narrow)) - set(range(256)) == set()


def test_frame_number_picks_the_frame(wadofarm_folder) -> None:  # type: ignore[no-untyped-def]
    frames = pydicom.dcmread(corpus.sample(CINE).path).pixel_array
    first = fetch(wadofarm_folder, CINE)
    for number in (1, 14, 27):
        image = fetch(wadofarm_folder, CINE, frameNumber=number)
        assert np.array_equal(image, frames[number - 1])  # 8-bit, window 256 wide: identity
    assert np.array_equal(first, frames[0])
    reply = get(wadofarm_folder.url + "/wado", params=wado(CINE, frameNumber=28))
    assert reply.status == 400 and "27" in reply.text


def test_image_quality_trades_bytes(wadofarm_folder) -> None:  # type: ignore[no-untyped-def]
    sizes = [
        len(get(wadofarm_folder.url + "/wado", params=wado(MR, imageQuality=q)).body)
        for q in (20, 90)
    ]
    assert sizes[0] < sizes[1] * 0.6


def test_grayscale_jpeg_has_one_channel(wadofarm_folder) -> None:  # type: ignore[no-untyped-def]
    reply = get(wadofarm_folder.url + "/wado", params=wado(MR, rows=64))
    assert decode(reply.body).ndim == 2


def test_equivalent_urls_share_one_cache_entry(wadofarm_folder) -> None:  # type: ignore[no-untyped-def]
    url = wadofarm_folder.url + "/wado"
    first = get(url, params=wado("0051.dcm", rows=90, imageQuality=77))
    assert first.headers["x-wadofarm-cache"] == "render"
    # 360x360 into 90 rows, or 90 columns, or the box 90x500, or the whole region: same pixels
    for params in (
        {"columns": 90},
        {"rows": 90, "columns": 500},
        {"rows": 90, "region": "0,0,1,1"},
        {"rows": "090"},
    ):
        again = get(url, params=wado("0051.dcm", imageQuality=77, **params))
        assert again.headers["x-wadofarm-cache"] == "L1", params
        assert again.body == first.body


def test_overlays_are_burned_in_unless_asked_off(wadofarm_folder) -> None:  # type: ignore[no-untyped-def]
    """examples_overlay.dcm has a graphic plane: the default render shows it (white), and
    overlays=false is the plain image, cached under a key of its own."""
    url = wadofarm_folder.url + "/wado"
    name = "examples_overlay.dcm"
    shown = get(url, params=wado(name, contentType="image/png", rows=150))
    plain = get(url, params=wado(name, contentType="image/png", rows=150, overlays="false"))
    assert shown.status == plain.status == 200
    assert plain.headers["x-wadofarm-cache"] == "render"
    assert shown.body != plain.body
    again = get(url, params=wado(name, contentType="image/png", rows=150, overlays="true"))
    assert again.headers["x-wadofarm-cache"] == "L1" and again.body == shown.body
    bits = pydicom.dcmread(corpus.sample(name).path).overlay_array(0x6000).astype(bool)
    full, bare = (fetch(wadofarm_folder, name, overlays=value)[bits] for value in ("true", "false"))
    assert (full == 255).all() and not (bare == 255).all()
