"""The first hour of a new user, each rough edge once seen: a taken port, an Orthanc that does
not answer yet, error bodies, `--version` and `--help`, the sentences the CLI prints, and
secrets wherever a setting is printed or logged."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.procs import free_port
from router.config import BY_NAME, SPECS, Config, mask_url
from tests.reliability.test_access import USERS, basic
from tests.support import badfiles
from tests.support.http import get, request
from tests.support.orthanc import Orthanc
from tests.support.server import REPO, Wadofarm

# A Python class name in a message meant for a person: ClientConnectorError, KeyError...
CLASS_NAME = re.compile(r"\b[A-Z][a-z]+(?:[A-Z][a-z]*)*(?:Error|Exception)\b")
WADO = {"requestType": "WADO", "objectUID": badfiles.GOOD_UID}


def wadofarm(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`wadofarm ARGV` as a real process, with only `env` of the WADOFARM_* variables."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("WADOFARM_")}
    return subprocess.run(
        [sys.executable, "-m", "router", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO,
        env={**environ, "PYTHONPATH": str(REPO), "COLUMNS": "100", **(env or {})},
    )


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port something else listens on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


@pytest.mark.parametrize("routers", ["1", "2"])
def test_a_taken_port_is_one_line_and_exit_1(taken_port: int, routers: str) -> None:
    done = wadofarm("serve", "--port", str(taken_port), "--workers", "2", "--routers", routers)
    assert done.returncode == 1, done.stderr
    assert done.stderr == (
        f"wadofarm: cannot listen on 127.0.0.1:{taken_port}: another program already listens "
        "there; stop it, or choose another port with --port (or WADOFARM_PORT)\n"
    )
    assert done.stdout == ""


def test_an_address_the_machine_does_not_have_is_one_line() -> None:
    """192.0.2.1 (TEST-NET-1, never assigned): the bind fails, and nothing is sent there."""
    done = wadofarm("serve", "--host", "192.0.2.1", "--workers", "1")
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "this machine has no such address" in done.stderr


def test_version_and_help_are_for_users() -> None:
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    done = wadofarm("--version")
    assert done.returncode == 0 and done.stdout == f"wadofarm {version}\n"
    done = wadofarm("--help")
    assert done.returncode == 0
    assert "wadofarm renders DICOM images for viewers" in done.stdout
    assert "wadofarm serve --orthanc http://127.0.0.1:8042" in done.stdout  # an example
    assert "Config" not in done.stdout and "`wadofarm serve`:" not in done.stdout
    alone = wadofarm()  # no command: what it is and how to start, not a bare usage error
    assert alone.returncode == 2 and "serve" in alone.stderr and "examples:" in alone.stderr


def test_more_routers_than_workers_is_a_whole_sentence() -> None:
    done = wadofarm("serve", "--routers", "3", "--workers", "2", "--check-config")
    assert done.returncode == 2
    assert done.stderr == (
        "wadofarm: --routers='3' is not allowed: at most as many routers as render workers "
        "(--workers 2), since each router drives its own share of the workers: give fewer "
        "routers or more workers\n"
    )


def test_every_secret_is_masked_where_settings_are_printed() -> None:
    env = {
        "WADOFARM_ORTHANC_PASSWORD": "pw-in-a-variable",
        "WADOFARM_REDIS_URL": "redis://:pw-in-redis@127.0.0.1:6379/0",
    }
    done = wadofarm(
        "serve",
        "--check-config",
        "--orthanc",
        "http://viewer:pw-in-url@127.0.0.1:8042",
        "--public-url",
        "https://token-alone@images.example",
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "pw-" not in done.stdout and "token-alone" not in done.stdout
    settings = dict(line.split(" (")[0].split("=", 1) for line in done.stdout.splitlines())
    assert settings["orthanc_password"] == "***"
    assert settings["orthanc_url"] == "http://viewer:***@127.0.0.1:8042"
    assert settings["redis_url"] == "redis://***@127.0.0.1:6379/0"
    assert settings["public_url"] == "https://***@images.example"
    # A refused value is printed too: masked the same way.
    bad = wadofarm("serve", "--check-config", "--orthanc", "ftp://viewer:pw-in-url@host")
    assert bad.returncode == 2 and "pw-in-url" not in bad.stderr
    assert "--orthanc='ftp://viewer:***@host' is not allowed" in bad.stderr
    assert "pw-in-a-variable" not in repr(Config(orthanc_password="pw-in-a-variable"))


def test_what_is_secret_is_said_once_in_the_definitions() -> None:
    """The password is the one secret setting; every URL setting masks its user-info."""
    assert [spec.name for spec in SPECS if spec.setting.secret] == ["orthanc_password"]
    for spec in SPECS:
        if spec.setting.schemes:
            assert spec.masked("x://a:b@h/p") == "x://a:***@h/p", spec.name
    assert BY_NAME["orthanc_password"].masked("") == ""
    assert mask_url("http://127.0.0.1:8042/a@b") == "http://127.0.0.1:8042/a@b"  # not user-info


@pytest.fixture
def later_orthanc(tmp_path: Path) -> Orthanc:
    """An Orthanc whose port is chosen, not started: the test starts it when it wants."""
    return Orthanc(tmp_path / "orthanc")


def test_an_orthanc_that_does_not_answer_yet(tmp_path: Path, later_orthanc: Orthanc) -> None:
    """Started before Orthanc: a WARNING saying so, /readyz saying why, requests refused in
    words, --auth auto undecided; once Orthanc (Debian's: no users) answers, --auth none is
    decided, renders flow and the pass-through refuses writes as it does for such an Orthanc."""
    secret = "pw-of-wadofarm"
    url = later_orthanc.url.replace("http://", f"http://wadofarm:{secret}@")
    server = Wadofarm(["--orthanc", url, "--workers", "1"], tmp_path / "w.log").start()
    try:
        log = server.log.read_text()
        assert re.search(
            r" WARNING router.exposure: Orthanc at http://wadofarm:\*\*\*@127\.0\.0\.1:\d+ does "
            r"not answer \(the connection was refused: nothing listens at that address and "
            r"port\)\. wadofarm starts anyway: requests that need Orthanc fail, and /readyz says "
            r"not ready, until it answers; --auth auto is decided then",
            log,
        ), log
        ready = get(server.url + "/readyz")
        assert ready.status == 503
        assert "the connection was refused" in ready.text
        assert "--auth auto waits for Orthanc's first answer" in ready.text
        for path, params in (("/wado", WADO), ("/system", {}), ("/", {})):
            refused = get(server.url + path, params=params)
            assert refused.status == 502, (path, refused.text)
            assert "unreachable: the connection was refused" in refused.text
            assert not CLASS_NAME.search(refused.text), refused.text

        later_orthanc.start()
        assert later_orthanc.upload_bytes(badfiles.good())["HttpStatus"] == 200
        # Ready before any request came: a load balancer waits for this to send any.
        assert get(server.url + "/readyz").text == "ready\n"
        assert get(server.url + "/wado", params=WADO).status == 200
        stored = request(
            "POST",
            server.url + "/instances",
            body=badfiles.padded(),
            headers={"Content-Type": "application/dicom"},
        )
        assert stored.status == 403 and "--proxy-writes" in stored.text
        log = server.log.read_text()
        assert "--auth auto: Orthanc answers anonymous requests, so --auth none" in log
        assert "pass-through to Orthanc: the pass-through forwards reads only" in log
        assert secret not in log
    finally:
        server.stop()
        later_orthanc.stop()


def test_an_orthanc_with_users_that_answers_later_makes_auth_forward(tmp_path: Path) -> None:
    orthanc = Orthanc(tmp_path / "orthanc", users=USERS)
    user, password = next(iter(USERS.items()))
    server = Wadofarm(
        ["--orthanc", orthanc.url, "--orthanc-user", user, "--workers", "1"],
        tmp_path / "w.log",
        env={"WADOFARM_ORTHANC_PASSWORD": password},
    ).start()
    try:
        assert get(server.url + "/wado", params=WADO).status == 502
        orthanc.start()
        assert orthanc.upload_bytes(badfiles.good())["HttpStatus"] == 200
        assert get(server.url + "/wado", params=WADO).status == 401  # Orthanc's users decide
        assert get(server.url + "/wado", params=WADO, headers=basic(user, password)).status == 200
        log = server.log.read_text()
        assert "--auth auto: Orthanc asks for credentials, so --auth forward" in log
        assert password not in log
    finally:
        server.stop()
        orthanc.stop()


def test_error_bodies_are_words_not_class_names(tmp_path: Path) -> None:
    """Orthanc gone (--auth none, so the requests reach the store and the pass-through): the
    502s say what happened to the connection, never an aiohttp class."""
    dead = f"http://127.0.0.1:{free_port()}"
    flags = ["--orthanc", dead, "--workers", "1", "--auth", "none", "--upstream-timeout", "2"]
    server = Wadofarm(flags, tmp_path / "w.log").start()
    try:
        for path, params in (("/wado", WADO), ("/system", {}), ("/dicom-web/studies", {})):
            reply = get(server.url + path, params=params)
            assert reply.status == 502, (path, reply.text)
            assert "the connection was refused" in reply.text, reply.text
            assert not CLASS_NAME.search(reply.text), reply.text
    finally:
        server.stop()
    log = server.log.read_text()
    assert not CLASS_NAME.search(
        "\n".join(line for line in log.splitlines() if " WARNING " in line or " ERROR " in line)
    )


def test_the_start_log_speaks_in_whole_sentences(tmp_path: Path) -> None:
    """No empty clause after a colon ("pass-through to Orthanc: ;"), no "1 workers"."""
    orthanc = Orthanc(tmp_path / "orthanc").start()
    try:
        server = Wadofarm(["--orthanc", orthanc.url, "--workers", "1"], tmp_path / "w.log")
        server.start()
        server.stop()
    finally:
        orthanc.stop()
    log = server.log.read_text()
    assert "render pool started: 1 worker\n" in log
    assert "pass-through to Orthanc: the pass-through forwards reads only" in log
    assert not re.search(r": ;|;\s*$| 1 workers|\(\)", log, re.MULTILINE), log
