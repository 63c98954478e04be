"""What a run says: SDK messages as JSON events, the final result, secrets redacted, sizes bounded.

Every event a run emits and the run's output go through here: secret values
from the environment are replaced by ``[REDACTED]``, then every string is cut
to OUTPUT_LIMIT_BYTES (1 MiB of UTF-8) followed by ``CUT_MARK`` (see
:func:`cut_text`), so one huge model reply cannot swell the database, the
event stream or the dashboard.

A run that fails for want of credentials says what to do: the CLI reports
"Not logged in · Please run /login" (no credentials; it fails at once, with
no request) or, from the API, a 401 ("Invalid API key · Fix external API
key"), each with an assistant message whose ``error`` is
``authentication_failed``; the run's output then adds a line naming the fix
(:data:`app.credentials.NO_CREDENTIALS_HINT` or ``REJECTED_CREDENTIALS_HINT``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from claude_agent_sdk import (
    AssistantMessage,
    ResultMessage,
    SystemMessage,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolUseBlock,
    UserMessage,
)

from app.credentials import NO_CREDENTIALS_HINT, REJECTED_CREDENTIALS_HINT
from app.text import CUT_MARK
from app.text import cut_text as _cut_text

__all__ = [
    "AUTH_FAILED",
    "CUT_MARK",
    "OUTPUT_LIMIT_BYTES",
    "REDACTED",
    "Redactor",
    "SessionResult",
    "auth_failure",
    "credentials_hint",
    "cut_text",
    "map_result",
    "message_events",
    "result_tokens",
]

REDACTED = "[REDACTED]"
SECRET_NAME_RE = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH", re.I)
MIN_SECRET_LEN = 6
OUTPUT_LIMIT_BYTES = 1 << 20
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
AUTH_FAILED = "authentication_failed"  # the CLI's error tag when credentials are missing or refused
NOT_LOGGED_IN = "Not logged in"  # the start of its result when there are none


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
# Size


def cut_text(text: str, limit: int = OUTPUT_LIMIT_BYTES) -> str:
    """:func:`app.text.cut_text`, at the transcript's limit by default."""
    return _cut_text(text, limit)


def cut_deep(value: Any) -> Any:
    """cut_text applied to every string in a JSON-like value."""
    if isinstance(value, str):
        return cut_text(value)
    if isinstance(value, dict):
        return {k: cut_deep(v) for k, v in value.items()}
    if isinstance(value, list):
        return [cut_deep(v) for v in value]
    return value


# --------------------------------------------------------------------------
# Secrets


class Redactor:
    """Replaces the values of secret-looking environment variables in strings."""

    def __init__(self, *envs: Mapping[str, str], secrets: Iterable[str] = ()) -> None:
        """``envs``: variables redacted when their names look secret; ``secrets``: values redacted
        whatever they are called (an agent's own secrets)."""
        values: set[str] = {value for value in secrets if self._worth_redacting(value)}
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
                events.append({"type": "tool_use", "id": block.id, "name": block.name, "input": block.input})
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
# Credentials


def auth_failure(msg: Any) -> bool:
    """Whether an SDK message says the run's credentials are missing or were refused: the
    CLI's assistant message tagged ``authentication_failed``, or an API retry after a 401."""
    if isinstance(msg, AssistantMessage):
        return msg.error == AUTH_FAILED
    if isinstance(msg, SystemMessage) and msg.subtype == "api_retry":
        return msg.data.get("error") == AUTH_FAILED or msg.data.get("error_status") == 401
    return False


def credentials_hint(msg: ResultMessage, auth_failed: bool = False) -> str | None:
    """What to do when an error result comes from missing or refused credentials, else None.
    ``auth_failed``: an earlier message of the run was an :func:`auth_failure`."""
    if not msg.is_error:
        return None
    if msg.api_error_status == 401:
        return REJECTED_CREDENTIALS_HINT
    if auth_failed or (msg.result or "").startswith(NOT_LOGGED_IN):
        return NO_CREDENTIALS_HINT
    return None


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


def map_result(msg: ResultMessage, redactor: Redactor, auth_failed: bool = False) -> SessionResult:
    """The run's result from the SDK's; ``auth_failed``: see :func:`credentials_hint`."""
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
        hint = credentials_hint(msg, auth_failed)
        base.output = f"{why}\n{hint}" if hint else why
    base.output = cut_text(redactor.text(base.output))
    return base
