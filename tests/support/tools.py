"""External programs the tests need. In CI (CI=true) a missing one fails the test; on a
developer's machine it skips it."""

from __future__ import annotations

import os
import random
import shutil
import socket

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (required in CI)", pytrace=False)
    pytest.skip(reason)


def require_program(name: str) -> str:
    # Daemons (nginx) live in /usr/sbin, which a non-login PATH may lack.
    path = shutil.which(name, path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin"]))
    if path is None:
        missing(f"{name} is not installed")
    assert path is not None
    return path


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
