"""wrk (Debian's `wrk`) as the load generator of a closed-loop row: the same request targets as
bench.load's closed loop, from a C program that costs a fraction of the Python client's CPU per
request. The routers scenario uses it when it is installed: on 2 cores the Python client's share
would decide how fast 1 and 2 routers look."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.load import Target

PROGRAM = "wrk"
MOST_TARGETS = 1 << 16  # distinct request lines handed to wrk; it cycles through them

# Each thread formats the requests once, sends them in turn and at the end prints one JSON line.
SCRIPT = """
local requests = {}
local i = 0
function init(args)
  for line in io.lines(args[1]) do requests[#requests + 1] = wrk.format("GET", line) end
end
function request()
  i = i + 1
  if i > #requests then i = 1 end
  return requests[i]
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, "errors": %d, "status_errors": %d, '
    .. '"p50_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d}\\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
"""


@dataclass(frozen=True, slots=True)
class WrkOutcome:
    requests: int  # answered with a 2xx or 3xx
    errors: int  # other statuses, resets, time-outs
    elapsed: float
    body_bytes: int  # every answer's bytes, headers included (wrk counts them so)
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    cpu_seconds: float  # wrk's own user + system CPU


def available() -> bool:
    return shutil.which(PROGRAM) is not None


def drive(port: int, target: Target, connections: int, duration: float) -> WrkOutcome:
    """One thread, `connections` keep-alive connections, for `duration` seconds (bounded: wrk
    stops at its deadline; a hung wrk is killed after twice that)."""
    with tempfile.TemporaryDirectory(prefix="wadofarm-wrk-") as folder:
        paths = Path(folder, "targets")
        lines = (target(i, 0, i).decode() for i in range(MOST_TARGETS))
        paths.write_text("\n".join(lines) + "\n")
        script = Path(folder, "targets.lua")
        script.write_text(SCRIPT)
        command = [
            PROGRAM,
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(duration))}s",
            "--timeout",
            "30s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
            "--",
            str(paths),
        ]
        wrk = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 2 * duration + 30
        while True:  # wait4, not poll: the finished child's rusage is its CPU
            pid, status, usage = os.wait4(wrk.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                wrk.kill()
                pid, status, usage = os.wait4(wrk.pid, 0)
                break
            time.sleep(0.05)
        wrk.returncode = os.waitstatus_to_exitcode(status)
        out, err = wrk.communicate()
    cpu = usage.ru_utime + usage.ru_stime
    summary = next((line for line in out.decode().splitlines() if line.startswith("{")), None)
    if summary is None:
        raise RuntimeError(f"wrk printed no summary: {out[-500:]!r} {err[-500:]!r}")
    s = json.loads(summary)
    return WrkOutcome(
        requests=s["requests"] - s["status_errors"],
        errors=s["errors"] + s["status_errors"],
        elapsed=s["duration_us"] / 1e6,
        body_bytes=s["bytes"],
        p50_ms=s["p50_us"] / 1000,
        p95_ms=s["p95_us"] / 1000,
        p99_ms=s["p99_us"] / 1000,
        max_ms=s["max_us"] / 1000,
        cpu_seconds=cpu,
    )
