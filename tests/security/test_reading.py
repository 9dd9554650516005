"""wadofarm reads a request target as Orthanc does (router/paths.py), asked of a real Orthanc:
for every target wadofarm does not refuse, the path Orthanc's log says it routed (with
`--verbose`: "(http) GET /tools/now") is wadofarm's reading; and the targets wadofarm refuses
are exactly those whose reading turns on a detail (tests/router/test_paths.py has the rules)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from router.errors import InvalidRequest
from router.paths import read
from tests.support.http import request
from tests.support.orthanc import Orthanc

TARGETS = [
    "/tools/now",
    "/tools\\now",
    "/\\tools/now",
    "//tools//now",
    "/./tools/now",
    "/x/../tools/now",
    "/../tools/now",
    "/tools/now/",
    "/tools/./now",
    "/%74ools/n%6Fw",
    "/tools/%2e/now",
    "/tools/%2E%2E/system",
    "/a//../tools/now",
    "/a/b/..//../tools/now",
    "/tools/now%20",
    "/tools/now+",
    "/tools%zz/now",
    "/tools/now%",
    "/tools/now%2",
    "/.well-known/x",
    "/a/.b/../tools/now",
    "/tools/..%5c/now",
    "/tools%2fnow",
    "/tools%5cnow",
    "/tools%00/now",
    "/tools.",
    "/tools./now",
    "/tools/now..",
    "/tools/.../now",
    "/tools/now#x",
]


@pytest.fixture(scope="module")
def verbose_orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orthanc]:
    orthanc = Orthanc(tmp_path_factory.mktemp("verbose-orthanc")).start()
    assert request("PUT", orthanc.url + "/tools/log-level", body=b"verbose").status == 200
    yield orthanc
    orthanc.stop()


def routed(orthanc: Orthanc, target: str) -> str:
    """The path Orthanc's REST API routed `target` to, from its log."""
    size = orthanc.log.stat().st_size
    with socket.create_connection(("127.0.0.1", orthanc.port), timeout=10) as conn:
        conn.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        while conn.recv(65536):
            pass
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        written = orthanc.log.read_bytes()[size:].decode(errors="replace")
        for line in written.splitlines():
            if "(http) GET " in line:
                return line.split("(http) GET ", 1)[1]
        time.sleep(0.02)
    raise AssertionError(f"Orthanc logged no route for {target!r}")


@pytest.mark.parametrize("target", TARGETS)
def test_wadofarm_reads_a_target_as_orthanc_does(verbose_orthanc: Orthanc, target: str) -> None:
    orthanc_reads = routed(verbose_orthanc, target)
    try:
        ours = read(target).path
    except InvalidRequest:
        return  # refused with 400: whatever Orthanc makes of it never reaches it
    assert ours == orthanc_reads, target


def test_the_refused_are_those_readers_disagree_on() -> None:
    refused = []
    for target in TARGETS:
        try:
            read(target)
        except InvalidRequest:
            refused.append(target)
    assert refused == [
        "/tools/..%5c/now",
        "/tools%2fnow",
        "/tools%5cnow",
        "/tools%00/now",
        "/tools.",
        "/tools./now",
        "/tools/now..",
        "/tools/.../now",
        "/tools/now#x",
    ]
