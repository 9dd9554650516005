"""The router never touches pixels: its request path loads no pixel library. (The folder store
and the embedded-default set-up read DICOM headers with pydicom, which loads numpy; the Orthanc
path, the production case, must not.)"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

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


STORES = sorted(
    f"router.stores.{path.stem}" if path.stem != "__init__" else "router.stores"
    for path in (REPO / "router" / "stores").glob("*.py")
)


def _imported(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_no_store_reads_the_client_from_the_auth_layer() -> None:
    """A store gets the client's credentials as an argument (router.stores.Client), never from
    router.auth, directly or through what it imports (issue 23)."""
    for path in (REPO / "router" / "stores").glob("*.py"):
        assert "router.auth" not in _imported(path), path.name
    code = (
        "import importlib, sys\n"
        f"for name in {STORES!r}: importlib.import_module(name)\n"
        "print('router.auth' in sys.modules)\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    assert loaded == ["False"], STORES
