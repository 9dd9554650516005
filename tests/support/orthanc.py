"""A real Orthanc (Debian's package) on a free loopback port with its own storage folder."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import time
from pathlib import Path

from bench.procs import PLUGINS, orthanc_config
from tests.support.http import get, request
from tests.support.tools import free_port, require_program


class Orthanc:
    def __init__(
        self,
        workdir: Path,
        *,
        users: dict[str, str] | None = None,
        extra: dict[str, object] | None = None,
    ) -> None:
        self.workdir = workdir
        self.extra = extra or {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # Unique, so wait_ready can tell our Orthanc from another suite's on a reused port.
        self.name = f"wadofarm-test-{os.getpid()}-{self.port}-{time.monotonic_ns()}"
        self.users = users
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def auth_header(self) -> dict[str, str]:
        """Basic credentials of the first user, for the fixture's own calls."""
        if not self.users:
            return {}
        user, password = next(iter(self.users.items()))
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    def config(self) -> dict[str, object]:
        base = orthanc_config(self.port, self.workdir / "db", self.name, self.users)
        return {**base, **self.extra}

    def start(self, timeout: float = 30.0) -> Orthanc:
        binary = require_program("Orthanc")
        if not Path(PLUGINS, "libOrthancDicomWeb.so").exists():
            from tests.support.tools import missing

            missing("the Orthanc DICOMweb plugin (orthanc-dicomweb) is not installed")
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "orthanc.json"
        config.write_text(json.dumps(self.config(), indent=1))
        log = open(self.workdir / "orthanc.log", "ab")  # noqa: SIM115 - lives with the process
        self.process = subprocess.Popen(
            [binary, str(config)], cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT
        )
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"Orthanc exited: {self.log_tail()}")
            try:
                reply = get(self.url + "/system", headers=self.auth_header, timeout=1)
                if reply.status == 200:
                    if json.loads(reply.body).get("Name") != self.name:
                        raise RuntimeError(f"another Orthanc answers on port {self.port}")
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"Orthanc did not start in {timeout}s: {self.log_tail()}")

    def log_tail(self) -> str:
        path = self.workdir / "orthanc.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def stop(self) -> None:
        if self.process is None:
            return
        pid = self.process.pid
        try:
            os.kill(pid, signal.SIGTERM)
            self.process.wait(timeout=15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.kill(pid, signal.SIGKILL)
            self.process.wait(timeout=5)
        self.process = None

    def upload(self, path: Path) -> dict[str, object]:
        return self.upload_bytes(path.read_bytes())

    def upload_bytes(self, data: bytes) -> dict[str, object]:
        reply = request(
            "POST",
            self.url + "/instances",
            body=data,
            headers={"Content-Type": "application/dicom", **self.auth_header},
        )
        answer = json.loads(reply.body or b"{}")
        answer["HttpStatus"] = reply.status
        return answer  # type: ignore[no-any-return]
