"""A real Orthanc (Debian's package) on a free loopback port with its own storage folder: the
bench's, whose missing program or plugin fails the test in CI and skips it elsewhere."""

from __future__ import annotations

import json
from pathlib import Path
from typing import NoReturn

from bench import procs
from bench.procs import PLUGINS
from tests.support.http import request
from tests.support.tools import missing


class Orthanc(procs.Orthanc):
    def missing(self, reason: str) -> NoReturn:
        missing(reason)

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


__all__ = ["PLUGINS", "Orthanc"]
