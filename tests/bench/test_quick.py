"""`python -m bench quick`: the headline scenarios at the targets' concurrency, into a new folder
it names, never into a tracked file; and every target row says the concurrency its figures
were measured at, whatever the run measured."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.procs import REPO
from bench.report import markdown
from tests.support.tools import require_program


def _tracked_state() -> tuple[str, str]:
    """What git says is changed in the checkout, and BENCHMARKS.md's hash."""
    status = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    benchmarks = hashlib.sha256((REPO / "BENCHMARKS.md").read_bytes()).hexdigest()
    return status, benchmarks


def test_quick_writes_only_to_the_folder_it_names(tmp_path: Path) -> None:
    require_program("Orthanc")
    temp = tmp_path / "tmp"
    temp.mkdir()
    before = _tracked_state()
    done = subprocess.run(
        [sys.executable, "-m", "bench", "quick", "--duration", "0.5", "--cache", str(tmp_path)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "TMPDIR": str(temp)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert _tracked_state() == before  # nothing tracked changed, BENCHMARKS.md least of all
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith(f"results (JSON, Markdown, PNG) are in {temp}/wadofarm-bench-"), last
    folder = Path(last.split(" are in ", 1)[1].split("/: ", 1)[0])
    assert {p.name for p in folder.iterdir()} >= {"latest.json", "latest.md", "latest.png"}
    results = json.loads((folder / "latest.json").read_text())
    measured = {(p["scenario"], p["server"], p["concurrency"]) for p in results["points"]}
    assert measured == {
        (scenario, server, 32)
        for scenario in ("cold_thumbnails", "cold_full", "hot_zipf")
        for server in ("wadofarm", "orthanc")
    }
    assert all(p["errors"] == 0 and p["requests"] > 0 for p in results["points"])
    assert "| cold thumbnails: >= 3x Orthanc req/s | 32 |" in done.stdout


def _point(scenario: str, server: str, connections: int, rps: float) -> dict[str, Any]:
    return {
        "scenario": scenario,
        "server": server,
        "mode": "closed",
        "concurrency": connections,
        "rate": 0.0,
        "rps": rps,
        "p50_ms": 1.0,
        "p95_ms": 2.0,
        "p99_ms": 3.0,
        "max_ms": 4.0,
        "errors": 0,
        "mean_bytes": 3000,
        "load1": 0.5,
        "cpu_ms": {"routers": 0.4, "workers": 1.0, "orthanc": 0.3 if server == "wadofarm" else 4},
    }


def test_every_target_row_names_the_concurrency_it_was_measured_at() -> None:
    """A run at 8 connections only: its rows say 8, and no row claims 32."""
    results = {
        "machine": {"cores": 2, "commit": "x", "started": "now", "cpu": "?", "memory_gib": 1},
        "options": {"slices": 4, "duration": 1, "warmup": 0, "workers": 2},
        "ceilings": {},
        "points": [
            _point("cold_thumbnails", "wadofarm", 8, 900),
            _point("cold_thumbnails", "orthanc", 8, 300),
        ],
    }
    for key in ("kernel", "python"):
        results["machine"][key] = "?"
    text = markdown(results, "python -m bench run --concurrency 8", None)
    rows = [
        line
        for line in text.splitlines()
        if line.startswith("| cold thumbnails") and "not measured" not in line
    ]
    assert rows and all(row.split("|")[2].strip() == "8" for row in rows), rows
    assert "c=32" not in text
    unmeasured = [line for line in text.splitlines() if "not measured" in line]
    assert unmeasured and all(line.split("|")[2].strip() == "-" for line in unmeasured)


def test_the_plot_puts_the_routers_beside_their_floors(tmp_path: Path) -> None:
    """BENCHMARKS.png from a run with every kind of row: drawn, headline first; the routers'
    rows and the floors in their own panels (not a lone dot on a log axis)."""
    from bench.plot import ROUTER_CPU, figure, plot

    points = [
        _point(name, server, c, rps)
        for name in ("cold_thumbnails", "hot_zipf")
        for server, rps in (("wadofarm", 900.0), ("orthanc", 300.0))
        for c in (8, 32)
    ]
    for scenario, routers, rps in (
        ("routers_hot", 1, 7000.0),
        ("routers_hot", 2, 11000.0),
        ("routers_cold", 1, 800.0),
        ("routers_cold", 2, 1000.0),
        ("floor_bare", 1, 25000.0),
        ("floor_hop", 1, 5000.0),
    ):
        points.append({**_point(scenario, "wadofarm", 32, rps), "routers": routers})
    assert {row[1] for row in ROUTER_CPU} == {"routers_hot", "routers_cold"}
    assert {row[3] for row in ROUTER_CPU} == {"floor_bare", "floor_hop"}
    results = {"points": points, "machine": {"cores": 2}}
    path = tmp_path / "plot.png"
    assert plot(results, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    axes = figure(results).axes
    assert axes[0].get_title().startswith("Throughput, wadofarm ÷ Orthanc's /wado")
    headline = [bar.get_width() for bar in axes[0].patches]
    assert headline == [3.0, 3.0]  # 900 ÷ 300 at 32 connections, per scenario
    assert axes[-2].get_title() == "1 against 2 routers, same workers"
    heights = sorted(bar.get_height() for bar in axes[-2].patches)
    assert heights == [800.0, 1000.0, 7000.0, 11000.0]
    cpu = axes[-1]
    assert cpu.get_title() == "Router CPU per request, 1 router"
    levels = sorted(float(line.get_segments()[0][0][1]) for line in cpu.collections)
    assert levels == [0.08, 0.15, 0.4, 0.4]  # two targets, two floors beside their bars
