"""A fake Anthropic Messages API for running the real Claude Code CLI in tests.

A small Starlette app that speaks the streaming Messages protocol (server-sent
events ``message_start``, ``content_block_start``, ``content_block_delta``,
``content_block_stop``, ``message_delta`` with ``usage``, ``message_stop``),
served by uvicorn in a background thread on 127.0.0.1 with an OS-assigned port.

A reply is scripted by a marker ``[[fake:NAME]]`` anywhere in the request's
messages (default ``plain``):

``plain``          one text reply, "Hello from the fake API." (1 turn)
``tool_use``       a ``Bash`` tool use (``echo hi``), then text once the
                   ``tool_result`` comes back (2 turns)
``endless_tools``  always a tool use (runs into ``max_turns``)
``expensive``      text with a huge ``usage`` (millions of output tokens), so
                   any small ``max_budget_usd`` is exceeded after one turn
``slow``           text streamed very slowly (one delta every 0.5 s for a minute)
``sleep_tool``     a ``Bash`` tool use ``tail -f /dev/null`` (a child to clean up)
``bash``           a ``Bash`` tool use of the command written ``[[command:...]]`` in
                   the prompt, then text once the ``tool_result`` comes back (2 turns)
``tool``           a use of the tool named ``[[tool:NAME]]`` in the prompt (e.g. an MCP
                   server's ``mcp__notes__lookup``) with the JSON input written
                   ``[[input:{...}]]``, then text once the ``tool_result`` comes back
``huge``           one text reply of HUGE_TEXT_BYTES (5 MB), bigger than the SDK's
                   default 1 MiB message buffer
``leak``           text quoting the API key the request was sent with
``http500``        HTTP 500 with an Anthropic-shaped error body
``http401``        HTTP 401 ``authentication_error`` "invalid x-api-key" (the real
                   API's answer to a wrong or revoked key) with
                   ``x-should-retry: false``: the CLI gives up at once
``http401_retry``  the same without ``x-should-retry``: the CLI retries it for minutes

Use the ``fake_anthropic`` fixture: ``.base_url``, ``.requests`` (every request
received, for assertions) and ``.env(tmp_path)`` (environment for a CLI run).
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

MARKER_RE = re.compile(r"\[\[fake:([a-z0-9_]+)\]\]")
COMMAND_RE = re.compile(r"\[\[command:(.*?)\]\]")
TOOL_RE = re.compile(r"\[\[tool:([A-Za-z0-9_\-]+)\]\]")
TOOL_INPUT_RE = re.compile(r"\[\[input:(.*?)\]\]")
PLAIN_TEXT = "Hello from the fake API."
TOOL_DONE_TEXT = "The tool ran. Done."
DUMMY_API_KEY_PREFIX = "sk-ant-fake-"
USAGE_LIMIT_RESET = 4_102_444_800  # 2100-01-01T00:00:00Z: "usage_limit" says the limit resets then
SLOW_DELTA_SECONDS = 0.5
SLOW_TOTAL_SECONDS = 60.0
HUGE_TEXT_BYTES = 5_000_000


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    scenario: str | None = None


@dataclass
class _Reply:
    """What one streamed Messages reply holds."""

    blocks: list[dict[str, Any]]
    stop_reason: str
    input_tokens: int = 20
    output_tokens: int = 10
    delay: float = 0.0  # seconds between text deltas ("slow")


def _scenario(body: Any) -> str:
    """Find the ``[[fake:NAME]]`` marker in the request's messages."""
    messages = body.get("messages", []) if isinstance(body, dict) else []
    found = MARKER_RE.findall(json.dumps(messages))
    return found[-1] if found else "plain"


def _command(body: Any) -> str:
    """The command written ``[[command:...]]`` in the request's messages."""
    found = COMMAND_RE.findall(json.dumps(body.get("messages", [])))
    if not found:
        return "echo no command given"
    command: str = json.loads(f'"{found[0]}"')  # undo json.dumps' escaping
    return command


def _tool_call(body: Any) -> dict[str, Any]:
    """The tool use written ``[[tool:NAME]]`` and ``[[input:{...}]]`` in the request's messages."""
    text = json.dumps(body.get("messages", []))
    name = TOOL_RE.findall(text)[0]
    raw = TOOL_INPUT_RE.findall(text)
    tool_input = json.loads(json.loads(f'"{raw[0]}"')) if raw else {}
    return {"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:24]}", "name": name, "input": tool_input}


def huge_text() -> str:
    """The ``huge`` reply's text: HUGE_TEXT_BYTES of ASCII, with a recognisable end."""
    line = "All work and no play makes Jack a dull boy.\n"
    body = line * (HUGE_TEXT_BYTES // len(line))
    return body + "THE END".rjust(HUGE_TEXT_BYTES - len(body), ".")


def _last_user_has_tool_result(body: dict[str, Any]) -> bool:
    messages = body.get("messages") or []
    if not messages:
        return False
    content = messages[-1].get("content")
    return isinstance(content, list) and any(
        isinstance(b, dict) and b.get("type") == "tool_result" for b in content
    )


def _tool_use(command: str) -> dict[str, Any]:
    return {
        "type": "tool_use",
        "id": f"toolu_{uuid.uuid4().hex[:24]}",
        "name": "Bash",
        "input": {"command": command, "description": "Run a command"},
    }


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def _reply_for(scenario: str, body: dict[str, Any], api_key: str) -> _Reply:
    # Side requests (titles, summaries, ...) carry no tools: answer them plainly.
    has_tools = bool(body.get("tools"))
    if scenario == "tool_use" and has_tools:
        if _last_user_has_tool_result(body):
            return _Reply([_text(TOOL_DONE_TEXT)], "end_turn")
        return _Reply([_tool_use("echo hi")], "tool_use")
    if scenario == "bash" and has_tools:
        if _last_user_has_tool_result(body):
            return _Reply([_text(TOOL_DONE_TEXT)], "end_turn")
        return _Reply([_tool_use(_command(body))], "tool_use")
    if scenario == "tool" and has_tools:
        if _last_user_has_tool_result(body):
            return _Reply([_text(TOOL_DONE_TEXT)], "end_turn")
        return _Reply([_tool_call(body)], "tool_use")
    if scenario == "huge":
        return _Reply([_text(huge_text())], "end_turn")
    if scenario == "endless_tools" and has_tools:
        return _Reply([_tool_use("echo again")], "tool_use")
    if scenario == "sleep_tool" and has_tools and not _last_user_has_tool_result(body):
        return _Reply([_tool_use("tail -f /dev/null")], "tool_use")
    if scenario == "expensive":
        return _Reply([_text("That was expensive.")], "end_turn", 5_000_000, 5_000_000)
    if scenario == "slow":
        count = int(SLOW_TOTAL_SECONDS / SLOW_DELTA_SECONDS)
        return _Reply([_text("tick " * count)], "end_turn", delay=SLOW_DELTA_SECONDS)
    if scenario == "leak":
        return _Reply([_text(f"The key I was called with is {api_key}.")], "end_turn")
    return _Reply([_text(PLAIN_TEXT)], "end_turn")


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


async def _stream(reply: _Reply, model: str) -> AsyncIterator[bytes]:
    message_id = f"msg_{uuid.uuid4().hex[:24]}"
    yield _sse(
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {
                    "input_tokens": reply.input_tokens,
                    "output_tokens": 1,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 0,
                },
            },
        },
    )
    yield _sse("ping", {"type": "ping"})
    for index, block in enumerate(reply.blocks):
        if block["type"] == "text":
            yield _sse(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "text", "text": ""},
                },
            )
            text = block["text"]
            if reply.delay:
                pieces = [p + " " for p in text.split()]
            else:
                pieces = [text[: len(text) // 2], text[len(text) // 2 :]]
            for piece in pieces:
                if reply.delay:
                    await asyncio.sleep(reply.delay)
                yield _sse(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "text_delta", "text": piece},
                    },
                )
        else:  # tool_use
            yield _sse(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {
                        "type": "tool_use",
                        "id": block["id"],
                        "name": block["name"],
                        "input": {},
                    },
                },
            )
            raw = json.dumps(block["input"])
            for piece in (raw[: len(raw) // 2], raw[len(raw) // 2 :]):
                yield _sse(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "input_json_delta", "partial_json": piece},
                    },
                )
        yield _sse("content_block_stop", {"type": "content_block_stop", "index": index})
    yield _sse(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": reply.stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": reply.output_tokens},
        },
    )
    yield _sse("message_stop", {"type": "message_stop"})


def _error(status: int, kind: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"type": "error", "error": {"type": kind, "message": message}},
        status_code=status,
        headers={"request-id": f"req_{uuid.uuid4().hex[:24]}"},
    )


class FakeAnthropic:
    """The fake API server: start() in a background thread, stop() at the end."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.app = Starlette(
            routes=[
                Route("/v1/messages", self._messages, methods=["POST"]),
                Route("/v1/messages/count_tokens", self._count_tokens, methods=["POST"]),
                Route(
                    "/{path:path}",
                    self._other,
                    methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
                ),
            ]
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def messages_requests(self, scenario: str | None = None) -> list[RecordedRequest]:
        return [
            r
            for r in self.requests
            if r.path == "/v1/messages" and (scenario is None or r.scenario == scenario)
        ]

    # -- handlers ---------------------------------------------------------

    async def _record(self, request: Request) -> RecordedRequest:
        raw = await request.body()
        body: Any
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        recorded = RecordedRequest(request.method, request.url.path, dict(request.headers), body)
        self.requests.append(recorded)
        return recorded

    async def _messages(self, request: Request) -> Response:
        recorded = await self._record(request)
        body = recorded.body
        if not isinstance(body, dict):
            return _error(400, "invalid_request_error", "body must be a JSON object")
        scenario = recorded.scenario = _scenario(body)
        if scenario == "http500":
            return _error(500, "api_error", "Internal server error (fake)")
        if scenario == "usage_limit":
            # What a Claude subscription's API answers past its usage limit.
            limited = _error(429, "rate_limit_error", f"Claude AI usage limit reached|{USAGE_LIMIT_RESET}")
            limited.headers["anthropic-ratelimit-unified-status"] = "rejected"
            limited.headers["anthropic-ratelimit-unified-reset"] = str(USAGE_LIMIT_RESET)
            limited.headers["x-should-retry"] = "false"
            return limited
        if scenario in ("http401", "http401_retry"):
            refused = _error(401, "authentication_error", "invalid x-api-key")
            if scenario == "http401":
                refused.headers["x-should-retry"] = "false"
            return refused
        api_key = request.headers.get("x-api-key", "")
        reply = _reply_for(scenario, body, api_key)
        model = str(body.get("model") or "claude-sonnet-4-5")
        if body.get("stream"):
            return StreamingResponse(
                _stream(reply, model),
                media_type="text/event-stream",
                headers={"cache-control": "no-cache", "request-id": f"req_{uuid.uuid4().hex[:24]}"},
            )
        return JSONResponse(
            {
                "id": f"msg_{uuid.uuid4().hex[:24]}",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": reply.blocks,
                "stop_reason": reply.stop_reason,
                "stop_sequence": None,
                "usage": {
                    "input_tokens": reply.input_tokens,
                    "output_tokens": reply.output_tokens,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 0,
                },
            }
        )

    async def _count_tokens(self, request: Request) -> Response:
        await self._record(request)
        return JSONResponse({"input_tokens": 42})

    async def _other(self, request: Request) -> Response:
        await self._record(request)
        return _error(404, "not_found_error", f"{request.url.path} is not faked")

    # -- lifecycle --------------------------------------------------------

    def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            lifespan="off",
            ws="none",
            http="h11",
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        server = self._server
        self._thread = threading.Thread(
            target=lambda: server.run(sockets=[sock]), name="fake-anthropic", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("fake Anthropic API did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)

    def env(self, tmp_path: Path) -> dict[str, str]:
        """Environment for one CLI run against this server, isolated in tmp_path."""
        home = tmp_path / "home"
        config_dir = tmp_path / "claude-config"
        home.mkdir(parents=True, exist_ok=True)
        config_dir.mkdir(parents=True, exist_ok=True)
        return {
            "ANTHROPIC_BASE_URL": self.base_url,
            "ANTHROPIC_API_KEY": DUMMY_API_KEY_PREFIX + uuid.uuid4().hex,
            "HOME": str(home),
            "CLAUDE_CONFIG_DIR": str(config_dir),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "XDG_STATE_HOME": str(home / ".local" / "state"),
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_AUTOUPDATER": "1",
            "DISABLE_TELEMETRY": "1",
            "DISABLE_ERROR_REPORTING": "1",
            "DISABLE_BUG_COMMAND": "1",
            "DISABLE_COST_WARNINGS": "1",
            "CLAUDE_CODE_ENABLE_TELEMETRY": "0",
            # No proxy may divert the loopback connection.
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }


@pytest.fixture(scope="session")
def fake_anthropic() -> Iterator[FakeAnthropic]:
    server = FakeAnthropic()
    server.start()
    try:
        yield server
    finally:
        server.stop()


__all__ = [
    "HUGE_TEXT_BYTES",
    "PLAIN_TEXT",
    "TOOL_DONE_TEXT",
    "FakeAnthropic",
    "RecordedRequest",
    "fake_anthropic",
    "huge_text",
]
