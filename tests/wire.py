"""Talking HTTP/1.1 by hand over a socket, and a ``cronagents serve`` in its own process.

httpx always sends a whole request before it reads the answer; these helpers
read the answer while the body is still going out, send exactly the bytes a
test wants (chunked, a Content-Length it never honours), and measure a
server whose memory is not the test's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from app.server import free_port

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    body_bytes_sent: int = 0
    """How many body bytes the client had written when the answer came."""

    def json(self) -> Any:
        return json.loads(self.body)


def request_head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: test", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def chunked(chunks: Iterable[bytes]) -> Iterator[bytes]:
    for chunk in chunks:
        yield f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    yield b"0\r\n\r\n"


async def exchange(url: str, head: bytes, body: Iterable[bytes] = (), timeout: float = 20) -> RawResponse:
    """Send ``head`` then ``body`` (already framed) while reading the answer; stops sending
    as soon as the answer is complete."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    sent = 0

    async def send() -> None:
        nonlocal sent
        writer.write(head)
        for piece in body:
            writer.write(piece)
            await writer.drain()
            sent += len(piece)

    sender = asyncio.create_task(send())
    try:
        response = await asyncio.wait_for(_read_response(reader), timeout)
        response.body_bytes_sent = sent
        return response
    finally:
        sender.cancel()
        with contextlib.suppress(BaseException):
            await sender
        writer.close()


async def _read_response(reader: asyncio.StreamReader) -> RawResponse:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = await reader.readexactly(length)
    return RawResponse(int(status_line.split()[1]), headers, body)


@dataclass
class ServedProcess:
    url: str
    token: str
    db: Path
    proc: subprocess.Popen[bytes]
    log: Path
    extra: dict[str, Any] = field(default_factory=dict)

    def memory_kib(self, key: str = "VmHWM") -> int:
        """A ``/proc/PID/status`` figure of the server process (VmHWM: peak resident set)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
        raise KeyError(key)


def cli(*args: str, db: Path) -> str:
    """Run ``cronagents ARGS --db DB`` and return its standard output."""
    done = subprocess.run(
        [sys.executable, "-m", "app", *args, "--db", str(db)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


@contextlib.contextmanager
def serve_in_subprocess(tmp_path: Path, *extra_args: str) -> Iterator[ServedProcess]:
    """``cronagents serve`` on a free port with a fresh database and one token."""
    db = tmp_path / "served.db"
    token = cli("token", "create", "--name", "Tony", db=db).strip().splitlines()[-1]
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app",
                "serve",
                "--port",
                str(port),
                "--db",
                str(db),
                "--no-scheduler",
                *extra_args,
            ],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "serve did not come up"
            time.sleep(0.05)
        yield ServedProcess(url, token, db, proc, log)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def aiter_bytes(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk
