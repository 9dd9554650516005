"""What a folder of real-world files shows, over HTTP: a series' thumbnail is one of its images
even when a header-only instance sits in its middle, and of several files with one SOP Instance
UID the one that renders is served (a header-only copy is passed over at the scan, one whose
codestream cannot be decoded at its first render)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.encaps import encapsulate
from pydicom.uid import JPEGBaseline8Bit, generate_uid

from tests.support import synthetic
from tests.support.http import get
from tests.support.images import decode
from tests.support.server import Wadofarm


@dataclass(frozen=True)
class Folder:
    path: Path
    study: str
    series: str
    images: tuple[str, ...]  # SOP Instance UIDs of the series' images, by Instance Number
    header_only: str  # the series' instance without pixels, numbered in the middle
    twice: str  # a UID held by a broken copy (found first) and a good one
    twice_good: Path
    no_pixels_first: str  # a UID held by a header-only copy (found first) and an image


def _image(path: Path, seed: int, **attributes: object) -> Path:
    cells = synthetic.ramp(0, 4095, seed=seed)[None]
    window = {"WindowCenter": 2048, "WindowWidth": 4096}
    return synthetic.write(path, cells, bits_allocated=16, bits_stored=12, **window, **attributes)


def _strip_pixels(path: Path) -> None:
    ds = dcmread(path)
    del ds.PixelData
    ds.save_as(path)


def _break_codestream(path: Path) -> None:
    """The same header over a JPEG baseline 'codestream' no decoder reads."""
    ds = dcmread(path)
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    ds.PixelData = encapsulate([b"\xff\xd8\xff\xdb" + bytes(200)])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds.save_as(path, enforce_file_format=True)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Folder:
    root = tmp_path_factory.mktemp("copies")
    study, series = generate_uid(), generate_uid()
    same = {"StudyInstanceUID": study, "SeriesInstanceUID": series}
    uids = [generate_uid() for _ in range(3)]
    for number, uid in enumerate(uids, start=1):
        path = _image(root / f"series-{number}.dcm", number, InstanceNumber=number, **same)
        ds = dcmread(path)
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = uid
        ds.save_as(path)
    _strip_pixels(root / "series-2.dcm")  # Instance Number 2 of 3: the middle one
    twice = generate_uid()
    ids = {"SOPInstanceUID": twice, **same, "InstanceNumber": 10}
    _break_codestream(_image(root / "a-broken-copy.dcm", 7, **ids))  # found first
    good = _image(root / "b-good-copy.dcm", 7, **ids)
    no_pixels_first = generate_uid()
    ids = {"SOPInstanceUID": no_pixels_first}
    _strip_pixels(_image(root / "a-header-only-copy.dcm", 8, **ids))  # found first
    _image(root / "b-image-copy.dcm", 8, **ids)
    for path in root.glob("*.dcm"):  # file meta matching the data set, as a writer leaves it
        ds = dcmread(path)
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.save_as(path)
    return Folder(
        root, study, series, (uids[0], uids[2], twice), uids[1], twice, good, no_pixels_first
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, folder: Folder) -> Iterator[Wadofarm]:
    log = tmp_path_factory.mktemp("copies-wadofarm") / "wadofarm.log"
    wadofarm = Wadofarm(["--dicom-dir", str(folder.path), "--workers", "1"], log).start()
    yield wadofarm
    wadofarm.stop()


def wado(server: Wadofarm, uid: str, **params: object) -> bytes:
    reply = get(server.url + "/wado", params={"requestType": "WADO", "objectUID": uid, **params})
    assert reply.status == 200, reply.text
    return reply.body


def test_a_series_shows_one_of_its_images(server: Wadofarm, folder: Folder) -> None:
    """Instances 1, 2 (no pixels) and 3, and 10 (two copies): the middle of the images is
    instance 3, where the middle of all would be the header-only one."""
    base = f"/dicom-web/studies/{folder.study}/series/{folder.series}"
    shown = get(server.url + base + "/thumbnail")
    assert shown.status == 200, shown.text
    expected = get(server.url + base + f"/instances/{folder.images[1]}/thumbnail")
    assert shown.body == expected.body
    header_only = get(server.url + base + f"/instances/{folder.header_only}/thumbnail")
    assert header_only.status == 200 and header_only.body != shown.body  # its placeholder
    listing = get(server.url + f"/gallery/api/studies/{folder.study}/series/{folder.series}")
    pixels = {i["object_uid"]: i["pixels"] for i in json.loads(listing.body)["instances"]}
    assert pixels == {**dict.fromkeys(folder.images, True), folder.header_only: False}


def test_of_two_copies_the_one_that_renders_is_served(server: Wadofarm, folder: Folder) -> None:
    image = decode(wado(server, folder.twice, contentType="image/png"))  # the good copy
    reference = dcmread(folder.twice_good).pixel_array
    expected = np.clip(reference.astype(float) / 4095 * 255, 0, 255)
    assert np.abs(image.astype(float) - expected).max() <= 1
    # From then on the good copy is the instance, as a file too.
    assert wado(server, folder.twice, contentType="application/dicom") == (
        folder.twice_good.read_bytes()
    )


def test_an_image_is_preferred_to_a_header_only_copy(server: Wadofarm, folder: Folder) -> None:
    data = wado(server, folder.no_pixels_first, contentType="application/dicom")
    assert (folder.path / "b-image-copy.dcm").read_bytes() == data
