"""wadofarm itself, as a real process (`python -m router serve …`) on a free loopback port."""

from __future__ import annotations

from pathlib import Path

from bench import procs
from bench.procs import REPO

# The suite's servers run one router, whatever the machine's cores (`--routers auto` starts
# more from 8 cores up): what several routers do is tested where a test asks for them
# (`--routers N` wins over the variable; an empty variable is auto again).
ONE_ROUTER = {"WADOFARM_ROUTERS": "1"}


class Wadofarm(procs.Wadofarm):
    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        super().__init__(args, log, {**ONE_ROUTER, **(env or {})})

    def wado(self, object_uid: str, **params: object) -> dict[str, object]:
        return {"requestType": "WADO", "objectUID": object_uid, **params}


__all__ = ["REPO", "Wadofarm"]
