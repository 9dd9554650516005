"""A real Orthanc set up as a site would have it (instances, a protected patient, metadata, a
peer, a modality, a DICOMweb server), with and without users, and wadofarm in front of each as
the drop-in starts it: the ground the probes of issue 25 run on. `State` is everything a probe
could change, read straight from Orthanc."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support import badfiles
from tests.support.http import get, request
from tests.support.orthanc import Orthanc
from tests.support.server import Wadofarm
from tests.support.tools import free_port

USERS = {"admin": "admin-pw-8rt"}


class Sentinel:
    """An HTTP server posing as a peer and a DICOMweb server: records every request it gets,
    which a probe must never cause."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.hits: list[str] = []
        hits = self.hits

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            do_POST = do_PUT = do_DELETE = do_GET

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> Sentinel:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class Estate:
    """An Orthanc with a site's worth of state, and the credentials to read it."""

    orthanc: Orthanc
    sentinel: Sentinel
    instance: str = ""  # an instance's Orthanc ID
    patient: str = ""
    headers: dict[str, str] = field(default_factory=dict)

    def call(self, method: str, path: str, body: bytes | None = None) -> bytes:
        reply = request(method, self.orthanc.url + path, body=body, headers=self.headers)
        assert reply.status == 200, (method, path, reply.status, reply.text)
        return reply.body

    def json(self, path: str) -> object:
        return json.loads(self.call("GET", path))

    def set_up(self) -> Estate:
        for data in (badfiles.good(), badfiles.padded()):
            answer = json.loads(self.call("POST", "/instances", data))
        self.instance, self.patient = str(answer["ID"]), str(answer["ParentPatient"])
        peer = {"Url": self.sentinel.url, "Username": "peer-user", "Password": "peer-secret"}
        self.call("PUT", "/peers/sentinel", json.dumps(peer).encode())
        self.call("PUT", "/modalities/sample", b'{"AET":"SAMPLE","Host":"127.0.0.1","Port":1}')
        self.call(
            "PUT", "/dicom-web/servers/sample", json.dumps({"Url": self.sentinel.url}).encode()
        )
        self.call("PUT", f"/instances/{self.instance}/metadata/1024", b"kept")
        self.call("PUT", f"/patients/{self.patient}/protected", b"1")
        return self

    def state(self) -> dict[str, object]:
        """What a probe could change: read from Orthanc itself, with credentials."""
        instances = self.json("/instances")
        assert isinstance(instances, list)
        patients = self.json("/patients")
        assert isinstance(patients, list)
        return {
            "instances": sorted(instances),
            "modalities": self.json("/modalities?expand"),
            "peers": self.json("/peers?expand"),
            "dicomweb servers": self.json("/dicom-web/servers?expand"),
            "log level": self.call("GET", "/tools/log-level"),
            "metrics": self.call("GET", "/tools/metrics"),
            "protected": {p: self.call("GET", f"/patients/{p}/protected") for p in patients},
            "metadata": {i: self.json(f"/instances/{i}/metadata?expand") for i in instances},
            "sentinel hits": list(self.sentinel.hits),
        }


@dataclass
class Front:
    """wadofarm in front of an estate, and what it is called in test ids."""

    name: str
    server: Wadofarm
    estate: Estate


def _estate(base: Path, users: dict[str, str] | None) -> Iterator[Estate]:
    sentinel = Sentinel().start()
    orthanc = Orthanc(base / "orthanc", users=users).start()
    try:
        yield Estate(orthanc, sentinel, headers=orthanc.auth_header).set_up()
    finally:
        orthanc.stop()
        sentinel.stop()


@pytest.fixture(scope="package")
def open_estate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Estate]:
    """Orthanc as Debian ships it: localhost only, no users."""
    yield from _estate(tmp_path_factory.mktemp("open-estate"), None)


@pytest.fixture(scope="package")
def guarded_estate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Estate]:
    """An Orthanc with users."""
    yield from _estate(tmp_path_factory.mktemp("guarded-estate"), USERS)


def _front(base: Path, name: str, estate: Estate, flags: list[str]) -> Iterator[Front]:
    args = ["--orthanc", estate.orthanc.url, "--workers", "1", *flags]
    server = Wadofarm(args, base / "wadofarm.log").start()
    try:
        yield Front(name, server, estate)
    finally:
        server.stop()


@pytest.fixture(scope="package")
def open_front(tmp_path_factory: pytest.TempPathFactory, open_estate: Estate) -> Iterator[Front]:
    """As the README's drop-in starts it: nothing about access on the line (auto: none)."""
    yield from _front(tmp_path_factory.mktemp("open-front"), "open", open_estate, [])


@pytest.fixture(scope="package")
def forward_front(
    tmp_path_factory: pytest.TempPathFactory, guarded_estate: Estate
) -> Iterator[Front]:
    """In front of an Orthanc with users (auto: forward)."""
    yield from _front(tmp_path_factory.mktemp("forward-front"), "forward", guarded_estate, [])


@pytest.fixture(scope="package", params=["open", "forward"])
def front(request: pytest.FixtureRequest) -> Front:
    found: Front = request.getfixturevalue(f"{request.param}_front")
    return found


__all__ = ["USERS", "Estate", "Front", "get"]
