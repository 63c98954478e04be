"""Whether this process could listen on a host and port, said in one line when it could not.

``cronagents serve`` and the dashboard check before they start, so that a
taken or unusable port is one clear error line (exit status 2) rather than a
traceback or uvicorn's own exit. The check binds as asyncio's ``create_server``
does (every address the host resolves to, ``SO_REUSEADDR``), then lets go.
"""

from __future__ import annotations

import errno
import socket
from typing import NamedTuple

__all__ = ["DEFAULT_PORT", "MAX_PORT", "ListenProblem", "listen_problem", "port_number"]

DEFAULT_PORT = 8787  # the API server's, for `serve` and the dashboard
MAX_PORT = 65535


def port_number(text: str) -> int:
    """A TCP port from the command line (1-65535); ValueError with the reason otherwise."""
    try:
        port = int(text, 10)
    except ValueError:
        raise ValueError(f"{text!r} is not a port number (1-{MAX_PORT})") from None
    if not 1 <= port <= MAX_PORT:
        raise ValueError(f"{port} is not a port number (1-{MAX_PORT})")
    return port


class ListenProblem(NamedTuple):
    reason: str  # what is wrong, in a few words
    fix: str  # which option to change

    def __str__(self) -> str:
        return f"{self.reason}: {self.fix}"


HOST_FIX = "check --host"
PORT_FIX = "pick another with --port"


def listen_problem(host: str, port: int) -> ListenProblem | None:
    """Why listening on ``host:port`` would fail; None when it would work."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        return ListenProblem(f"cannot resolve host {host!r} ({exc})", HOST_FIX)
    except OverflowError:
        return ListenProblem(f"{port} is not a port number (1-{MAX_PORT})", PORT_FIX)
    for family, kind, proto, _, address in dict.fromkeys(infos):
        try:
            with socket.socket(family, kind, proto) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6 and hasattr(socket, "IPV6_V6ONLY"):
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind(address)
                sock.listen()
        except OSError as exc:
            return _bind_error(host, port, exc)
    return None


def _bind_error(host: str, port: int, exc: OSError) -> ListenProblem:
    where = f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return ListenProblem(f"port {port} is taken on {host} (another cronagents running?)", PORT_FIX)
    if exc.errno == errno.EACCES:
        return ListenProblem(
            f"no permission to listen on {where} (ports below 1024 need privileges)", PORT_FIX
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return ListenProblem(f"{host} is not an address of this machine", HOST_FIX)
    return ListenProblem(f"cannot listen on {where}: {exc.strerror or exc}", f"{HOST_FIX} and --port")
