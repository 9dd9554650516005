"""wadofarm itself, as a real process (`python -m router serve …`) on a free loopback port."""

from __future__ import annotations

from bench import procs
from bench.procs import REPO


class Wadofarm(procs.Wadofarm):
    def wado(self, object_uid: str, **params: object) -> dict[str, object]:
        return {"requestType": "WADO", "objectUID": object_uid, **params}


__all__ = ["REPO", "Wadofarm"]
