"""A PostgreSQL database that cannot be used is one clear line and a non-zero exit, never a
traceback: the real CLI, as a subprocess, against an unreachable server, a missing database, a
wrong password (a stand-in server that asks for one and refuses it, as PostgreSQL does) and a
schema newer than the code."""

from __future__ import annotations

import os
import socket
import socketserver
import struct
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from tests.conftest import postgres_url

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.DEVNULL,
        check=False,
    )


def assert_one_line(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode != 0
    err = result.stderr.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    for word in words:
        assert word in err, err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_server_is_one_line() -> None:
    port = free_port()  # nothing listens there
    result = cli("token", "list", "--db", f"postgresql://root@127.0.0.1:{port}/test")
    assert_one_line(result, "cannot reach PostgreSQL", f"127.0.0.1:{port}/test")


def _needs_postgres() -> str:
    url = postgres_url()
    if url is None:
        pytest.skip("no PostgreSQL: set CRONAGENTS_TEST_POSTGRES_URL or start one at 127.0.0.1:5432")
    return url


def test_a_missing_database_is_one_line() -> None:
    url = _needs_postgres()
    missing = url.rsplit("/", 1)[0] + "/no_such_db_" + uuid.uuid4().hex[:8]
    result = cli("token", "list", "--db", missing)
    assert_one_line(result, "database does not exist", "no_such_db_")


class _RefusesPassword(socketserver.BaseRequestHandler):
    """Speaks just enough of PostgreSQL's protocol to ask for a password and refuse it."""

    def handle(self) -> None:
        sock = self.request
        length, code = struct.unpack("!ii", _read(sock, 8))
        if code == 80877103:  # SSLRequest: no
            sock.sendall(b"N")
            (length,) = struct.unpack("!i", _read(sock, 4))
            _read(sock, length - 4)
        else:
            _read(sock, length - 8)
        sock.sendall(b"R" + struct.pack("!ii", 8, 3))  # AuthenticationCleartextPassword
        _read(sock, 1)
        (length,) = struct.unpack("!i", _read(sock, 4))
        _read(sock, length - 4)
        fields = b"".join(
            kind + text.encode() + b"\0"
            for kind, text in (
                (b"S", "FATAL"),
                (b"V", "FATAL"),
                (b"C", "28P01"),
                (b"M", 'password authentication failed for user "ann"'),
            )
        )
        sock.sendall(b"E" + struct.pack("!i", len(fields) + 5) + fields + b"\0")


def _read(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


@pytest.fixture
def refusing_server() -> Iterator[int]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _RefusesPassword)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def test_a_wrong_password_is_one_line(refusing_server: int) -> None:
    result = cli("token", "list", "--db", f"postgresql://ann:wrong@127.0.0.1:{refusing_server}/test")
    assert_one_line(result, "refused user ann: wrong password")
    assert "wrong@" not in result.stderr


async def test_a_newer_schema_is_one_line() -> None:
    url = _needs_postgres()
    schema = f"test_{uuid.uuid4().hex[:16]}"
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
        await conn.execute(f'CREATE TABLE "{schema}".cronagents_schema (version INTEGER NOT NULL)')
        await conn.execute(f'INSERT INTO "{schema}".cronagents_schema VALUES (99)')
        result = cli("token", "list", "--db", f"{url}?schema={schema}")
        assert_one_line(result, "schema version 99 is newer than this program", "upgrade cronagents")
        result = cli("serve", "--port", str(free_port()), "--db", f"{url}?schema={schema}")
        assert result.returncode != 0
        assert "Traceback" not in result.stderr
        assert "newer than this program" in result.stderr.strip().splitlines()[-1]
    finally:
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await conn.close()
