"""A folder wadofarm with the slow images and a small one, for the fault and load tests."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.support import corpus
from tests.support.server import Wadofarm

SLOW = "RG1_J2KR.dcm"  # 1841x1955 JPEG 2000: ~0.5-1 s to decode at full size
SMALL = "CT_small.dcm"


def wado(name: str, **params: object) -> dict[str, object]:
    return {"requestType": "WADO", "objectUID": corpus.sample(name).object_uid, **params}


def folder_of(catalogue: dict[str, Path], names: tuple[str, ...], target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        try:
            os.link(catalogue[name], target / name)
        except OSError:
            shutil.copy(catalogue[name], target / name)
    return target


def folder_server(
    catalogue: dict[str, Path], workdir: Path, *flags: str, names: tuple[str, ...] = (SLOW, SMALL)
) -> Wadofarm:
    """No frame cache unless asked: a render of a slow image must really be slow."""
    folder = folder_of(catalogue, names, workdir / "dicom")
    cache = [] if "--frame-cache-mb" in flags else ["--frame-cache-mb", "0"]
    return Wadofarm(["--dicom-dir", str(folder), *cache, *flags], workdir / "wadofarm.log")
