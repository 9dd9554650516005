"""External programs the tests need. In CI (CI=true) a missing one fails the test; on a
developer's machine it skips it."""

from __future__ import annotations

import os
import shutil
from typing import NoReturn

import pytest

from bench.procs import free_port  # one port policy for the tests and the bench

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(reason: str) -> NoReturn:
    """Fail in CI, skip elsewhere; in a test, a fixture, or a module being collected."""
    if IN_CI:
        pytest.fail(f"{reason} (required in CI)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def require_program(name: str) -> str:
    # Daemons (nginx) live in /usr/sbin, which a non-login PATH may lack.
    path = shutil.which(name, path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin"]))
    if path is None:
        missing(f"{name} is not installed")
    assert path is not None
    return path


__all__ = ["IN_CI", "free_port", "missing", "require_program"]
