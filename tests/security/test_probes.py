"""Every probe of issue 25, as an attacker on the loopback sends it, against wadofarm in front
of a real Orthanc without users (`--auth none`, as the drop-in starts it) and with users
(`--auth forward`): each is refused or harmless, and Orthanc's state (instances, modalities,
peers, DICOMweb servers, log level, metrics, protected flags, metadata, and whether its peer was
called) is what it was before."""

from __future__ import annotations

import socket
from dataclasses import dataclass

import pytest

from tests.reliability.test_access import basic
from tests.security.conftest import USERS, Front

REFUSED = (400, 401, 403)


@dataclass(frozen=True)
class Probe:
    name: str
    method: str
    target: str  # {id}: an instance; {patient}: the protected patient
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    refused: bool = True  # False: may be answered, as long as it changes nothing


def override(method: str) -> tuple[tuple[str, str], ...]:
    return (("X-HTTP-Method-Override", method),)


MODALITY = b'{"AET":"EVIL","Host":"127.0.0.1","Port":104}'
PEER = b'{"Url":"http://127.0.0.1:9/"}'
PROBES = [
    Probe("delete by _method", "GET", "/instances/{id}?_method=DELETE"),
    Probe("delete by _method, lower case", "GET", "/instances/{id}?_method=delete"),
    Probe("delete by _method after another", "GET", "/instances/{id}?a=1&_method=DELETE"),
    Probe("delete by header", "GET", "/instances/{id}", override("DELETE"), refused=False),
    Probe("delete by header on HEAD", "HEAD", "/instances/{id}", override("DELETE"), refused=False),
    Probe(
        "delete by X-HTTP-Method",
        "GET",
        "/instances/{id}",
        (("X-HTTP-Method", "DELETE"),),
        refused=False,
    ),
    Probe("modality by header", "GET", "/modalities/evil", override("PUT"), MODALITY),
    Probe("peer by header", "GET", "/peers/evilpeer", override("PUT"), PEER),
    Probe(
        "DICOMweb server by header",
        "GET",
        "/dicom-web/servers/evil",
        override("PUT"),
        PEER,
        refused=False,
    ),
    Probe(
        "unprotect by header",
        "GET",
        "/patients/{patient}/protected",
        override("PUT"),
        b"0",
        refused=False,
    ),
    Probe("unprotect by _method", "GET", "/patients/{patient}/protected?_method=PUT", body=b"0"),
    Probe(
        "metadata by header",
        "GET",
        "/instances/{id}/metadata/1024",
        override("PUT"),
        b"changed",
        refused=False,
    ),
    Probe("tools, backslash", "GET", "/tools\\now"),
    Probe("tools, leading backslash", "GET", "/\\tools/now"),
    Probe("tools, %5c", "GET", "/tools%5cnow"),
    Probe("tools, leading %5c", "GET", "/%5ctools/now"),
    Probe("log level, backslash", "PUT", "/tools\\log-level", body=b"verbose"),
    Probe("log level, slashes", "PUT", "//tools//log-level", body=b"verbose"),
    Probe("log level, dots", "PUT", "/instances/../tools/log-level", body=b"verbose"),
    Probe("log level, trailing dot", "PUT", "/tools/log-level.", body=b"verbose"),
    Probe("metrics off, %5C and _method", "GET", "/tools%5Cmetrics?_method=PUT", body=b"false"),
    Probe("metrics off", "PUT", "/tools/metrics", body=b"false"),
    Probe("tools listed", "GET", "/tools"),
    Probe("tools listed, trailing dot", "GET", "/tools."),
    Probe("tools listed, NUL", "GET", "/tools%00/now"),
    Probe("tools, %74", "GET", "/%74ools/now"),
    Probe("peer called", "GET", "/peers/sentinel/system"),
    Probe("peer called, backslash", "GET", "/peers\\sentinel\\system"),
    Probe("peer called, trailing slash", "GET", "/peers/sentinel/system/"),
    Probe("modality echo", "POST", "/modalities/sample/echo", body=b"{}"),
    Probe("modality read", "GET", "/modalities/sample/configuration"),
    Probe("delete", "DELETE", "/instances/{id}"),
    Probe("reset", "POST", "/tools/reset"),
    Probe("upload", "POST", "/instances", body=b"not dicom"),
    Probe("execute script", "POST", "/tools/execute-script", body=b"print(1)"),
    Probe("fragment", "GET", "/instances/{id}#/../../tools/now"),
    Probe("absolute form", "GET", "http://127.0.0.1/tools/now"),
]


def send(front: Front, probe: Probe, headers: dict[str, str] | None = None) -> int:
    """The probe as raw bytes (no client library tidies its target), and the answer's status."""
    estate = front.estate
    target = probe.target.format(id=estate.instance, patient=estate.patient)
    lines = [f"{probe.method} {target} HTTP/1.1", f"Host: 127.0.0.1:{front.server.port}"]
    lines += [f"{name}: {value}" for name, value in (*probe.headers, *(headers or {}).items())]
    lines += [f"Content-Length: {len(probe.body)}", "Connection: close", "", ""]
    with socket.create_connection(("127.0.0.1", front.server.port), timeout=30) as conn:
        conn.sendall("\r\n".join(lines).encode() + probe.body)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return int(answer.split(b" ", 2)[1])


@pytest.fixture(scope="module")
def before(front: Front) -> dict[str, object]:
    return front.estate.state()


@pytest.mark.parametrize("probe", PROBES, ids=[p.name for p in PROBES])
def test_probe_is_refused_or_harmless(
    front: Front, before: dict[str, object], probe: Probe
) -> None:
    status = send(front, probe)
    if probe.refused:
        assert status in REFUSED, (front.name, probe, status)
    assert front.estate.state() == before, (front.name, probe, status)


OVERRIDES = [p for p in PROBES if "_method" in p.target or p.headers]


@pytest.mark.parametrize("probe", OVERRIDES, ids=[p.name for p in OVERRIDES])
def test_an_override_does_not_pass_with_credentials_either(
    forward_front: Front, probe: Probe
) -> None:
    """A user Orthanc lets write still cannot write with a read: the header is dropped, and
    `_method` is a 400."""
    before = forward_front.estate.state()
    user, password = next(iter(USERS.items()))
    status = send(forward_front, probe, basic(user, password))
    if "_method" in probe.target:
        assert status == 400
    assert forward_front.estate.state() == before


@pytest.mark.parametrize(
    "target", ["/metrics", "//metrics", "/metrics/", "/./metrics", "/x/../metrics"]
)
def test_metrics_ask_for_credentials_however_spelt(forward_front: Front, target: str) -> None:
    assert send(forward_front, Probe("metrics", "GET", target)) == 401
    user, password = next(iter(USERS.items()))
    assert send(forward_front, Probe("metrics", "GET", target), basic(user, password)) == 200


def test_what_a_viewer_reads_still_passes(open_front: Front) -> None:
    estate = open_front.estate
    for target in (
        "/system",
        "/instances/{id}",
        "/instances/{id}/tags",
        "/patients/{patient}/protected",
        "/app/explorer.html",
        "/dicom-web/studies",
    ):
        assert send(open_front, Probe("read", "GET", target)) == 200, target
    assert estate.sentinel.hits == []
