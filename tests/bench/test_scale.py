"""The scale scenario runs end to end on a tiny series: one and two nodes behind a real nginx
with a real Redis, both balancings, and writes its JSON and its BENCHMARKS.md section (keeping
the rest of the file). The figures themselves are judged in BENCHMARKS.md, not here."""

from __future__ import annotations

import json
from pathlib import Path

from bench.report import NOTES_MARKER
from bench.scale import END_MARKER, START_MARKER, write_section
from tests.bench.run import run_bench
from tests.support.tools import require_program


def test_scale_runs_one_and_two_nodes_behind_nginx(tmp_path: Path) -> None:
    for name in ("Orthanc", "nginx", "redis-server"):
        require_program(name)
    benchmarks = tmp_path / "BENCHMARKS.md"
    benchmarks.write_text(f"suite tables\n{NOTES_MARKER}\nhand-written notes\n")
    run_bench(
        "scale",
        "--nodes", "1,2",
        "--l2", "redis",
        "--slices", "10",  # 4 UIDs all hashed to one of two nodes in ~1 run of 6
        "--concurrency", "2",
        "--warmup", "0.2",
        "--duration", "0.5",
        "--cache", str(tmp_path / "cache"),
        "--out", str(tmp_path / "out"),
        "--markdown", str(benchmarks),
        timeout=180,
    )  # fmt: skip

    results = json.loads((tmp_path / "out" / "scale-latest.json").read_text())
    rows = {(p["nodes"], p["balance"]) for p in results["points"]}
    assert rows == {(1, "consistent"), (2, "consistent"), (2, "round_robin")}
    for p in results["points"]:
        assert p["requests"] > 0 and p["errors"] == 0, p
        assert abs(sum(p["caches"].values()) - 1) < 0.01, p  # every answer logged by nginx
        assert len([n for n in p["per_node"] if n != "-"]) == p["nodes"], p
        assert 0 < p["p50_ms"] <= p["p99_ms"] <= p["max_ms"]

    text = benchmarks.read_text()
    assert text.startswith("suite tables\n") and "hand-written notes" in text
    assert text.count(START_MARKER) == 1 and "| 2 | round robin | Redis |" in text


def test_the_section_is_replaced_not_repeated(tmp_path: Path) -> None:
    path = tmp_path / "BENCHMARKS.md"
    path.write_text(f"suite\n{NOTES_MARKER}\nnotes\n")
    write_section(path, f"{START_MARKER}\nfirst\n{END_MARKER}\n")
    path.write_text(path.read_text() + "later notes\n")
    write_section(path, f"{START_MARKER}\nsecond\n{END_MARKER}\n")
    text = path.read_text()
    assert "first" not in text and text.count("second") == 1
    assert text.index("notes") < text.index("second") < text.index("later notes")
    fresh = tmp_path / "NEW.md"
    write_section(fresh, f"{START_MARKER}\nonly\n{END_MARKER}\n")
    assert fresh.read_text().index(NOTES_MARKER) < fresh.read_text().index("only")
