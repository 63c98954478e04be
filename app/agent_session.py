"""One agent run through the Claude Agent SDK, independent of storage.

``run_session`` starts the bundled Claude Code CLI through
``claude_agent_sdk.query``, turns every SDK message into a JSON-serialisable
event (secrets redacted), and maps the final ``ResultMessage`` to a
``SessionResult`` (see DESIGN.md, "Running an agent").

Process hygiene: the CLI is started through a tiny wrapper that puts it in a
session (and process group) of its own, and every run carries a unique marker
in its environment, which everything the CLI starts inherits. On timeout,
cancellation, or any other exit, every live process carrying the marker (and
every member of the CLI's process group) gets SIGTERM, then SIGKILL after a
short grace period, before ``run_session`` returns or re-raises. Finding
processes by marker uses ``/proc`` (Linux); elsewhere the process group and the
SDK's own close() are what remain.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import shlex
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import claude_agent_sdk
from claude_agent_sdk import (
    AssistantMessage,
    ClaudeAgentOptions,
    ResultMessage,
    SystemMessage,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolUseBlock,
    UserMessage,
    query,
)
from claude_agent_sdk._internal.transport.subprocess_cli import SubprocessCLITransport

__all__ = ["SessionResult", "SessionSpec", "run_session"]

EventCallback = Callable[[dict[str, Any]], Awaitable[None]]

RUN_MARKER_ENV = "CRONAGENTS_RUN_ID"
REDACTED = "[REDACTED]"
SECRET_NAME_RE = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH", re.I)
MIN_SECRET_LEN = 6
STDERR_LINES_KEPT = 20
TERM_GRACE_SECONDS = 2.0
KILL_WAIT_SECONDS = 3.0
CLOSE_WAIT_SECONDS = 10.0
INIT_KEYS = (
    "model",
    "cwd",
    "tools",
    "permissionMode",
    "session_id",
    "claude_code_version",
    "mcp_servers",
    "apiKeySource",
)


@dataclass(frozen=True)
class SessionSpec:
    prompt: str
    cwd: str  # an existing directory
    max_turns: int = 50
    max_budget_usd: float | None = None
    model: str | None = None
    allowed_tools: tuple[str, ...] = ()
    permission_mode: str = "dontAsk"
    timeout_seconds: float = 1800
    env: Mapping[str, str] = field(default_factory=dict)  # extra env on top of os.environ
    load_project_settings: bool = False


@dataclass
class SessionResult:
    status: str  # "success" | "error" | "budget_exceeded"
    output: str  # final result text, or why it failed (e.g. "timed out after 5 s")
    cost_usd: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    num_turns: int | None = None
    session_id: str | None = None


# --------------------------------------------------------------------------
# Secrets


class Redactor:
    """Replaces the values of secret-looking environment variables in strings."""

    def __init__(self, *envs: Mapping[str, str]) -> None:
        values: set[str] = set()
        for env in envs:
            for name, value in env.items():
                if SECRET_NAME_RE.search(name) and self._worth_redacting(value):
                    values.add(value)
        # Longest first, so a secret containing another is replaced whole.
        self._values = sorted(values, key=len, reverse=True)

    @staticmethod
    def _worth_redacting(value: str) -> bool:
        stripped = value.strip()
        if len(stripped) < MIN_SECRET_LEN or stripped.isdigit():
            return False
        return stripped.lower() not in {"true", "false", "enabled", "disabled"}

    def text(self, value: str) -> str:
        for secret in self._values:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return value

    def deep(self, value: Any) -> Any:
        """Redact every string in a JSON-like value (and make it JSON-safe)."""
        if isinstance(value, str):
            return self.text(value)
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, Mapping):
            return {self.text(str(k)): self.deep(v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self.deep(v) for v in value]
        return self.text(repr(value))


# --------------------------------------------------------------------------
# Messages -> events


def _tool_result_text(content: str | list[dict[str, Any]] | None) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for block in content:
        if isinstance(block, dict) and block.get("type") == "text":
            parts.append(str(block.get("text", "")))
        elif isinstance(block, dict):
            parts.append(f"[{block.get('type', 'content')}]")
        else:
            parts.append(str(block))
    return "\n".join(parts)


def _result_event(msg: ResultMessage) -> dict[str, Any]:
    return {
        "type": "result",
        "subtype": msg.subtype,
        "isError": msg.is_error,
        "costUsd": msg.total_cost_usd,
        "numTurns": msg.num_turns,
        "durationMs": msg.duration_ms,
        "usage": msg.usage,
        "modelUsage": msg.model_usage,
        "result": msg.result,
        "errors": msg.errors,
        "apiErrorStatus": msg.api_error_status,
        "terminalReason": msg.terminal_reason,
        "sessionId": msg.session_id,
    }


def message_events(msg: Any) -> list[dict[str, Any]]:
    """Events for one SDK message (one per content block); unknown types give none."""
    if isinstance(msg, SystemMessage):
        if msg.subtype == "init":
            init = {k: msg.data[k] for k in INIT_KEYS if k in msg.data}
            return [{"type": "system", "subtype": msg.subtype, **init}]
        data = {k: v for k, v in msg.data.items() if k not in ("type", "subtype")}
        return [{"type": "system", "subtype": msg.subtype, "data": data}]
    if isinstance(msg, AssistantMessage):
        events: list[dict[str, Any]] = []
        for block in msg.content:
            if isinstance(block, TextBlock):
                event: dict[str, Any] = {"type": "assistant_text", "text": block.text}
                if msg.error:
                    event["error"] = msg.error
                events.append(event)
            elif isinstance(block, ThinkingBlock):
                events.append({"type": "thinking", "text": block.thinking})
            elif isinstance(block, ToolUseBlock):
                events.append(
                    {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
                )
        return events
    if isinstance(msg, UserMessage):
        if isinstance(msg.content, str):
            return []
        return [
            {
                "type": "tool_result",
                "toolUseId": block.tool_use_id,
                "content": _tool_result_text(block.content),
                "isError": bool(block.is_error),
            }
            for block in msg.content
            if isinstance(block, ToolResultBlock)
        ]
    if isinstance(msg, ResultMessage):
        return [_result_event(msg)]
    return []


# --------------------------------------------------------------------------
# Result mapping


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def result_tokens(msg: ResultMessage) -> tuple[int | None, int | None]:
    """(input, output) tokens of a run.

    Input tokens count everything the model read: ``input_tokens`` plus cache
    creation and cache read tokens. On error results ``usage`` can be all zeros
    while ``model_usage`` (per model) holds the real totals: then those are used.
    """
    usage = msg.usage or {}
    inp = (
        _int(usage.get("input_tokens"))
        + _int(usage.get("cache_creation_input_tokens"))
        + _int(usage.get("cache_read_input_tokens"))
    )
    out = _int(usage.get("output_tokens"))
    if inp or out:
        return inp, out
    if msg.model_usage:
        m_inp = m_out = 0
        for per_model in msg.model_usage.values():
            if not isinstance(per_model, Mapping):
                continue
            m_inp += (
                _int(per_model.get("inputTokens"))
                + _int(per_model.get("cacheReadInputTokens"))
                + _int(per_model.get("cacheCreationInputTokens"))
            )
            m_out += _int(per_model.get("outputTokens"))
        return m_inp, m_out
    return (0, 0) if msg.usage is not None else (None, None)


def map_result(msg: ResultMessage, redactor: Redactor) -> SessionResult:
    inp, out = result_tokens(msg)
    base = SessionResult(
        status="error",
        output="",
        cost_usd=msg.total_cost_usd,
        input_tokens=inp,
        output_tokens=out,
        num_turns=msg.num_turns,
        session_id=msg.session_id,
    )
    errors = "; ".join(e for e in (msg.errors or []) if e)
    if msg.subtype == "success" and not msg.is_error:
        base.status = "success"
        base.output = msg.result or ""
    elif msg.subtype == "error_max_budget_usd":
        base.status = "budget_exceeded"
        base.output = errors or msg.result or "maximum budget exceeded"
    elif msg.subtype == "error_max_turns":
        base.output = errors or msg.result or f"reached maximum number of turns ({msg.num_turns})"
    else:
        why = msg.result or errors or f"run failed ({msg.subtype})"
        if msg.api_error_status and str(msg.api_error_status) not in why:
            why = f"API error {msg.api_error_status}: {why}"
        base.output = why
    base.output = redactor.text(base.output)
    return base


# --------------------------------------------------------------------------
# Process handling


def _bundled_cli() -> str | None:
    name = "claude.exe" if sys.platform == "win32" else "claude"
    bundled = Path(claude_agent_sdk.__file__).parent / "_bundled" / name
    if bundled.is_file():
        return str(bundled)
    return shutil.which("claude")


def _setsid_wrapper(cli: str) -> str:
    """A script that execs the CLI in a new session (same pid, own process group)."""
    script = (
        "#!/bin/sh\n"
        f"exec {shlex.quote(sys.executable)} -I -S -c "
        "'import os, sys; os.setsid(); os.execv(sys.argv[1], sys.argv[1:])' "
        f'{shlex.quote(cli)} "$@"\n'
    )
    digest = hashlib.sha256(script.encode()).hexdigest()[:16]
    directory = Path(tempfile.gettempdir()) / f"cronagents-{os.getuid()}"
    directory.mkdir(mode=0o700, exist_ok=True)
    info = directory.lstat()
    if info.st_uid != os.getuid() or info.st_mode & 0o022 or directory.is_symlink():
        raise OSError(f"{directory} is not a private directory")
    path = directory / f"claude-setsid-{digest}.sh"
    if not path.exists():
        tmp = directory / f".{path.name}.{uuid.uuid4().hex}"
        tmp.write_text(script)
        tmp.chmod(0o700)
        os.replace(tmp, path)
    return str(path)


def _cli_path() -> str | None:
    """The CLI to run (wrapped in its own session on POSIX), or None for the SDK's pick."""
    cli = _bundled_cli()
    if cli is None or os.name != "posix":
        return cli
    try:
        return _setsid_wrapper(cli)
    except OSError:
        return cli


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, pgid) of a process, from /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[0], int(fields[2])


def find_run_processes(marker: str) -> list[int]:
    """Live (non-zombie) processes whose environment carries this run's marker."""
    needle = f"{RUN_MARKER_ENV}={marker}".encode()
    me = os.getpid()
    found: list[int] = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit() or int(entry) == me:
            continue
        pid = int(entry)
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if needle not in environ.split(b"\0"):
            continue
        stat = _proc_stat(pid)
        if stat is not None and stat[0] not in ("Z", "X"):
            found.append(pid)
    return found


def _signal_run(marker: str, sig: signal.Signals) -> list[int]:
    """Send sig to every process of the run (and their own process groups)."""
    pids = find_run_processes(marker)
    pid_set = set(pids)
    for pid in pids:
        stat = _proc_stat(pid)
        # Process groups led by one of ours (the CLI's, via the setsid wrapper).
        if stat is not None and stat[1] in pid_set and stat[1] != os.getpgrp():
            with contextlib.suppress(OSError):
                os.killpg(stat[1], sig)
        with contextlib.suppress(OSError):
            os.kill(pid, sig)
    return pids


def kill_run_sync(marker: str) -> None:
    """Blocking SIGTERM, short wait, then SIGKILL: last resort on a second cancel."""
    if not _signal_run(marker, signal.SIGTERM):
        return
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline and find_run_processes(marker):
        time.sleep(0.05)
    _signal_run(marker, signal.SIGKILL)


async def terminate_run(marker: str) -> None:
    """SIGTERM every process of the run, SIGKILL what is left after a grace period."""
    if not await asyncio.to_thread(_signal_run, marker, signal.SIGTERM):
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TERM_GRACE_SECONDS
    while loop.time() < deadline:
        await asyncio.sleep(0.05)
        if not await asyncio.to_thread(find_run_processes, marker):
            return
    deadline = loop.time() + KILL_WAIT_SECONDS
    while await asyncio.to_thread(_signal_run, marker, signal.SIGKILL):
        if loop.time() > deadline:
            return
        await asyncio.sleep(0.05)


class _ClosingTransport(SubprocessCLITransport):
    """The SDK's subprocess transport, whose close() also closes the CLI's pipes.

    The SDK's close() reaps the CLI but never closes its stdout pipe; when the
    reader stopped before EOF (e.g. on_event raised), the asyncio subprocess
    transport stays open until garbage collection ("Event loop is closed").
    """

    def __init__(self, prompt: str, options: ClaudeAgentOptions) -> None:
        super().__init__(prompt=prompt, options=options)
        # The SDK's close() is not safe to run twice at once; ours and the one
        # from the SDK's generator finalizer can overlap.
        self._close_lock = asyncio.Lock()

    async def close(self) -> None:
        async with self._close_lock:
            process = self._process
            try:
                await super().close()
            finally:
                if process is not None and process.returncode is not None:
                    with anyio.move_on_after(2, shield=True), contextlib.suppress(Exception):
                        await process.aclose()


# --------------------------------------------------------------------------
# The run


class _CallbackError(Exception):
    """Wraps an exception raised by the caller's on_event, to re-raise it as is."""


@dataclass
class _RunState:
    result: SessionResult | None = None
    sdk_error: BaseException | None = None
    stopping: bool = False  # set on timeout/cancel: no more events to the caller


def _options(spec: SessionSpec, marker: str, stderr: Callable[[str], None]) -> ClaudeAgentOptions:
    env = {**spec.env, RUN_MARKER_ENV: marker}
    return ClaudeAgentOptions(
        cwd=spec.cwd,
        max_turns=spec.max_turns,
        max_budget_usd=spec.max_budget_usd,
        model=spec.model,
        allowed_tools=list(spec.allowed_tools),
        permission_mode=spec.permission_mode,  # type: ignore[arg-type]
        env=env,
        # [] = SDK isolation mode: no user/project/local settings (hooks, CLAUDE.md).
        setting_sources=["project", "local"] if spec.load_project_settings else [],
        stderr=stderr,
        cli_path=_cli_path(),
    )


async def _consume(
    spec: SessionSpec,
    options: ClaudeAgentOptions,
    on_event: EventCallback,
    redactor: Redactor,
    state: _RunState,
    marker: str,
) -> None:
    transport = _ClosingTransport(prompt=spec.prompt, options=options)
    messages: AsyncIterator[Any] = query(prompt=spec.prompt, options=options, transport=transport)
    try:
        async for msg in messages:
            if isinstance(msg, ResultMessage) and state.result is None:
                state.result = map_result(msg, redactor)
            for event in message_events(msg):
                if state.stopping:
                    return
                try:
                    await on_event(redactor.deep(event))
                except Exception as exc:
                    state.stopping = True
                    await terminate_run(marker)
                    raise _CallbackError() from exc
    except _CallbackError:
        raise
    except Exception as exc:  # the SDK raises after an error result, or on CLI failure
        state.sdk_error = exc
    finally:
        # Leaving the loop early closes only query()'s outer generator; the SDK's
        # inner one would be closed later by the GC. Close the transport here so
        # the CLI and its pipes are gone now (close() is idempotent).
        aclose = getattr(messages, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()
        with contextlib.suppress(Exception):
            await transport.close()


def _failure_output(exc: BaseException, stderr_tail: deque[str], redactor: Redactor) -> str:
    text = f"Claude Code failed: {type(exc).__name__}: {exc}"
    tail = [line for line in stderr_tail if line.strip()]
    if tail:
        text += "\nstderr:\n" + "\n".join(tail)
    return redactor.text(text)


async def run_session(spec: SessionSpec, on_event: EventCallback) -> SessionResult:
    """Run one agent session; see the module docstring and DESIGN.md."""
    if spec.permission_mode == "bypassPermissions" and hasattr(os, "geteuid") and os.geteuid() == 0:
        return SessionResult(
            status="error",
            output=(
                "permission_mode 'bypassPermissions' is refused by Claude Code when running "
                "as root; use 'dontAsk' with an explicit allowed_tools list"
            ),
        )

    redactor = Redactor(os.environ, spec.env)
    marker = uuid.uuid4().hex
    stderr_tail: deque[str] = deque(maxlen=STDERR_LINES_KEPT)
    options = await asyncio.to_thread(_options, spec, marker, stderr_tail.append)
    state = _RunState()
    consumer = asyncio.create_task(
        _consume(spec, options, on_event, redactor, state, marker),
        name=f"agent-session-{marker[:8]}",
    )

    async def stop_consumer() -> None:
        """Kill the run's processes, then let the SDK close (bounded)."""
        state.stopping = True
        await terminate_run(marker)
        if not consumer.done():
            consumer.cancel()
        await asyncio.wait({consumer}, timeout=CLOSE_WAIT_SECONDS)

    timed_out = False
    try:
        done, _ = await asyncio.wait({consumer}, timeout=spec.timeout_seconds)
        if not done:
            timed_out = True
            await stop_consumer()
    except asyncio.CancelledError:
        try:
            await stop_consumer()
        except asyncio.CancelledError:
            kill_run_sync(marker)
        raise
    finally:
        # Always sweep: nothing the run started may outlive it.
        try:
            await terminate_run(marker)
        except asyncio.CancelledError:
            kill_run_sync(marker)
            raise

    if consumer.done() and not consumer.cancelled():
        exc = consumer.exception()
        if isinstance(exc, _CallbackError) and exc.__cause__ is not None:
            raise exc.__cause__
        if exc is not None:
            raise exc

    if state.result is not None:  # recorded first: a later SDK exception changes nothing
        return state.result
    if timed_out:
        return SessionResult(status="error", output=f"timed out after {spec.timeout_seconds:g} s")
    if state.sdk_error is not None:
        return SessionResult(
            status="error", output=_failure_output(state.sdk_error, stderr_tail, redactor)
        )
    tail = "\n".join(stderr_tail)
    output = "Claude Code ended without a result" + (f"\nstderr:\n{tail}" if tail else "")
    return SessionResult(status="error", output=redactor.text(output))
