"""Run `python -m bench …` from this checkout as a real process, and insist it succeeded."""

from __future__ import annotations

import os
import subprocess
import sys

from bench.procs import REPO


def run_bench(*args: str, timeout: float) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
