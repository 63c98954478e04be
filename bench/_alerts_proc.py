"""Processes of ``bench/alerts.py``: start one, wait for its ``READY <port>``, stop it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
from pathlib import Path
from typing import IO

import httpx

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
POLL_S = 0.02
CLK_TCK = os.sysconf("SC_CLK_TCK")


class Peer:
    """A Python process of the bench (``args`` after the interpreter) that prints ``READY <port> ...``."""

    def __init__(self, name: str, proc: asyncio.subprocess.Process, port: int, log: IO[bytes]) -> None:
        self.name = name
        self.proc = proc
        self.port = port
        self.log = log
        self.ready: list[int] = []
        """What followed the port on the ``READY`` line."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    async def start(
        cls, name: str, args: list[str], env: dict[str, str] | None = None, *, stdin: bool = False
    ) -> Peer:
        log = tempfile.TemporaryFile()
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *args,
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
            env={**os.environ, **(env or {})},
        )
        assert proc.stdout is not None
        line = b""
        with contextlib.suppress(TimeoutError):
            line = await asyncio.wait_for(proc.stdout.readline(), START_TIMEOUT_S)
        peer = cls(name, proc, 0, log)
        if not line.startswith(b"READY "):
            why = peer.stderr()[-3000:]
            await peer.stop()
            raise RuntimeError(f"{name} did not start: {why}")
        peer.port = int(line.split()[1])
        peer.ready = [int(x) for x in line.split()[2:]]
        return peer

    def cpu_seconds(self) -> float:
        """User + system CPU time the process used so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def loop_cpu_seconds(self) -> float:
        """CPU time of the main thread (the event loop) so far."""
        fields = (
            Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        )
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def stderr(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    async def finish(self) -> str:
        """Tell a peer that waits on stdin to end; what it printed then."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(b"stop\n")
        await self.proc.stdin.drain()
        out = await asyncio.wait_for(self.proc.stdout.read(), STOP_TIMEOUT_S)
        await self.proc.wait()
        return out.decode()

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self.proc.returncode not in (0, -15):
            print(f"{self.name} exited {self.proc.returncode}: {self.stderr()[-3000:]}", file=sys.stderr)
        self.log.close()


async def await_results(port: int, received: dict[str, asyncio.Event]) -> None:
    """Set ``received[run_id]`` for each webhook the receiver on ``port`` got (polls it)."""
    seen = 0
    async with httpx.AsyncClient(timeout=30) as client:
        while True:
            records = (await client.get(f"http://127.0.0.1:{port}/results", params={"since": seen})).json()
            seen += len(records)
            for record in records:
                if record["runId"]:
                    received.setdefault(record["runId"], asyncio.Event()).set()
            await asyncio.sleep(POLL_S)


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile (nearest rank; nan when empty)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
