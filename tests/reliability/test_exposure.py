"""The pass-through never widens what Orthanc allows: in front of an Orthanc configured as
Debian ships it (localhost only, no users: it answers anyone who reaches it), an
unauthenticated client reads through wadofarm but changes nothing; with an Orthanc that asks
for credentials, wadofarm asks for them too (--auth auto = forward). And the probe's findings:
absolute-form targets, the public probes, /metrics under --auth forward."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from router.auth import AuthMode
from router.config import Config
from router.exposure import settle
from tests.reliability.test_access import USERS, basic
from tests.support import badfiles
from tests.support.http import get, request
from tests.support.orthanc import Orthanc
from tests.support.server import Wadofarm

UID = badfiles.GOOD_UID
WADO = {"requestType": "WADO", "objectUID": UID}


@pytest.fixture(scope="module")
def debian_orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Orthanc, str]]:
    """No users, remote access off: Debian's defaults (the test fixture's configuration)."""
    server = Orthanc(tmp_path_factory.mktemp("debian-orthanc")).start()
    answer = server.upload_bytes(badfiles.good())
    assert answer["HttpStatus"] == 200
    yield server, str(answer["ID"])
    server.stop()


@pytest.fixture(scope="module")
def open_front(
    tmp_path_factory: pytest.TempPathFactory, debian_orthanc: tuple[Orthanc, str]
) -> Iterator[Wadofarm]:
    """wadofarm as the README's drop-in starts it, with nothing about access on the line."""
    orthanc, _ = debian_orthanc
    log = tmp_path_factory.mktemp("open-front") / "w.log"
    server = Wadofarm(["--orthanc", orthanc.url, "--workers", "1"], log).start()
    yield server
    server.stop()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/instances/{id}"),
        ("POST", "/tools/reset"),
        ("PUT", "/tools/log-level"),
        ("GET", "/tools/log-level"),
        ("GET", "//tools/log-level"),
        ("GET", "/%74ools/log-level"),
        ("GET", "/instances/{id}/../../tools/log-level"),
        ("POST", "/instances"),
        ("POST", "/dicom-web/studies"),
    ],
)
def test_writes_and_tools_are_refused_and_change_nothing(
    open_front: Wadofarm, debian_orthanc: tuple[Orthanc, str], method: str, path: str
) -> None:
    orthanc, orthanc_id = debian_orthanc
    before = get(orthanc.url + "/tools/log-level").body
    body = b"verbose" if method == "PUT" else (badfiles.good() if method == "POST" else None)
    reply = request(method, open_front.url + path.format(id=orthanc_id), body=body)
    assert reply.status == 403, reply.text
    assert "--proxy-writes" in reply.text
    assert get(f"{orthanc.url}/instances/{orthanc_id}").status == 200  # still there
    assert get(orthanc.url + "/tools/log-level").body == before


def test_reads_pass_and_render(open_front: Wadofarm, debian_orthanc: tuple[Orthanc, str]) -> None:
    orthanc, orthanc_id = debian_orthanc
    study = json.loads(get(f"{orthanc.url}/instances/{orthanc_id}/tags?simplify").body)[
        "StudyInstanceUID"
    ]
    qido = get(open_front.url + "/dicom-web/studies", params={"StudyInstanceUID": study})
    assert qido.status == 200 and study in qido.text
    metadata = get(f"{open_front.url}/dicom-web/studies/{study}/metadata")
    assert metadata.status == 200 and UID in metadata.text
    assert get(f"{open_front.url}/instances/{orthanc_id}").status == 200  # a REST read
    head = request("HEAD", open_front.url + "/system").status
    assert head == request("HEAD", orthanc.url + "/system").status != 403
    assert get(open_front.url + "/wado", params=WADO).status == 200
    log = open_front.log.read_text()
    assert "pass-through to Orthanc" in log and "reads only" in log
    assert "--auth auto: Orthanc answers anonymous requests, so --auth none" in log


def test_proxy_writes_or_an_authenticated_client_may_write(
    tmp_path: Path, debian_orthanc: tuple[Orthanc, str]
) -> None:
    orthanc, _ = debian_orthanc
    victim = badfiles.padded()  # another instance, stored and deleted here
    tokens = tmp_path / "tokens"
    tokens.write_text("tok-writer\n")
    bearer = ["--auth", "bearer", "--auth-tokens", str(tokens)]
    for flags, headers in (
        (["--proxy-writes"], {}),
        (bearer, {"Authorization": "Bearer tok-writer"}),
    ):
        args = ["--orthanc", orthanc.url, "--workers", "1", *flags]
        server = Wadofarm(args, tmp_path / f"w-{len(flags)}.log").start()
        try:
            stored = request(
                "POST",
                server.url + "/instances",
                body=victim,
                headers={"Content-Type": "application/dicom", **headers},
            )
            assert stored.status == 200, stored.text
            orthanc_id = json.loads(stored.body)["ID"]
            deleted = request("DELETE", f"{server.url}/instances/{orthanc_id}", headers=headers)
            assert deleted.status == 200, deleted.text
            assert get(f"{orthanc.url}/instances/{orthanc_id}").status == 404
        finally:
            server.stop()


@pytest.fixture(scope="module")
def guarded_orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orthanc]:
    server = Orthanc(tmp_path_factory.mktemp("users-orthanc"), users=USERS).start()
    assert server.upload_bytes(badfiles.good())["HttpStatus"] == 200
    yield server
    server.stop()


def test_an_orthanc_that_asks_for_credentials_makes_auth_forward(
    tmp_path: Path, guarded_orthanc: Orthanc
) -> None:
    """wadofarm's own credentials (any user) do not serve an anonymous client what Orthanc
    would refuse it: by default wadofarm forwards the client's, /metrics and / included."""
    user, password = next(iter(USERS.items()))
    flags = ["--orthanc", guarded_orthanc.url, "--orthanc-user", user, "--workers", "1"]
    server = Wadofarm(flags, tmp_path / "w.log", env={"WADOFARM_ORTHANC_PASSWORD": password})
    server.start()
    try:
        whole = {**WADO, "contentType": "application/dicom"}
        for path, params in (("/wado", whole), ("/metrics", {}), ("/", {}), ("/wado", WADO)):
            reply = get(server.url + path, params=params)
            assert reply.status == 401, (path, reply.status)
        creds = basic(user, password)
        assert get(server.url + "/wado", params=whole, headers=creds).status == 200
        assert get(server.url + "/metrics", headers=creds).status == 200
        for path in ("/healthz", "/readyz"):
            assert get(server.url + path).status == 200
        assert "so --auth forward" in server.log.read_text()
    finally:
        server.stop()


def test_an_explicit_auth_none_before_such_an_orthanc_is_logged(
    guarded_orthanc: Orthanc, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="router.exposure"):
        config = settle(Config(orthanc_url=guarded_orthanc.url, auth=AuthMode.NONE))
    assert config.auth is AuthMode.NONE
    assert "--auth none in front of an Orthanc that asks for credentials" in caplog.text


def test_a_network_address_with_auth_none_warns(
    debian_orthanc: tuple[Orthanc, str], caplog: pytest.LogCaptureFixture
) -> None:
    orthanc, _ = debian_orthanc
    with caplog.at_level(logging.INFO, logger="router.exposure"):
        settle(Config(host="127.0.0.1", orthanc_url=orthanc.url))
        assert "anyone who can reach" not in caplog.text
        settle(Config(host="0.0.0.0", orthanc_url=orthanc.url))
    assert "listening on 0.0.0.0 with --auth none: anyone who can reach port 8080" in caplog.text


def test_an_absolute_form_target_is_400(open_front: Wadofarm) -> None:
    """`GET http://host:port/x` was glued onto Orthanc's root (a 500, or a changed host)."""
    for target in (f"http://127.0.0.1:{open_front.port}/system", "http:evil.example/system"):
        with socket.create_connection(("127.0.0.1", open_front.port), timeout=10) as conn:
            conn.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            answer = b""
            while chunk := conn.recv(65536):
                answer += chunk
        assert answer.split(b"\r\n")[0].split()[1] == b"400", answer[:200]


def test_the_public_probes_are_public_for_get_and_head_only(tmp_path: Path) -> None:
    (tmp_path / "dicom").mkdir()
    (tmp_path / "dicom" / "good.dcm").write_bytes(badfiles.good())
    tokens = tmp_path / "tokens"
    tokens.write_text("tok-only\n")
    flags = ["--dicom-dir", str(tmp_path / "dicom"), "--workers", "1"]
    flags += ["--auth", "bearer", "--auth-tokens", str(tokens)]
    server = Wadofarm(flags, tmp_path / "w.log").start()
    try:
        for path in ("/healthz", "/readyz"):
            assert get(server.url + path).status == 200
            assert request("HEAD", server.url + path).status == 200
            for method in ("POST", "PUT", "DELETE"):
                assert request(method, server.url + path).status == 401, (method, path)
    finally:
        server.stop()
