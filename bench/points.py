"""Looking up a run's points: one scenario's row at 32 connections, a role's CPU."""

from __future__ import annotations

from typing import Any

CONNECTIONS = 32  # the targets are stated at 32 connections


def find(
    points: list[dict[str, Any]], scenario: str, server: str, connections: int = CONNECTIONS
) -> dict[str, Any] | None:
    candidates = [
        p
        for p in points
        if p["scenario"] == scenario and p["server"] == server and p["mode"] == "closed"
    ]
    if not candidates:
        return None
    exact = [p for p in candidates if p["concurrency"] == connections]
    if exact:
        return exact[0]
    return min(candidates, key=lambda p: abs(p["concurrency"] - connections))


def routers_ms(cpu_ms: dict[str, float]) -> float:
    """Every router's CPU per request ("router": results from before several routers)."""
    return cpu_ms.get("routers", cpu_ms.get("router", 0.0))
