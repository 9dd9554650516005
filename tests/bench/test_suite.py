"""The benchmark suite runs end to end: a tiny series, one scenario, one concurrency, both
servers, closed and open loop, and writes its JSON, Markdown (keeping hand-written notes) and
plot. The figures themselves are not judged here: that is what BENCHMARKS.md is for."""

from __future__ import annotations

import json
from pathlib import Path

from tests.bench.run import run_bench
from tests.support.tools import missing, require_program

PLUGINS = Path("/usr/share/orthanc/plugins")


def test_the_suite_runs_against_both_servers(tmp_path: Path) -> None:
    require_program("Orthanc")
    for plugin in ("libOrthancDicomWeb.so", "libOrthancGdcm.so"):
        if not (PLUGINS / plugin).exists():
            missing(f"the Orthanc plugin {plugin} is not installed")
    benchmarks = tmp_path / "BENCHMARKS.md"
    benchmarks.write_text(
        "old table\n<!-- notes: everything below this line is kept when the "
        "suite rewrites the file -->\nhand-written notes\n"
    )
    run_bench(
        "run",
        "--slices", "4",
        "--scenarios", "cold_thumbnails",
        "--concurrency", "2",
        "--duration", "0.5",
        "--warmup", "0.1",
        "--rate-scale", "0.05",  # 20 requests/s open loop
        "--ceiling-seconds", "0.1",
        "--cache", str(tmp_path / "cache"),
        "--out", str(tmp_path / "out"),
        "--markdown", str(benchmarks),
        timeout=120,
    )  # fmt: skip

    results = json.loads((tmp_path / "out" / "latest.json").read_text())
    points = {(p["server"], p["mode"]): p for p in results["points"]}
    assert set(points) == {(s, m) for s in ("wadofarm", "orthanc") for m in ("closed", "open")}
    for point in points.values():
        assert point["requests"] > 0 and point["errors"] == 0, point
        assert 0 < point["p50_ms"] <= point["p99_ms"] <= point["max_ms"]
    assert points["wadofarm", "closed"]["mean_bytes"] < points["orthanc", "closed"]["mean_bytes"]
    assert points["orthanc", "closed"]["cpu_ms"]["orthanc"] > 0
    assert results["ceilings"]["cold_thumbnails"]["cpu_ms"] > 0

    text = benchmarks.read_text()
    assert "old table" not in text and text.endswith("hand-written notes\n")
    assert "| cold_thumbnails | 2 |" in text
    assert "--scenarios cold_thumbnails" in text  # the command that made it


def test_the_routers_scenario_runs(tmp_path: Path) -> None:
    """1 and 2 routers, hot and cold, each a fresh server, and the same through DICOMweb with
    one router: CPU by role, the hit rate, the table and its targets."""
    require_program("Orthanc")
    require_program("wrk")  # drives the floor rows
    benchmarks = tmp_path / "BENCHMARKS.md"
    run_bench(
        "run",
        "--slices", "4",
        "--scenarios", "routers",
        "--concurrency", "2",
        "--duration", "0.5",
        "--warmup", "0.2",
        "--no-open-loop",
        "--cache", str(tmp_path / "cache"),
        "--out", str(tmp_path / "out"),
        "--markdown", str(benchmarks),
        timeout=300,
    )  # fmt: skip

    results = json.loads((tmp_path / "out" / "latest.json").read_text())
    points = {(p["scenario"], p["routers"]): p for p in results["points"]}
    floors = {key: points.pop(key) for key in [("floor_bare", 1), ("floor_hop", 1)]}
    assert set(points) == {(s, n) for s in ("routers_hot", "routers_cold") for n in (1, 2)} | {
        ("routers_hot_dicomweb", 1),
        ("routers_cold_dicomweb", 1),
    }
    for (name, _), floor in floors.items():  # wrk drives them (the CI machine has it)
        assert floor["requests"] > 0 and floor["errors"] == 0, floor
        assert floor["cpu_ms"]["router floor"] > 0 and floor["cpu_ms"]["client"] > 0
        assert ("render floor" in floor["cpu_ms"]) == (name == "floor_hop")
    for (_, routers), point in points.items():
        assert point["requests"] > 0 and point["errors"] == 0, point
        cpu = point["cpu_ms"]
        assert cpu["routers"] > 0 and cpu["client"] > 0
        assert {f"router {n}/{routers}" for n in range(1, routers + 1)} <= set(cpu)
        assert {"render 1/2", "render 2/2"} <= set(cpu)  # the bench's 2 workers, shared
        assert "supervisor" in cpu  # always there (issue 23: it reloads and watches)
    assert points["routers_hot", 1]["hit_rate"] > 0.5  # 4 slices: nearly every request hits
    assert points["routers_cold", 2]["hit_rate"] == 0.0  # render cache off
    assert points["routers_hot_dicomweb", 1]["hit_rate"] > 0.5
    assert points["routers_cold_dicomweb", 1]["hit_rate"] == 0.0
    text = benchmarks.read_text()
    assert "## Several routers on one port" in text
    assert "| routers_hot | 2 | 2 |" in text
    assert "render-cache hits with 2 routers >= 1.4x 1 router" in text
    assert "| floor_hop | 1 | 2 |" in text
    for target in ("router CPU <= 0.15 ms per cold", "router CPU <= 0.08 ms per render-cache hit"):
        line = next(line for line in text.splitlines() if line.startswith(f"| {target}"))
        assert "floor, " in line, line  # judged next to the floor measured in the same run
    assert "| render workers + Orthanc's side <= 1.0 ms" in text
    assert "| DICOMweb rendered router CPU per render-cache hit <= /wado's" in text
