"""One agent run through the Claude Agent SDK, independent of storage.

``run_session`` starts the bundled Claude Code CLI through
``claude_agent_sdk.query``, turns every SDK message into a JSON-serialisable
event, and maps the final ``ResultMessage`` to a ``SessionResult`` (see
docs/design.md, "How a run maps to the Claude Agent SDK"). What events and results hold (secrets
redacted, strings cut at 1 MiB) is :mod:`app.session_events`.

Process hygiene (:mod:`app.processes`): the CLI runs under a supervisor that
ends it and everything it started when the server dies, and every run
carries a unique marker in its environment (plus the caller's ``labels``),
which everything the CLI starts inherits. On timeout, cancellation, or any
other exit, every live process carrying the marker (and every member of the
process groups they lead) gets SIGTERM, then SIGKILL after a short grace
period, before ``run_session`` returns or re-raises.

The CLI is driven through :class:`app.sdk_transport.ClosingTransport`, the one
subclass of the SDK's private ``_internal`` package; the name of the SDK logger
quietened here (SDK_LOGGER) is the other thing taken from it. Both are checked
against the installed SDK by ``tests/test_sdk_transport.py``.

Replies of up to SDK_BUFFER_BYTES per message are read (the SDK's default is
1 MiB). A run that is being stopped (timeout, cancel) makes the SDK report the
CLI's exit as an error; that expected ending is logged at DEBUG in one line.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from claude_agent_sdk import ClaudeAgentOptions, ResultMessage, query

from app.credentials import REJECTED_CREDENTIALS_HINT
from app.processes import (
    DB_ID_ENV,
    RUN_MARKER_ENV,
    SERVER_ID_ENV,
    cli_path,
    kill_run_sync,
    run_env,
    sweep_leftovers,
    terminate_run,
)
from app.sdk_transport import ClosingTransport
from app.session_events import (
    REDACTED,
    Redactor,
    SessionResult,
    auth_failure,
    cut_deep,
    cut_text,
    map_result,
    message_events,
)

__all__ = [
    "DB_ID_ENV",
    "REDACTED",
    "RUN_MARKER_ENV",
    "SERVER_ID_ENV",
    "Redactor",
    "SessionResult",
    "SessionSpec",
    "run_session",
    "sweep_leftovers",
]

EventCallback = Callable[[dict[str, Any]], Awaitable[None]]

STDERR_LINES_KEPT = 20
CLOSE_WAIT_SECONDS = 10.0
SDK_BUFFER_BYTES = 32 << 20  # the largest single message (JSON line) read from the CLI
SDK_LOGGER = "claude_agent_sdk._internal.query"


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
    # The agent's own secrets: in the environment too, and redacted whatever their names.
    secrets: Mapping[str, str] = field(default_factory=dict)
    # Markers every process of the run carries (e.g. DB_ID_ENV, SERVER_ID_ENV),
    # to find them later (see app.processes.sweep_leftovers).
    labels: Mapping[str, str] = field(default_factory=dict)
    load_project_settings: bool = False
    # MCP servers in the SDK's format; Claude Code expands ${NAME} in them from the run's environment.
    mcp_servers: Mapping[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------
# The run


class _CallbackError(Exception):
    """Wraps an exception raised by the caller's on_event, to re-raise it as is."""


@dataclass
class _RunState:
    result: SessionResult | None = None
    sdk_error: BaseException | None = None
    stopping: bool = False  # set on timeout/cancel: no more events to the caller
    auth_failed: bool = False  # a message said the credentials are missing or were refused


# The run whose task (or a task it started, such as the SDK's reader) logs.
_current_run: contextvars.ContextVar[_RunState | None] = contextvars.ContextVar(
    "cronagents_current_run", default=None
)


class _ExpectedEndFilter(logging.Filter):
    """What the SDK logs at WARNING or above while its run is being stopped (timeout,
    cancel) is the expected end of the CLI ("Fatal error in message reader: Command
    failed with exit code 143"): it becomes one DEBUG line, dropped unless the SDK's
    logger is at DEBUG. Records of runs not being stopped pass unchanged."""

    def filter(self, record: logging.LogRecord) -> bool:
        state = _current_run.get()
        if state is None or not state.stopping or record.levelno < logging.WARNING:
            return True
        if not logging.getLogger(record.name).isEnabledFor(logging.DEBUG):
            return False
        first_line = record.getMessage().splitlines()[0] if record.getMessage() else ""
        record.msg, record.args = "run stopped; the SDK reports: %s", (first_line,)
        record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
        record.exc_info = record.exc_text = record.stack_info = None
        return True


def _quiet_expected_ends() -> None:
    logger = logging.getLogger(SDK_LOGGER)
    if not any(isinstance(f, _ExpectedEndFilter) for f in logger.filters):
        logger.addFilter(_ExpectedEndFilter())


_quiet_expected_ends()


def _options(spec: SessionSpec, marker: str, stderr: Callable[[str], None]) -> ClaudeAgentOptions:
    env = {**spec.env, **spec.secrets, **spec.labels, **run_env(marker)}
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
        mcp_servers=dict(spec.mcp_servers),
        # Only the agent's own MCP servers, unless it loads its project's settings.
        strict_mcp_config=not spec.load_project_settings,
        stderr=stderr,
        cli_path=cli_path(),
        max_buffer_size=SDK_BUFFER_BYTES,
    )


async def _consume(
    spec: SessionSpec,
    options: ClaudeAgentOptions,
    on_event: EventCallback,
    redactor: Redactor,
    state: _RunState,
    marker: str,
) -> None:
    _current_run.set(state)  # this task's context, inherited by the SDK's tasks
    transport = ClosingTransport(prompt=spec.prompt, options=options)
    messages: AsyncIterator[Any] = query(prompt=spec.prompt, options=options, transport=transport)
    try:
        async for msg in messages:
            state.auth_failed = state.auth_failed or auth_failure(msg)
            if isinstance(msg, ResultMessage) and state.result is None:
                state.result = map_result(msg, redactor, state.auth_failed)
            for event in message_events(msg):
                if state.stopping:
                    return
                try:
                    await on_event(cut_deep(redactor.deep(event)))
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
    return cut_text(redactor.text(text))


async def run_session(spec: SessionSpec, on_event: EventCallback) -> SessionResult:
    """Run one agent session; see the module docstring and docs/design.md."""
    if spec.permission_mode == "bypassPermissions" and hasattr(os, "geteuid") and os.geteuid() == 0:
        return SessionResult(
            status="error",
            output=(
                "permission_mode 'bypassPermissions' is refused by Claude Code when running "
                "as root; use 'dontAsk' with an explicit allowed_tools list"
            ),
        )

    redactor = Redactor(os.environ, spec.env, secrets=spec.secrets.values())
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
        output = f"timed out after {spec.timeout_seconds:g} s"
        if state.auth_failed:  # e.g. a gateway answering 401 to every retry
            output += f" (the API kept refusing the credentials)\n{REJECTED_CREDENTIALS_HINT}"
        return SessionResult(status="error", output=output)
    if state.sdk_error is not None:
        return SessionResult(status="error", output=_failure_output(state.sdk_error, stderr_tail, redactor))
    tail = "\n".join(stderr_tail)
    output = "Claude Code ended without a result" + (f"\nstderr:\n{tail}" if tail else "")
    return SessionResult(status="error", output=cut_text(redactor.text(output)))
