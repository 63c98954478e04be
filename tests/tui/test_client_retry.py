"""The dashboard's client sends a read again when the kept-alive connection it reused was closed.

uvicorn closes a connection idle for 5 s; a request sent on it at that moment fails with
a read error although the server is fine (seen: the editor's "The agents could not be
read: ReadError" in the screenshots). A real socket server below closes the first
connection it gets without answering, as such a server does, and answers the next.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from app.client import ApiClient, ApiError

BODY = json.dumps({"data": [{"id": "agt_1", "name": "A"}], "runId": "run_1"}).encode()
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
    len(BODY),
    BODY,
)


@pytest.fixture
async def closing_once() -> AsyncIterator[tuple[str, list[str]]]:
    """A server that drops its first connection unanswered; the request lines it received."""
    seen: list[str] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        seen.append(head.split(b"\r\n", 1)[0].decode())
        length = next(
            (
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            ),
            0,
        )
        await reader.readexactly(length)
        if len(seen) > 1:
            writer.write(ANSWER)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}", seen


async def test_a_read_is_sent_again_on_a_new_connection(closing_once: tuple[str, list[str]]) -> None:
    url, seen = closing_once
    client = ApiClient(url, "token")
    try:
        agents = await client.list_agents()
    finally:
        await client.aclose()
    assert agents == [{"id": "agt_1", "name": "A"}]
    assert seen == ["GET /api/agents HTTP/1.1", "GET /api/agents HTTP/1.1"]


async def test_a_run_is_never_sent_twice(closing_once: tuple[str, list[str]]) -> None:
    url, seen = closing_once
    client = ApiClient(url, "token")
    try:
        with pytest.raises(ApiError) as failed:
            await client.run_agent("agt_1", "hello")
    finally:
        await client.aclose()
    assert failed.value.unreachable
    assert seen == ["POST /api/agents/agt_1/run HTTP/1.1"]
