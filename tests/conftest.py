"""Session fixtures: the corpus copies, a real Orthanc loaded with them, and wadofarm servers
in front of Orthanc and of a folder."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import corpus
from tests.support.orthanc import Orthanc
from tests.support.redis_server import RedisServer
from tests.support.series import Series, write_series
from tests.support.server import Wadofarm


def pytest_sessionstart(session: pytest.Session) -> None:
    """The test corpus first: fetched on first use (tests/corpus), checked on every run."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    corpus.prepare(reporter.write_line if reporter is not None else print)


@pytest.fixture(scope="session")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every sample written with UIDs of its own: name -> file."""
    return corpus.materialise(tmp_path_factory.mktemp("catalogue"))


@dataclass
class LoadedOrthanc:
    server: Orthanc
    uploads: dict[str, dict[str, object]]  # name -> Orthanc's answer to POST /instances

    @property
    def url(self) -> str:
        return self.server.url

    def stored(self, name: str) -> bool:
        return self.uploads.get(name, {}).get("Status") in ("Success", "AlreadyStored")


@pytest.fixture(scope="session")
def orthanc(
    tmp_path_factory: pytest.TempPathFactory, catalogue: dict[str, Path]
) -> Iterator[LoadedOrthanc]:
    server = Orthanc(tmp_path_factory.mktemp("orthanc")).start()
    try:
        uploads = {name: server.upload(path) for name, path in catalogue.items()}
        yield LoadedOrthanc(server, uploads)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def wadofarm_orthanc(
    tmp_path_factory: pytest.TempPathFactory, orthanc: LoadedOrthanc
) -> Iterator[Wadofarm]:
    log = tmp_path_factory.mktemp("wadofarm-orthanc") / "wadofarm.log"
    # --proxy-writes: the pass-through tests upload (STOW-RS, POST /instances) through it.
    server = Wadofarm(["--orthanc", orthanc.url, "--workers", "2", "--proxy-writes"], log).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def wadofarm_folder(
    tmp_path_factory: pytest.TempPathFactory, catalogue: dict[str, Path]
) -> Iterator[Wadofarm]:
    folder = next(iter(catalogue.values())).parent
    log = tmp_path_factory.mktemp("wadofarm-folder") / "wadofarm.log"
    server = Wadofarm(["--dicom-dir", str(folder), "--workers", "2"], log).start()
    yield server
    server.stop()


@pytest.fixture(params=["folder", "orthanc"])
def store_server(request: pytest.FixtureRequest) -> tuple[str, Wadofarm]:
    """The same tests through both stores."""
    kind: str = request.param
    return kind, request.getfixturevalue(f"wadofarm_{kind}")


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A fresh, empty redis-server with the shipped configuration (small maxmemory)."""
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def series_on_disk(tmp_path_factory: pytest.TempPathFactory, catalogue: dict[str, Path]) -> Series:
    """A five-instance series written to a folder of its own."""
    return write_series(tmp_path_factory.mktemp("series"), "folder-series")


@pytest.fixture(scope="session")
def wadofarm_series(
    tmp_path_factory: pytest.TempPathFactory, series_on_disk: Series
) -> Iterator[Wadofarm]:
    """wadofarm over the folder that holds only the five-instance series."""
    folder = series_on_disk.members[0].path.parent
    log = tmp_path_factory.mktemp("wadofarm-series") / "wadofarm.log"
    server = Wadofarm(["--dicom-dir", str(folder), "--workers", "1"], log).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def orthanc_series(tmp_path_factory: pytest.TempPathFactory, orthanc: LoadedOrthanc) -> Series:
    """A five-instance series stored in the session's Orthanc (straight, not through wadofarm)."""
    series = write_series(tmp_path_factory.mktemp("orthanc-series"), "orthanc-series")
    for member in series.members:
        assert orthanc.server.upload(member.path)["HttpStatus"] == 200
    return series
