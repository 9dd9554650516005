"""Servers for the reliability tests: a folder and an Orthanc holding broken files, each with a
wadofarm of one render worker in front (one worker, so a test knows which process renders)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import badfiles
from tests.support.http import get
from tests.support.orthanc import Orthanc
from tests.support.server import Wadofarm


@pytest.fixture(scope="package")
def bad_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every broken file, plus a clean CT and a padded one. Zero-length and non-DICOM files
    cannot be indexed, so valid placeholders stand in for them until `spoil_folder`."""
    folder = tmp_path_factory.mktemp("bad-folder")
    for bad in badfiles.catalogue():
        (folder / f"{bad.name}.dcm").write_bytes(
            bad.data if bad.is_dicom else badfiles.placeholder(bad)
        )
    (folder / "good.dcm").write_bytes(badfiles.good())
    (folder / "padded.dcm").write_bytes(badfiles.padded())
    return folder


def spoil_folder(folder: Path) -> None:
    """What a disk or a careless copy does to indexed files: empties one, overwrites another."""
    for bad in badfiles.catalogue():
        if not bad.is_dicom:
            (folder / f"{bad.name}.dcm").write_bytes(bad.data)


@pytest.fixture(scope="package")
def folder_server(tmp_path_factory: pytest.TempPathFactory, bad_folder: Path) -> Iterator[Wadofarm]:
    log = tmp_path_factory.mktemp("folder-server") / "wadofarm.log"
    server = Wadofarm(["--dicom-dir", str(bad_folder), "--workers", "1"], log).start()
    spoil_folder(bad_folder)
    yield server
    server.stop()


@pytest.fixture(scope="package")
def bad_orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orthanc]:
    """A real Orthanc holding the broken files. The zero-length and non-DICOM ones are planted
    by overwriting its storage files (storage cache off, so it reads them back from disk)."""
    workdir = tmp_path_factory.mktemp("bad-orthanc")
    server = Orthanc(workdir, extra={"MaximumStorageCacheSize": 0}).start()
    try:
        for data in (badfiles.good(), badfiles.padded()):
            server.upload_bytes(data)
        for bad in badfiles.catalogue():
            answer = server.upload_bytes(bad.data if bad.is_dicom else badfiles.placeholder(bad))
            if not bad.is_dicom:
                info = json.loads(
                    get(f"{server.url}/instances/{answer['ID']}/attachments/dicom/info").body
                )
                uuid = info["Uuid"]
                stored = workdir / "db" / uuid[:2] / uuid[2:4] / uuid
                size = stored.stat().st_size
                stored.write_bytes((bad.data * (size // max(len(bad.data), 1) + 1))[:size])
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="package")
def orthanc_server(
    tmp_path_factory: pytest.TempPathFactory, bad_orthanc: Orthanc
) -> Iterator[Wadofarm]:
    log = tmp_path_factory.mktemp("orthanc-server") / "wadofarm.log"
    server = Wadofarm(["--orthanc", bad_orthanc.url, "--workers", "1"], log).start()
    yield server
    server.stop()


@pytest.fixture(params=["folder", "orthanc"])
def bad_server(request: pytest.FixtureRequest) -> Wadofarm:
    """The broken files through both stores."""
    server: Wadofarm = request.getfixturevalue(f"{request.param}_server")
    return server
