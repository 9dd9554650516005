"""The servers under test as real processes on free loopback ports: a fresh Orthanc (Debian's
package, with the DICOMweb and GDCM plugins) and wadofarm in front of it. Each is stopped by its
PID; nothing is left running."""

from __future__ import annotations

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
from pathlib import Path
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
    method: str, url: str, body: bytes | None = None, timeout: float = 10.0
) -> tuple[int, bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(method, target, body=body)
        reply = conn.getresponse()
        return reply.status, reply.read()
    finally:
        conn.close()


def _wait_ready(process: subprocess.Popen[bytes], url: str, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SetupError(f"{url} exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            if http_request("GET", url, timeout=1)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SetupError(f"{url} did not answer within {timeout:g}s")


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
            "Host": "127.0.0.1",
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
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def config(self) -> dict[str, object]:
        return orthanc_config(self.port, self.workdir / "db", "wadofarm-bench")

    def start(self, timeout: float = 30.0) -> Orthanc:
        binary = shutil.which("Orthanc")
        if binary is None:
            raise SetupError("Orthanc is not installed (apt-get install orthanc)")
        for plugin in ("libOrthancDicomWeb.so", "libOrthancGdcm.so"):
            if not Path(PLUGINS, plugin).exists():
                raise SetupError(
                    f"{plugin} is missing (apt-get install orthanc-dicomweb orthanc-gdcm)"
                )
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "orthanc.json"
        config.write_text(json.dumps(self.config(), indent=1))
        log = self.workdir / "orthanc.log"
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                [binary, str(config)], cwd=self.workdir, stdout=out, stderr=subprocess.STDOUT
            )
        _wait_ready(self.process, self.url + "/system", timeout, log)
        return self

    def version(self) -> str:
        status, body = http_request("GET", self.url + "/system")
        return str(json.loads(body).get("Version", "?")) if status == 200 else "?"

    def upload(self, paths: list[Path]) -> None:
        """POST every file on one keep-alive connection; any refusal stops the run."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            for path in paths:
                conn.request(
                    "POST",
                    "/instances",
                    body=path.read_bytes(),
                    headers={"Content-Type": "application/dicom"},
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
    """`python -m router serve` from this checkout, in front of the given Orthanc."""

    def __init__(self, orthanc_url: str, args: list[str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.orthanc_url = orthanc_url
        self.args = args
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 60.0) -> Wadofarm:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        command = serve_command(
            self.port,
            [
                "--orthanc",
                self.orthanc_url,
                "--no-access-log",
                "--log-level",
                "warning",
                *self.args,
            ],
        )
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        _wait_ready(self.process, self.url + "/healthz", timeout, self.log)
        return self

    def stop(self) -> None:
        _stop(self.process, 20.0)
        self.process = None
