"""The servers under test as real processes on free loopback ports: a fresh Orthanc (Debian's
package, with the DICOMweb and GDCM plugins) and wadofarm in front of it. Each is stopped by its
PID; nothing is left running."""

from __future__ import annotations

import base64
import http.client
import json
import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
PLUGINS = "/usr/share/orthanc/plugins"


class SetupError(RuntimeError):
    """A program the suite needs is missing or would not start."""


def free_port() -> int:
    """A free loopback port below the kernel's ephemeral range (32768+), so that neither another
    suite's bind(0) nor the outgoing connections of a load test can take it before we do."""
    for _ in range(200):
        port = random.randrange(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port between 20000 and 32000")


def http_request(
    method: str,
    url: str,
    body: bytes | None = None,
    timeout: float = 10.0,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(method, target, body=body, headers=headers or {})
        reply = conn.getresponse()
        return reply.status, reply.read()
    finally:
        conn.close()


def log_tail(log: Path, size: int = 3000) -> str:
    return log.read_text(errors="replace")[-size:] if log.exists() else ""


def wait_ready(
    process: subprocess.Popen[bytes],
    answers: Callable[[], bool],
    timeout: float,
    what: str,
    log: Path,
) -> None:
    """Until `answers()` (an HTTP probe; OSError while the port is not open yet) says yes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SetupError(f"{what} exited: {log_tail(log)}")
        try:
            if answers():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SetupError(f"{what} did not start in {timeout:g}s: {log_tail(log)}")


def _stop(process: subprocess.Popen[bytes] | None, grace: float) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def orthanc_config(
    port: int, storage: Path, name: str, users: dict[str, str] | None = None
) -> dict[str, object]:
    """An Orthanc on loopback only, with /wado and DICOMweb on, GDCM to decode JPEG 2000 and
    nothing else listening: what the bench and the tests both start."""
    return {
        "Name": name,
        "HttpPort": port,
        "StorageDirectory": str(storage),
        "IndexDirectory": str(storage),
        "Plugins": [PLUGINS],
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": bool(users),
        "RegisteredUsers": users or {},
        "DicomServerEnabled": False,
        "HttpThreadsCount": 50,
        "OverwriteInstances": True,
        "StableAge": 2,
        "DicomWeb": {
            "Enable": True,
            "Root": "/dicom-web/",
            "EnableWado": True,
            "WadoRoot": "/wado",
            # No "Host": as in most deployments, the plugin writes its URLs (RetrieveURL,
            # BulkDataURI) from the request, so through wadofarm they point at wadofarm.
            "Ssl": False,
        },
        # GDCM decodes the JPEG 2000 series for Orthanc's own /wado.
        "Gdcm": {"Enable": True, "Throttling": 4},
    }


def serve_command(port: int, args: list[str]) -> list[str]:
    """`python -m router serve` on loopback from this checkout (run it with cwd=REPO)."""
    return [
        sys.executable,
        "-m",
        "router",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *args,
    ]


class Orthanc:
    """A fresh Orthanc on a free loopback port with its own storage folder. `missing` says what
    to do when Orthanc or a plugin is not installed (the tests fail or skip instead)."""

    def __init__(
        self,
        workdir: Path,
        *,
        users: dict[str, str] | None = None,
        extra: dict[str, object] | None = None,
    ) -> None:
        self.workdir = workdir
        self.users = users
        self.extra = extra or {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # Unique, so that the readiness probe can tell this Orthanc from another one that
        # answers on a reused port.
        self.name = f"wadofarm-{os.getpid()}-{self.port}-{time.monotonic_ns()}"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def auth_header(self) -> dict[str, str]:
        """Basic credentials of the first user, for our own calls."""
        if not self.users:
            return {}
        user, password = next(iter(self.users.items()))
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    def missing(self, reason: str) -> NoReturn:
        raise SetupError(reason)

    def config(self) -> dict[str, object]:
        base = orthanc_config(self.port, self.workdir / "db", self.name, self.users)
        return {**base, **self.extra}

    def start(self, timeout: float = 30.0) -> Orthanc:
        binary = shutil.which("Orthanc") or self.missing(
            "Orthanc is not installed (apt-get install orthanc)"
        )
        for plugin in ("libOrthancDicomWeb.so", "libOrthancGdcm.so"):
            if not Path(PLUGINS, plugin).exists():
                self.missing(f"{plugin} is missing (apt-get install orthanc-dicomweb orthanc-gdcm)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "orthanc.json"
        config.write_text(json.dumps(self.config(), indent=1))
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [binary, str(config)], cwd=self.workdir, stdout=out, stderr=subprocess.STDOUT
            )
        wait_ready(self.process, self._answers, timeout, "Orthanc", self.log)
        return self

    def _answers(self) -> bool:
        status, body = http_request(
            "GET", self.url + "/system", timeout=1, headers=self.auth_header
        )
        if status != 200:
            return False
        if json.loads(body).get("Name") != self.name:
            raise SetupError(f"another Orthanc answers on port {self.port}")
        return True

    @property
    def log(self) -> Path:
        return self.workdir / "orthanc.log"

    def log_tail(self) -> str:
        return log_tail(self.log, 2000)

    def version(self) -> str:
        status, body = http_request("GET", self.url + "/system", headers=self.auth_header)
        return str(json.loads(body).get("Version", "?")) if status == 200 else "?"

    def upload_all(self, paths: list[Path]) -> None:
        """POST every file on one keep-alive connection; any refusal stops the run."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            for path in paths:
                conn.request(
                    "POST",
                    "/instances",
                    body=path.read_bytes(),
                    headers={"Content-Type": "application/dicom", **self.auth_header},
                )
                reply = conn.getresponse()
                body = reply.read()
                if reply.status != 200:
                    raise SetupError(f"Orthanc refused {path.name}: {reply.status} {body[:200]!r}")
        finally:
            conn.close()

    def stop(self) -> None:
        _stop(self.process, 15.0)
        self.process = None


class Wadofarm:
    """`python -m router serve` from this checkout, with these flags, on a free loopback port."""

    probe = "/healthz"  # answers 200 once the server serves

    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = args
        self.log = log
        self.env = env or {}
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None, "not running"
        return self.process.pid

    def start(self, timeout: float = 60.0) -> Wadofarm:
        env = {**os.environ, "PYTHONPATH": str(REPO), **self.env}
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                self.command(),
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_ready(self.process, self._answers, timeout, "wadofarm", self.log)
        return self

    def command(self) -> list[str]:
        return serve_command(self.port, self.args)

    def _answers(self) -> bool:
        return http_request("GET", self.url + self.probe, timeout=1)[0] == 200

    def log_tail(self) -> str:
        return log_tail(self.log)

    def stop(self) -> None:
        _stop(self.process, 20.0)
        self.process = None


def bench_wadofarm(orthanc_url: str, args: list[str], log: Path) -> Wadofarm:
    """wadofarm as the bench runs it: in front of `orthanc_url`, quiet."""
    quiet = ["--no-access-log", "--log-level", "warning"]
    return Wadofarm(["--orthanc", orthanc_url, *quiet, *args], log)


class Floor(Wadofarm):
    """bench.floor's server (`--hop`: with a worker round trip per request) on a free port."""

    probe = "/wado"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "bench.floor", "--port", str(self.port), *self.args]
