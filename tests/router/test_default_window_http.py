"""--default-window over real HTTP: by default each route windows an image that stores no window
as its Orthanc counterpart does (/wado: width 2^BitsStored, DICOMweb: the frame's range);
`orthanc` and `minmax` make every route do the same."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread

from tests.support import corpus
from tests.support.http import get
from tests.support.images import decode
from tests.support.server import Wadofarm

CT = corpus.pydicom_dir() / "CT_small.dcm"  # 16-bit CT, no Window Center/Width


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("default-window")
    shutil.copy(CT, target / "ct.dcm")
    return target


@pytest.fixture(scope="module", params=["route", "orthanc", "minmax"])
def mode_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, folder: Path
) -> Iterator[tuple[str, Wadofarm]]:
    mode: str = request.param
    log = tmp_path_factory.mktemp(f"default-window-{mode}") / "wadofarm.log"
    args = ["--dicom-dir", str(folder), "--workers", "1", "--default-window", mode]
    server = Wadofarm(args, log).start()
    yield mode, server
    server.stop()


def images(server: Wadofarm) -> dict[str, np.ndarray]:
    ds = dcmread(CT, stop_before_pixels=True)
    assert "WindowCenter" not in ds
    path = (
        f"/dicom-web/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
        f"/instances/{ds.SOPInstanceUID}"
    )
    size = {"rows": 128, "columns": 128}
    replies = {
        "wado": get(
            server.url + "/wado",
            params={"requestType": "WADO", "objectUID": ds.SOPInstanceUID, **size},
        ),
        "rendered": get(server.url + path + "/rendered", params={"viewport": "128,128"}),
        "thumbnail": get(server.url + path + "/thumbnail", params={"viewport": "128,128"}),
    }
    for name, reply in replies.items():
        assert reply.status == 200, (name, reply.text)
    return {name: decode(reply.body).astype(int) for name, reply in replies.items()}


def stretched(image: np.ndarray) -> bool:
    """The frame's range over (nearly) all 256 levels, as a min/max window gives."""
    return image.min() <= 2 and image.max() >= 253


def test_each_route_windows_as_its_orthanc_counterpart_unless_one_mode_is_forced(
    mode_server: tuple[str, Wadofarm],
) -> None:
    mode, server = mode_server
    got = images(server)
    assert np.array_equal(got["rendered"], got["thumbnail"])
    wado_stretched, rendered_stretched = stretched(got["wado"]), stretched(got["rendered"])
    # Orthanc's /wado fallback (width 65536 over this CT's -1000..1500 HU) is nearly black.
    assert (wado_stretched, rendered_stretched) == {
        "route": (False, True),
        "orthanc": (False, False),
        "minmax": (True, True),
    }[mode]
    if mode != "route":
        assert np.abs(got["wado"] - got["rendered"]).max() <= 1  # one window, one picture
