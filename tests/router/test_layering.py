"""The router never touches pixels: its request path loads no pixel library. (The folder store
and the embedded-default set-up read DICOM headers with pydicom, which loads numpy; the Orthanc
path, the production case, must not.)"""

from __future__ import annotations

import subprocess
import sys

from bench.procs import REPO

REQUEST_PATH = (
    "router.service",
    "router.views",
    "router.dicomweb",
    "router.wado_uri",
    "router.rendered_query",
    "router.cache",
    "router.proxy",
    "router.stores.orthanc",
)
PIXEL_LIBRARIES = ("numpy", "PIL", "pydicom", "simplejpeg", "pylibjpeg", "openjpeg")


def test_the_request_path_loads_no_pixel_library() -> None:
    code = (
        "import importlib, sys\n"
        f"for name in {REQUEST_PATH!r}: importlib.import_module(name)\n"
        f"print(' '.join(m for m in {PIXEL_LIBRARIES!r} if m in sys.modules))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    assert loaded == []
