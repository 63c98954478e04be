"""The per-day rollups recounted from runs: the counting both backends share.

A rollup row is ``(agent_id, day, total, success, skipped, cost_usd,
duration_ms_sum, duration_count)``, as in ``daily_agent_stats``; a skipped
run counts only in ``skipped``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from storage.interface import Row

RollupRow = tuple[str, str, int, int, int, float, int, int]


def count_rollups(rows: Iterable[Row], day_of: Callable[[int], str]) -> list[RollupRow]:
    """One rollup row per (agent, day) of finished runs (``agent_id, started_at, status, cost_usd,
    duration_ms``), days by ``day_of``."""
    per_agent: dict[tuple[str, str], list[float]] = {}
    for r in rows:
        key = (r["agent_id"], day_of(r["started_at"]))
        acc = per_agent.setdefault(key, [0, 0, 0, 0.0, 0, 0])
        if r["status"] == "skipped":
            acc[2] += 1
            continue
        acc[0] += 1
        acc[1] += r["status"] == "success"
        acc[3] += r["cost_usd"] or 0.0
        if r["duration_ms"] is not None:
            acc[4] += r["duration_ms"]
            acc[5] += 1
    return [
        (a, d, int(c[0]), int(c[1]), int(c[2]), float(c[3]), int(c[4]), int(c[5]))
        for (a, d), c in per_agent.items()
    ]
