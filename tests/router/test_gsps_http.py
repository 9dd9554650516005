"""WADO-URI presentationUID over real HTTP, from a real Orthanc and from a folder: the state is
found in the store, the worker renders the image through it, errors say which UID is wrong, and
the render cache keeps one entry per state."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import pytest

from renderer.formats import OutputFormat
from renderer.params import PresentationRef, RenderParams, ShowsImage
from renderer.pipeline import render
from tests.conftest import LoadedOrthanc
from tests.support import gsps, synthetic
from tests.support.http import get
from tests.support.images import decode
from tests.support.server import Wadofarm


@dataclass(frozen=True)
class Files:
    image: Path
    other: Path  # an image no state references
    rotated: Path  # a state: window, quarter turn, a rectangular shutter
    inverse: Path  # a state: another window, INVERSE
    elsewhere: Path  # a state for `other` only

    def uid(self, name: str) -> str:
        path: Path = getattr(self, name)
        return str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)

    def series(self, name: str) -> str:
        path: Path = getattr(self, name)
        return str(pydicom.dcmread(path, stop_before_pixels=True).SeriesInstanceUID)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    folder = tmp_path_factory.mktemp("gsps-http")
    image = synthetic.write(
        folder / "image.dcm",
        synthetic.one(synthetic.ramp(0, 4095)),
        bits_allocated=16,
        bits_stored=12,
        WindowCenter=2048,
        WindowWidth=4096,
    )
    other = synthetic.write(
        folder / "other.dcm", synthetic.one(synthetic.ramp(0, 255)), bits_allocated=8, bits_stored=8
    )
    image_ds = pydicom.dcmread(image, stop_before_pixels=True)
    rotated = gsps.write_state(
        folder / "rotated.pr.dcm",
        image,
        voi=[gsps.voi_item(image_ds, 1500, 2000)],
        rotation=90,
        flip=False,
        ShutterShape="RECTANGULAR",
        ShutterLeftVerticalEdge=5,
        ShutterRightVerticalEdge=60,
        ShutterUpperHorizontalEdge=5,
        ShutterLowerHorizontalEdge=44,
        ShutterPresentationValue=0xFFFF,
    )
    inverse = gsps.write_state(
        folder / "inverse.pr.dcm",
        image,
        voi=[gsps.voi_item(image_ds, 3000, 1000)],
        shape="INVERSE",
    )
    elsewhere = gsps.write_state(folder / "elsewhere.pr.dcm", other)
    return Files(image, other, rotated, inverse, elsewhere)


@pytest.fixture(scope="module")
def folder_server(files: Files, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Wadofarm]:
    log = tmp_path_factory.mktemp("wadofarm-gsps") / "wadofarm.log"
    server = Wadofarm(["--dicom-dir", str(files.image.parent), "--workers", "1"], log).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def loaded(files: Files, orthanc: LoadedOrthanc) -> LoadedOrthanc:
    for path in (files.image, files.other, files.rotated, files.inverse, files.elsewhere):
        assert orthanc.server.upload(path)["HttpStatus"] == 200
    return orthanc


@pytest.fixture(params=["folder", "orthanc"])
def server(request: pytest.FixtureRequest) -> Wadofarm:
    if request.param == "orthanc":
        request.getfixturevalue("loaded")
        return request.getfixturevalue("wadofarm_orthanc")  # type: ignore[no-any-return]
    return request.getfixturevalue("folder_server")  # type: ignore[no-any-return]


def wado(server: Wadofarm, files: Files, image: str = "image", **params: str):  # type: ignore[no-untyped-def]
    query = {"requestType": "WADO", "objectUID": files.uid(image), "contentType": "image/png"}
    return get(server.url + "/wado", params={**query, **params})


def direct(files: Files, state: str, **fields: object) -> np.ndarray:
    """The renderer's own output through the state, without any server."""
    ref = PresentationRef(files.uid(state), files.uid("image"), str(getattr(files, state)))
    params = dataclasses.replace(RenderParams(output=OutputFormat.PNG), presentation=ref, **fields)
    return decode(render(str(files.image), params).data)


def test_renders_through_the_state(server: Wadofarm, files: Files) -> None:
    reply = wado(server, files, presentationUID=files.uid("rotated"))
    assert reply.status == 200, reply.text
    shown = decode(reply.body)
    assert shown.shape == (64, 48)  # a quarter turn of 48x64
    assert np.array_equal(shown, direct(files, "rotated"))
    plain = decode(wado(server, files).body)
    assert plain.shape == (48, 64)


def test_series_uid_and_output_box(server: Wadofarm, files: Files) -> None:
    reply = wado(
        server,
        files,
        presentationUID=files.uid("inverse"),
        presentationSeriesUID=files.series("inverse"),
        rows="96",
    )
    assert reply.status == 200, reply.text
    assert np.array_equal(decode(reply.body), direct(files, "inverse", rows=96))


def test_unknown_state_is_404(server: Wadofarm, files: Files) -> None:
    reply = wado(server, files, presentationUID="1.2.3.4.5.6.7.8.9")
    assert reply.status == 404
    assert "presentation state 1.2.3.4.5.6.7.8.9 not found" in reply.text


def test_state_in_another_series_is_404(server: Wadofarm, files: Files) -> None:
    reply = wado(
        server, files, presentationUID=files.uid("rotated"), presentationSeriesUID="1.2.3.4"
    )
    assert reply.status == 404


def test_not_a_presentation_state_is_400(server: Wadofarm, files: Files) -> None:
    reply = wado(server, files, presentationUID=files.uid("other"))
    assert reply.status == 400
    assert "not a presentation state" in reply.text and files.uid("other") in reply.text


def test_state_of_another_image_is_400_naming_both(server: Wadofarm, files: Files) -> None:
    reply = wado(server, files, presentationUID=files.uid("elsewhere"))
    assert reply.status == 400
    assert files.uid("elsewhere") in reply.text and files.uid("image") in reply.text


def test_presentation_series_alone_is_400(server: Wadofarm, files: Files) -> None:
    reply = wado(server, files, presentationSeriesUID=files.series("rotated"))
    assert reply.status == 400


def test_each_state_is_cached_apart(server: Wadofarm, files: Files) -> None:
    """Same state: the cache answers; another state: a render of its own, other pixels."""
    box = {"rows": "40"}
    first = wado(server, files, presentationUID=files.uid("rotated"), **box)
    again = wado(server, files, presentationUID=files.uid("rotated"), **box)
    other = wado(server, files, presentationUID=files.uid("inverse"), **box)
    plain = wado(server, files, **box)
    assert again.headers["x-wadofarm-cache"] == "L1" and again.body == first.body
    assert other.headers["x-wadofarm-cache"] == "render"
    assert len({first.body, other.body, plain.body}) == 3
    assert wado(server, files, presentationUID=files.uid("inverse"), **box).body == other.body


def test_a_state_asked_for_as_an_image_answers_which_image_it_shows(files: Files) -> None:
    """The worker's answer, not an error: the router then renders that image through it."""
    assert render(str(files.rotated), RenderParams()) == ShowsImage(files.uid("image"))


def test_the_state_itself_renders_its_image(server: Wadofarm, files: Files) -> None:
    """DICOMweb's rendered resource of a presentation state instance (and WADO-URI's render of
    one) is the image it references, through it; the second time, straight from the cache."""
    state = pydicom.dcmread(files.rotated, stop_before_pixels=True)
    url = (
        f"{server.url}/dicom-web/studies/{state.StudyInstanceUID}/series/"
        f"{state.SeriesInstanceUID}/instances/{state.SOPInstanceUID}/rendered"
    )
    first = get(url, params={"accept": "image/png"})
    assert first.status == 200, first.text
    assert np.array_equal(decode(first.body), direct(files, "rotated"))
    again = get(url, params={"accept": "image/png"})
    assert again.headers["x-wadofarm-cache"] == "L1" and again.body == first.body
    uri = wado(server, files, "rotated")
    assert uri.status == 200 and np.array_equal(decode(uri.body), direct(files, "rotated"))
