"""A real nginx (Debian's package) in front of wadofarm nodes, with the shipped deploy/nginx/
configuration (bench.farm changes only the listen address, the node list and the log path)."""

from __future__ import annotations

from pathlib import Path

from bench import farm
from tests.support.tools import require_program


class Nginx(farm.Nginx):
    def __init__(self, workdir: Path, nodes: list[str], *, balance: str = "consistent") -> None:
        super().__init__(workdir, nodes, balance=balance, binary=require_program("nginx"))
