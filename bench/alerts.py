"""Alerts benchmark: a failed run's signed webhook, and 1,000 agents failing at one instant.

Run: ``python bench/alerts.py`` (about 6 minutes), or ``--quick`` (a few
runs and 50 agents, about 40 seconds; the test suite runs it so it cannot rot).
``--only latency`` / ``--only storm`` runs one part.

Every party is its own process on 127.0.0.1 (``bench/_alerts_server.py``,
``bench/_alerts_peers.py``): the product's ``Server`` (runner, settling,
alerts, the deliverer, SQLite in a file); a webhook receiver that stamps each
request's arrival with the wall clock and verifies its Standard Webhooks
signature with the ``standardwebhooks`` library; the fake Messages API of the
tests; a second API client. This process only drives and counts.

1. **Run finished → webhook received.** Agents whose prompt makes the fake API
   ask for a tool forever, with ``maxTurns`` 1: each run is a real Claude Code
   CLI process that ends ``error_max_turns`` (about a second). ``--lanes``
   runs go at once, each started when the previous one's webhook came. The
   latency of a run is the receiver's arrival stamp minus the server's stamp
   of its ``run.finished`` event (published right after the transaction that
   records the end). Baseline: signed POSTs of a bare httpx client in this
   process to the same receiver, one at a time (the floor of HTTP + signing
   + verifying on this machine).
2. **1,000 agents failing at one instant.** 1,000 agents ``* * * * *``
   (``startingDeadlineSeconds`` null, alerts on failure to one webhook
   channel), made through the API; then a server with the real scheduler, its
   clock shifted so that a minute boundary comes a few seconds after it
   started, and the runner's session replaced by one that fails at once
   (``--instant-failure``: no CLI process; 1,000 CLI processes at once do not
   fit 2 cores). The scheduler claims the 1,000 slots, the runner runs each
   through its run-slot limit (4), records the end, settles it, records the
   alert; the deliverer sends. Measured: from the instant to the last webhook
   received, and that each run's alert came exactly once, signed; meanwhile a
   second client (its own process) ``GET /api/agents`` every ``--api-interval``
   seconds; its p99 during the storm beside its p99 on the idle server just
   before.

Targets (issue 11): p50 < 100 ms, p99 < 500 ms; all 1,000 within 10 s; API
p99 < 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _alerts_passes import latency_pass, storm_pass  # noqa: E402
from _alerts_proc import pct  # noqa: E402

RESULTS = ROOT / "bench" / "results"

# -- report -----------------------------------------------------------------------------------


def fmt(values: list[float]) -> str:
    return f"{pct(values, 0.5):,.1f} / {pct(values, 0.99):,.1f} / {max(values):,.1f}"


def report(args: argparse.Namespace, latency: list[dict[str, Any]], storms: list[dict[str, Any]]) -> str:
    started = datetime.now(UTC)
    out = [
        f"## Alerts benchmark ({started:%Y-%m-%d %H:%M} UTC)\n",
        f"`{' '.join([Path(sys.executable).name, *sys.argv])}`; {os.cpu_count()} CPUs; "
        f"load average before: {args.load_before}; Python {sys.version.split()[0]}.\n",
    ]
    if latency:
        out.append("### Run finished → signed webhook received (ms: p50 / p99 / max)\n")
        out.append(
            "| runs at once | runs | run.finished → received | completedAt → received | "
            "finish → alert recorded | alert recorded → received | baseline: signed POST round trip | "
            "copies | unverified | connections |"
        )
        out.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in latency:
            out.append(
                f"| {r['lanes']} | {r['runs']} | **{fmt(r['latency'])}** | {fmt(r['from completedAt'])} | "
                f"{fmt(r['finish to alert recorded'])} | {fmt(r['alert recorded to received'])} | "
                f"{fmt(r['baseline'])} | {r['copies']} | {r['unverified']} | {r['connections']} |"
            )
        out.append("")
        for r in latency:
            p50, p99 = pct(r["latency"], 0.5), pct(r["latency"], 0.99)
            out.append(
                f"- {r['lanes']} at once: p50 {p50:.1f} ms (target < 100: {verdict(p50 < 100)}), "
                f"p99 {p99:.1f} ms (target < 500: {verdict(p99 < 500)}); every run ended error: "
                f"{r['all error']}; {r['seconds']:.0f} s for the pass."
            )
        out.append("")
    if storms:
        out.append(f"### {storms[0]['agents']:,} agents failing at one instant\n")
        columns = [
            "pass", "failed runs", "webhooks received", "distinct runs", "each failed run once", "copies",
            "unverified", "connections", "sent on 1st try", "first received s", "last run finished s",
            "**last received s**", "server CPU s", "API p50 / p99 / max ms (idle before)", "API during",
            "API non-200",
        ]  # fmt: skip
        out.append("| " + " | ".join(columns) + " |")
        out.append("|" + "|".join("---" if c.startswith("each") else "---:" for c in columns) + "|")
        for i, s in enumerate(storms, 1):
            cells = [
                i, f"{s['failed runs']:,}", f"{s['received']:,}", f"{s['distinct runs received']:,}",
                s["every failed run once"], s["copies"], s["unverified"], f"{s['connections']:,}",
                f"{s['deliveries sent once']:,}", f"{s['first received s']:.3f}",
                f"{s['last finished s']:.3f}", f"**{s['last received s']:.3f}**", f"{s['server cpu s']:.1f}",
                f"{fmt(s['api idle'])} ({len(s['api idle'])})",
                f"{fmt(s['api during'])} ({len(s['api during'])})",
                s["api non-200"],
            ]  # fmt: skip
            out.append("| " + " | ".join(str(c) for c in cells) + " |")
        last = statistics.median(s["last received s"] for s in storms)
        api99 = statistics.median(pct(s["api during"], 0.99) for s in storms)
        ok = all(s["every failed run once"] and not s["copies"] and not s["unverified"] for s in storms)
        out.append(
            f"\nMedian of {len(storms)}: all received {last:.3f} s after the instant (target < 10 s: "
            f"{verdict(last < 10)}); each exactly once and verified: {ok}; `GET /api/agents` p99 during "
            f"it {api99:.1f} ms (target < 100 ms: {verdict(api99 < 100)}).\n"
        )
    return "\n".join(out) + "\n"


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


async def amain(args: argparse.Namespace) -> str:
    latency, storms = [], []
    with tempfile.TemporaryDirectory(prefix="bench-alerts-") as tmp:
        workdir = Path(tmp)
        if args.only in (None, "latency"):
            for lanes in args.lanes:
                latency.append(await latency_pass(args, lanes, workdir))
        if args.only in (None, "storm"):
            for rep in range(args.reps):
                print(f"[storm] pass {rep + 1}/{args.reps}: {args.agents:,} agents", file=sys.stderr)
                storms.append(await storm_pass(args, rep, workdir))
    return report(args, latency, storms)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="5 runs, 50 agents, 1 pass")
    p.add_argument("--only", choices=["latency", "storm"])
    p.add_argument("--runs", type=int, default=200, help="measured runs per latency pass")
    p.add_argument("--lanes", type=int, nargs="+", default=[1, 4], help="runs at once (one pass each)")
    p.add_argument("--agents", type=int, default=1000)
    p.add_argument("--reps", type=int, default=3, help="storm passes")
    p.add_argument("--api-interval", type=float, default=0.05, help="seconds between GET /api/agents")
    p.add_argument("--py-spy", metavar="PREFIX", help="profile each storm server into PREFIX-N.txt")
    args = p.parse_args()
    if args.quick:
        args.runs, args.lanes, args.agents, args.reps = 5, [1], 50, 1
    args.load_before = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    text = asyncio.run(amain(args))
    print(text)
    if not args.quick:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / f"alerts-{datetime.now(UTC):%Y%m%dT%H%M%S}.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
