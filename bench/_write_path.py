"""The write-path workload of ``bench/api.py``: concurrent clients creating and reading agents.

Each of ``clients`` clients keeps one HTTP/1.1 keep-alive connection (a raw
asyncio client, as ``_load.py``'s, so the generator costs little CPU) and
repeats, until ``creates`` agents were created in all:

1. ``POST /api/agents`` a new agent;
2. ``GET /api/agents/{id}`` the agent it just created;
3. ``PATCH /api/agents/{id}`` its description;
4. ``GET /api/agents`` (and looks for the new id in the list);
5. ``GET /api/agents/stats?period=7d``.

Every answer is counted: latency per operation, any non-2xx status, and
specifically a 404 (or an absence from the list) for an agent whose create
was already acknowledged — a committed write another read did not see.
After the load, one more ``GET /api/agents`` counts the agents listed, and
among them those whose create was answered with an error (a "ghost": the
client was told it failed, yet the agent exists and will run).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field

OPERATIONS = ("create", "get", "patch", "list", "stats")
REQUEST_TIMEOUT_SECONDS = 30.0


@dataclass
class WritePathResult:
    clients: int
    seconds: float
    latencies_ms: dict[str, list[float]] = field(default_factory=lambda: {op: [] for op in OPERATIONS})
    statuses: dict[str, Counter[int]] = field(default_factory=lambda: {op: Counter() for op in OPERATIONS})
    created: int = 0
    """Creates answered 200."""
    ghost_creates: int = 0
    """Creates answered with an error whose agent exists all the same (listed after the load)."""
    stale_404: int = 0
    """Reads (get, patch) of an acknowledged agent answered 404."""
    missing_from_list: int = 0
    """Lists right after an acknowledged create that did not contain it."""
    transport_errors: int = 0
    listed_after: int = 0
    """Agents of this run (acknowledged or not) in ``GET /api/agents`` after the load."""

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.latencies_ms.values())

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def non_2xx(self, op: str | None = None) -> int:
        ops = [op] if op else OPERATIONS
        return sum(n for o in ops for status, n in self.statuses[o].items() if not 200 <= status < 300)

    @property
    def errors(self) -> int:
        """Everything that is not a correct answer."""
        return self.non_2xx() + self.missing_from_list + self.transport_errors


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Connection:
    """One keep-alive HTTP/1.1 connection; answers must carry ``Content-Length``."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port = host, port
        self.auth = f"Authorization: Bearer {token}\r\n"
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: object = None) -> tuple[int, bytes]:
        async with asyncio.timeout(REQUEST_TIMEOUT_SECONDS):  # a hung server ends the bench
            return await self._request(method, path, body)

    async def _request(self, method: str, path: str, body: object) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{self.auth}"
        payload = b""
        if body is not None:
            payload = json.dumps(body).encode()
            head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        self.writer.write((head + "\r\n").encode() + payload)
        answer = await self.reader.readuntil(b"\r\n\r\n")
        status = int(answer[9:12])
        length = 0
        for line in answer.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
                break
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass


async def _client(
    n: int, conn: Connection, quota: list[int], result: WritePathResult, refused: set[str]
) -> None:
    async def call(op: str, method: str, path: str, body: object = None) -> tuple[int, bytes]:
        t0 = time.perf_counter()
        status, payload = await conn.request(method, path, body)
        result.latencies_ms[op].append((time.perf_counter() - t0) * 1000)
        result.statuses[op][status] += 1
        return status, payload

    i = 0
    while quota[0] > 0:
        quota[0] -= 1
        i += 1
        name = f"write path {n:02d}-{i:04d}"
        status, payload = await call(
            "create",
            "POST",
            "/api/agents",
            {
                "name": name,
                "schedule": "*/30 * * * *",
                "prompt": "Summarize what changed since the last run.",
                "enabled": True,
            },
        )
        if status != 200:
            refused.add(name)
            continue
        agent_id = json.loads(payload)["data"]["id"]
        result.created += 1
        status, _ = await call("get", "GET", f"/api/agents/{agent_id}")
        result.stale_404 += status == 404
        status, _ = await call(
            "patch", "PATCH", f"/api/agents/{agent_id}", {"description": f"patched by client {n}"}
        )
        result.stale_404 += status == 404
        status, payload = await call("list", "GET", "/api/agents")
        result.missing_from_list += status == 200 and f'"{agent_id}"'.encode() not in payload
        await call("stats", "GET", "/api/agents/stats?period=7d")


async def write_path(host: str, port: int, token: str, clients: int, creates: int) -> WritePathResult:
    result = WritePathResult(clients=clients, seconds=0.0)
    conns = [Connection(host, port, token) for _ in range(clients)]
    quota = [creates]
    refused: set[str] = set()
    t0 = time.perf_counter()
    outcomes = await asyncio.gather(
        *(_client(n, c, quota, result, refused) for n, c in enumerate(conns)), return_exceptions=True
    )
    result.seconds = time.perf_counter() - t0
    result.transport_errors = sum(isinstance(o, BaseException) for o in outcomes)
    for conn in conns:
        await conn.close()
    check = Connection(host, port, token)
    try:
        status, payload = await check.request("GET", "/api/agents")
        names = {a["name"] for a in json.loads(payload)["data"]} if status == 200 else set()
        result.listed_after = sum(name.startswith("write path ") for name in names)
        result.ghost_creates = len(refused & names)
    finally:
        await check.close()
    return result


def run_write_path(host: str, port: int, token: str, clients: int, creates: int) -> WritePathResult:
    return asyncio.run(write_path(host, port, token, clients, creates))
