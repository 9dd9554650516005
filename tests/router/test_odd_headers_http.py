"""Where Orthanc renders, wadofarm renders: files whose Image Pixel module or file format breaks a
rule (tests/support/odd_headers.py), through wadofarm over a real Orthanc and over a folder,
against Orthanc's own rendering of the same file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.support import odd_headers, synthetic
from tests.support.http import Reply, get
from tests.support.images import decode, psnr
from tests.support.orthanc import Orthanc
from tests.support.server import Wadofarm

MIN_PSNR = 30.0


@pytest.fixture(scope="module")
def odd_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, odd_headers.OddFile]:
    return odd_headers.build(tmp_path_factory.mktemp("odd-headers"))


@pytest.fixture(scope="module")
def odd_orthanc(
    tmp_path_factory: pytest.TempPathFactory, odd_files: dict[str, odd_headers.OddFile]
) -> Iterator[Orthanc]:
    server = Orthanc(tmp_path_factory.mktemp("odd-orthanc")).start()
    try:
        for odd in odd_files.values():
            answer = server.upload(odd.path)
            assert answer["HttpStatus"] == 200, (odd.name, answer)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module", params=["orthanc", "folder"])
def odd_wadofarm(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    odd_files: dict[str, odd_headers.OddFile],
    odd_orthanc: Orthanc,
) -> Iterator[Wadofarm]:
    if request.param == "orthanc":
        store = ["--orthanc", odd_orthanc.url]
    else:
        store = ["--dicom-dir", str(next(iter(odd_files.values())).path.parent)]
    log: Path = tmp_path_factory.mktemp("odd-wadofarm") / "wadofarm.log"
    server = Wadofarm([*store, "--workers", "1"], log).start()
    yield server
    server.stop()


def orthanc_render(orthanc: Orthanc, odd: odd_headers.OddFile, frame: int) -> Reply:
    """Orthanc's /wado of the first frame; where that fails (Orthanc's /wado is stricter than its
    DICOMweb plugin) or another frame is asked, the DICOMweb plugin's /rendered of the frame.
    The file's own window makes both the same picture."""
    ds = odd.dataset
    if frame == 1:
        reply = get(orthanc.url + "/wado", params=wado(ds.SOPInstanceUID))
        if reply.status == 200:
            return reply
    path = (
        f"/dicom-web/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
        f"/instances/{ds.SOPInstanceUID}/frames/{frame}/rendered"
    )
    return get(orthanc.url + path, headers={"Accept": "image/jpeg"})


def wado(uid: str, **params: object) -> dict[str, object]:
    return {"requestType": "WADO", "objectUID": uid, **params}


@pytest.mark.parametrize("name", odd_headers.CASES)
def test_what_orthanc_renders_wadofarm_renders(
    odd_files: dict[str, odd_headers.OddFile],
    odd_orthanc: Orthanc,
    odd_wadofarm: Wadofarm,
    name: str,
) -> None:
    odd = odd_files[name]
    uid = odd.dataset.SOPInstanceUID
    for frame in range(1, odd.frames + 1):
        theirs = orthanc_render(odd_orthanc, odd, frame)
        assert theirs.status == 200, f"Orthanc cannot render frame {frame}: {theirs.text[:200]}"
        ours = get(odd_wadofarm.url + "/wado", params=wado(uid, frameNumber=frame))
        assert ours.status == 200, ours.text
        a, b = decode(ours.body), decode(theirs.body)
        assert a.shape == b.shape
        quality = psnr(a, b)
        assert quality >= MIN_PSNR, f"frame {frame}: {quality:.1f} dB"


def test_frames_are_counted_from_the_data_when_the_count_is_empty(
    odd_files: dict[str, odd_headers.OddFile], odd_wadofarm: Wadofarm
) -> None:
    """An empty Number of Frames over two frames of data: both are served, each its own."""
    uid = odd_files["empty_number_of_frames"].dataset.SOPInstanceUID
    first, second, third = (
        get(odd_wadofarm.url + "/wado", params=wado(uid, frameNumber=n)) for n in (1, 2, 3)
    )
    assert first.status == second.status == 200, second.text
    assert psnr(decode(first.body), decode(second.body)) < 40  # different noise seeds
    assert third.status == 400 and "2 frame(s)" in third.text


@pytest.mark.parametrize("name", odd_headers.ODD_VRS)
def test_odd_vrs_read_as_the_standard_ones(
    odd_files: dict[str, odd_headers.OddFile], odd_wadofarm: Wadofarm, name: str
) -> None:
    """Rows as SS, or every Image Pixel element as UN: the ramp 0..4095 under its window
    2048/4096, as from the intact file (PNG: no JPEG error to allow for)."""
    odd = odd_files[name]
    reply = get(
        odd_wadofarm.url + "/wado", params=wado(odd.dataset.SOPInstanceUID, contentType="image/png")
    )
    assert reply.status == 200, reply.text
    expected = synthetic.ramp(0, 4095, seed=0) / 4095 * 255
    assert np.abs(decode(reply.body).astype(float) - expected).max() <= 1
