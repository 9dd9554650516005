"""The fetch bench runs end to end against a real Orthanc: every client it measures fetched the
whole file each time (it checks every fetch), and the table names each one. The figures are
judged in renderer/files/http_client.py's docstring, not here."""

from __future__ import annotations

from pathlib import Path

from bench import fetch
from tests.support.tools import require_program


def test_every_client_fetches_the_whole_slice(tmp_path: Path) -> None:
    require_program("Orthanc")
    table = fetch.run(rounds=1, fetches=3, cache=tmp_path / "cache")
    rows = [line for line in table.splitlines() if line.startswith("| ") and "us)" not in line]
    names = [row.split(" | ")[0].removeprefix("| ") for row in rows]
    assert names[:3] == ["renderer.files.http_client", "http.client", "urllib3"]
    assert "| renderer.files.http_client |" in table and " 1.00x |" in table
    assert all(float(row.split(" | ")[1]) > 0 for row in rows)
