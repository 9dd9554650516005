"""wadofarm itself, as a real process (`python -m router serve …`) on a free loopback port."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from bench.procs import REPO, serve_command
from tests.support.http import get
from tests.support.tools import free_port


class Wadofarm:
    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = args
        self.log = log
        self.env = env or {}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> Wadofarm:
        env = {**os.environ, "PYTHONPATH": str(REPO), **self.env}
        command = serve_command(self.port, self.args)
        out = open(self.log, "ab")  # noqa: SIM115 - lives with the process
        self.process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"wadofarm exited: {self.log_tail()}")
            try:
                if get(self.url + "/healthz", timeout=1).status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"wadofarm did not start in {timeout}s: {self.log_tail()}")

    @property
    def pid(self) -> int:
        assert self.process is not None, "not running"
        return self.process.pid

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        self.process = None

    def wado(self, object_uid: str, **params: object) -> dict[str, object]:
        return {"requestType": "WADO", "objectUID": object_uid, **params}
