"""The chaos bench, short (issue 23): viewers at work on two routers over a real Orthanc and
Redis while render workers, a router, Orthanc and Redis are killed and the server reloaded.
No image is wrong, nothing is quarantined, and every failure comes within seconds of a fault
that explains it, with images answered again after each. The long run is in BENCHMARKS.md."""

from __future__ import annotations

import json
from pathlib import Path

from bench.chaos import END_MARKER, ONE_OFF, START_MARKER
from bench.report import NOTES_MARKER
from tests.bench.run import run_bench
from tests.support.tools import require_program

# What each fault may cost, at most, in failed requests: a router's requests in flight (one
# per viewer), the renders that needed Orthanc while it was down; nothing for the others.
MAY_FAIL: dict[str, set[str]] = {
    "router": {"reset"},
    "orthanc": {"502", "504", "reset"},
    "redis": set(),
    "sighup": set(),
}


def test_a_short_chaos_run_shows_no_wrong_image_and_recovers_from_every_fault(
    tmp_path: Path,
) -> None:
    for program in ("Orthanc", "redis-server"):
        require_program(program)
    benchmarks = tmp_path / "BENCHMARKS.md"
    benchmarks.write_text(f"suite tables\n{NOTES_MARKER}\nnotes\n")
    run_bench(
        "chaos",
        "--duration", "24",
        "--kill-every", "4",
        "--slices", "6",
        "--connections", "4",
        "--cache", str(tmp_path / "cache"),
        "--out", str(tmp_path / "out"),
        "--markdown", str(benchmarks),
        timeout=180,
    )  # fmt: skip
    results = json.loads((tmp_path / "out" / "chaos-latest.json").read_text())
    print({k: results[k] for k in ("requests", "answered", "failures", "failure_kinds")})
    assert results["wrong"] == []
    assert results["answered"] > 500 and results["checked"] == results["answered"]
    assert results["failures_before_any_fault"] == 0
    assert results["server"].get("wadofarm_quarantined") == 0
    faults = results["faults"]
    assert sorted(f["kind"] for f in faults if f["kind"] != "worker") == sorted(ONE_OFF)
    assert sum(f["kind"] == "worker" for f in faults) >= 5
    for fault in faults:
        assert "not made" not in fault["detail"], fault
        allowed = MAY_FAIL.get(fault["kind"], {"502", "504"})  # a kill that hit a retry too
        assert set(fault["kinds"]) <= allowed, fault
        assert fault["full_service_s"] <= 6.0, fault
        assert fault["answered_after"] > 0, fault
    text = benchmarks.read_text()
    assert text.startswith("suite tables\n") and "notes" in text
    assert text.count(START_MARKER) == 1 and text.count(END_MARKER) == 1
    assert "## Chaos" in text
