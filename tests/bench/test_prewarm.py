"""The prewarm bench runs end to end on a tiny series (one run per mode) against a real Orthanc
and writes its BENCHMARKS.md section; the viewer that comes after the prewarmer finds every
thumbnail cached. The latencies themselves are judged in BENCHMARKS.md, not here."""

from __future__ import annotations

import json
from pathlib import Path

from bench.prewarm import END_MARKER, MODES, START_MARKER, write_section
from bench.report import NOTES_MARKER
from tests.bench.run import run_bench
from tests.support.tools import require_program


def test_prewarm_bench_runs_and_writes_its_section(tmp_path: Path) -> None:
    require_program("Orthanc")
    benchmarks = tmp_path / "BENCHMARKS.md"
    benchmarks.write_text(f"suite tables\n{NOTES_MARKER}\nnotes\n")
    run_bench(
        "prewarm",
        "--slices", "4",
        "--repeat", "1",
        "--cache", str(tmp_path / "cache"),
        "--out", str(tmp_path / "out"),
        "--markdown", str(benchmarks),
        timeout=240,
    )  # fmt: skip
    results = json.loads((tmp_path / "out" / "prewarm-latest.json").read_text())
    points = {p["mode"]: p for p in results["points"]}
    assert set(points) == set(MODES)
    assert all(p["errors"] == 0 and p["requests"] == 5 for p in points.values())
    after = points["on, viewer after prewarm"]
    assert after["cache_hits"] == 5 and after["prewarm_s"] > 0
    assert points["off"]["cache_hits"] == 1  # the series thumbnail is its middle instance's
    text = benchmarks.read_text()
    assert text.startswith("suite tables\n") and "notes" in text
    assert text.count(START_MARKER) == 1 and text.count(END_MARKER) == 1
    write_section(benchmarks, f"{START_MARKER}\nagain\n{END_MARKER}\n")
    again = benchmarks.read_text()
    assert again.count(START_MARKER) == 1 and "again" in again and "| off |" not in again
