"""app.agent_session through the real SDK and bundled CLI, against the fake API."""

# The fixture is imported by name, so test parameters "redefine" it.
# ruff: noqa: F811

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from app.agent_session import (
    DB_ID_ENV,
    REDACTED,
    SERVER_ID_ENV,
    Redactor,
    SessionResult,
    SessionSpec,
    run_session,
    sweep_leftovers,
)
from app.credentials import NO_CREDENTIALS_HINT, REJECTED_CREDENTIALS_HINT
from app.session_events import OUTPUT_LIMIT_BYTES
from tests.fake_anthropic import (
    HUGE_TEXT_BYTES,
    PLAIN_TEXT,
    TOOL_DONE_TEXT,
    FakeAnthropic,
    fake_anthropic,  # noqa: F401
    huge_text,
)
from tests.processes import TAG_ENV, tagged_processes

pytestmark = pytest.mark.slow


class Run:
    """One run_session call: spec, collected events, result, timing."""

    def __init__(
        self, fake: FakeAnthropic, tmp_path: Path, scenario: str, command: str = "", **spec: Any
    ) -> None:
        self.tag = uuid.uuid4().hex
        tmp_path.mkdir(parents=True, exist_ok=True)
        self.env = {**fake.env(tmp_path), TAG_ENV: self.tag, **spec.pop("env", {})}
        workdir = tmp_path / "work"
        workdir.mkdir(exist_ok=True)
        spec.setdefault("allowed_tools", ("Bash", "Read"))
        prompt = f"Please help. [[fake:{scenario}]]" + (f" [[command:{command}]]" if command else "")
        self.spec = SessionSpec(prompt=prompt, cwd=str(workdir), env=self.env, **spec)
        self.events: list[dict[str, Any]] = []
        self.elapsed = 0.0

    async def on_event(self, event: dict[str, Any]) -> None:
        json.dumps(event)  # must be JSON-serialisable
        self.events.append(event)

    async def __call__(self) -> SessionResult:
        start = time.monotonic()
        try:
            return await run_session(self.spec, self.on_event)
        finally:
            self.elapsed = time.monotonic() - start

    def types(self) -> list[str]:
        return [e["type"] for e in self.events]

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind]

    def assert_clean(self) -> None:
        """No secret in any event, no process of the run left."""
        secret = self.env["ANTHROPIC_API_KEY"]
        assert secret not in json.dumps(self.events)
        assert tagged_processes(self.tag) == []

    def assert_framed(self) -> None:
        """System init first, result last."""
        assert self.events[0]["type"] == "system"
        assert self.events[0]["subtype"] == "init"
        assert self.events[-1]["type"] == "result"
        assert self.types().count("result") == 1


async def test_plain_success(fake_anthropic: FakeAnthropic, tmp_path: Path) -> None:
    run = Run(fake_anthropic, tmp_path, "plain")
    result = await run()
    assert result.status == "success", result.output
    assert result.output == PLAIN_TEXT
    assert result.cost_usd is not None and result.cost_usd > 0
    assert result.input_tokens == 20
    assert result.output_tokens == 10
    assert result.num_turns == 1
    assert result.session_id
    run.assert_framed()
    init = run.events[0]
    assert init["cwd"] == run.spec.cwd
    assert "Bash" in init["tools"]
    assert init["model"]
    assert [e["text"] for e in run.of_type("assistant_text")] == [PLAIN_TEXT]
    final = run.events[-1]
    assert final["subtype"] == "success"
    assert final["isError"] is False
    assert final["numTurns"] == 1
    assert final["costUsd"] == result.cost_usd
    assert final["result"] == PLAIN_TEXT
    assert isinstance(final["durationMs"], int)
    assert final["usage"]["output_tokens"] == 10
    run.assert_clean()
    assert run.elapsed < 15


async def test_tool_use_then_text(fake_anthropic: FakeAnthropic, tmp_path: Path) -> None:
    run = Run(fake_anthropic, tmp_path, "tool_use")
    result = await run()
    assert result.status == "success", result.output
    assert result.num_turns == 2
    assert result.output == TOOL_DONE_TEXT
    run.assert_framed()
    types = run.types()
    [tool_use] = run.of_type("tool_use")
    [tool_result] = run.of_type("tool_result")
    assert tool_use["name"] == "Bash"
    assert tool_use["input"]["command"] == "echo hi"
    assert tool_use["id"].startswith("toolu_")
    assert tool_result["toolUseId"] == tool_use["id"]
    assert tool_result["content"].strip() == "hi"
    assert tool_result["isError"] is False
    assert types.index("tool_use") < types.index("tool_result") < types.index("assistant_text")
    # The follow-up request carried the tool result back to the API.
    follow_up = fake_anthropic.messages_requests("tool_use")[-1].body
    assert "tool_result" in json.dumps(follow_up["messages"][-1])
    run.assert_clean()


async def test_endless_tools_hit_max_turns(fake_anthropic: FakeAnthropic, tmp_path: Path) -> None:
    run = Run(fake_anthropic, tmp_path, "endless_tools", max_turns=2)
    result = await run()
    assert result.status == "error"
    assert "turns" in result.output.lower()
    assert result.num_turns is not None and result.num_turns >= 2
    assert run.events[-1]["subtype"] == "error_max_turns"
    assert len(run.of_type("tool_use")) == 2
    run.assert_framed()
    run.assert_clean()


async def test_budget_exceeded(fake_anthropic: FakeAnthropic, tmp_path: Path) -> None:
    run = Run(fake_anthropic, tmp_path, "expensive", max_budget_usd=0.0001)
    result = await run()
    assert result.status == "budget_exceeded", result.output
    assert "budget" in result.output.lower()
    assert result.cost_usd is not None and result.cost_usd > 0.0001
    final = run.events[-1]
    assert final["subtype"] == "error_max_budget_usd"
    # The CLI reports zero usage on this result; the totals come from model_usage.
    assert final["usage"]["output_tokens"] == 0
    assert result.input_tokens == 5_000_000
    assert result.output_tokens == 5_000_000
    assert result.num_turns == 1
    run.assert_framed()
    run.assert_clean()


async def test_http500_is_bounded_by_timeout(fake_anthropic: FakeAnthropic, tmp_path: Path) -> None:
    run = Run(fake_anthropic, tmp_path, "http500", timeout_seconds=5)
    result = await run()
    assert result.status == "error"
    assert result.output == "timed out after 5 s"
    assert 5 <= run.elapsed < 12
    retries = [e for e in run.of_type("system") if e["subtype"] == "api_retry"]
    assert retries and retries[0]["data"]["error_status"] == 500
    run.assert_clean()


async def test_http500_without_retries_is_an_api_error(fake_anthropic: FakeAnthropic, tmp_path: Path) -> None:
    run = Run(
        fake_anthropic,
        tmp_path,
        "http500",
        timeout_seconds=30,
        env={"CLAUDE_CODE_MAX_RETRIES": "0"},
    )
    result = await run()
    assert result.status == "error"
    assert "500" in result.output
    assert run.events[-1]["isError"] is True
    run.assert_framed()
    run.assert_clean()


CREDENTIAL_ENV = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "CLAUDE_CODE_USE_BEDROCK",
    "CLAUDE_CODE_USE_VERTEX",
    "CLAUDE_CODE_USE_FOUNDRY",
)


async def test_no_credentials_says_how_to_log_in(
    fake_anthropic: FakeAnthropic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No key, no login in the (empty) Claude config dir: the CLI fails at once, asking
    nothing of the API, and the run's output says what to do in cronagents' terms."""
    for name in CREDENTIAL_ENV:
        monkeypatch.delenv(name, raising=False)
    run = Run(fake_anthropic, tmp_path, "plain", timeout_seconds=30, env={"ANTHROPIC_API_KEY": ""})
    asked = len(fake_anthropic.messages_requests())
    result = await run()
    assert result.status == "error"
    assert result.output.splitlines() == ["Not logged in · Please run /login", NO_CREDENTIALS_HINT]
    assert "cronagents login" in result.output and "ANTHROPIC_API_KEY" in result.output
    assert run.of_type("assistant_text")[0]["error"] == "authentication_failed"
    assert len(fake_anthropic.messages_requests()) == asked
    assert run.elapsed < 20
    run.assert_framed()
    assert tagged_processes(run.tag) == []


async def test_a_refused_key_says_to_check_it(fake_anthropic: FakeAnthropic, tmp_path: Path) -> None:
    """The API answers 401 authentication_error (and not to retry): the CLI gives up at once."""
    run = Run(fake_anthropic, tmp_path, "http401", timeout_seconds=30)
    result = await run()
    assert result.status == "error"
    first, hint = result.output.splitlines()
    assert "401" in first and "Invalid API key" in first
    assert hint == REJECTED_CREDENTIALS_HINT
    run.assert_framed()
    run.assert_clean()


async def test_a_key_refused_on_every_retry_says_so_at_the_timeout(
    fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    """Without ``x-should-retry: false`` the CLI retries a 401 for minutes: the timeout
    ends the run, and its output says the credentials were refused."""
    run = Run(fake_anthropic, tmp_path, "http401_retry", timeout_seconds=4)
    result = await run()
    assert result.status == "error"
    assert result.output.splitlines() == [
        "timed out after 4 s (the API kept refusing the credentials)",
        REJECTED_CREDENTIALS_HINT,
    ]
    retries = [e for e in run.of_type("system") if e["subtype"] == "api_retry"]
    assert retries and retries[0]["data"]["error_status"] == 401
    run.assert_clean()


async def _wait_for(predicate: Any, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def test_slow_cancel_leaves_no_process(fake_anthropic: FakeAnthropic, tmp_path: Path) -> None:
    run = Run(fake_anthropic, tmp_path, "slow")
    seen = len(fake_anthropic.messages_requests("slow"))
    task = asyncio.create_task(run())
    await _wait_for(lambda: len(fake_anthropic.messages_requests("slow")) > seen)
    assert tagged_processes(run.tag), "the CLI should be running"
    await asyncio.sleep(0.5)
    task.cancel()
    start = time.monotonic()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - start < 8
    run.assert_clean()


async def test_cancel_kills_tool_children(fake_anthropic: FakeAnthropic, tmp_path: Path) -> None:
    run = Run(fake_anthropic, tmp_path, "sleep_tool")
    task = asyncio.create_task(run())

    def sleeping() -> bool:
        return any("tail -f /dev/null" in cmd for _, cmd in tagged_processes(run.tag))

    await _wait_for(sleeping)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not sleeping()
    run.assert_clean()


async def test_slow_timeout(fake_anthropic: FakeAnthropic, tmp_path: Path) -> None:
    run = Run(fake_anthropic, tmp_path, "slow", timeout_seconds=3)
    result = await run()
    assert result.status == "error"
    assert result.output == "timed out after 3 s"
    assert 3 <= run.elapsed < 9
    assert run.events[0]["subtype"] == "init"
    assert "result" not in run.types()
    run.assert_clean()


async def test_secrets_are_redacted(fake_anthropic: FakeAnthropic, tmp_path: Path) -> None:
    run = Run(fake_anthropic, tmp_path, "leak")
    result = await run()
    assert result.status == "success", result.output
    secret = run.env["ANTHROPIC_API_KEY"]
    assert secret not in result.output
    assert REDACTED in result.output
    assert any(REDACTED in e["text"] for e in run.of_type("assistant_text"))
    run.assert_clean()


async def test_bypass_permissions_refused_as_root(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("only refused when running as root")
    events: list[dict[str, Any]] = []

    async def on_event(event: dict[str, Any]) -> None:
        events.append(event)

    spec = SessionSpec(prompt="hi", cwd=str(tmp_path), permission_mode="bypassPermissions")
    result = await run_session(spec, on_event)
    assert result.status == "error"
    assert "bypassPermissions" in result.output and "root" in result.output
    assert events == []


async def test_missing_cwd_is_an_error(fake_anthropic: FakeAnthropic, tmp_path: Path) -> None:
    events: list[dict[str, Any]] = []

    async def on_event(event: dict[str, Any]) -> None:
        events.append(event)

    spec = SessionSpec(
        prompt="hi",
        cwd=str(tmp_path / "nope"),
        env=fake_anthropic.env(tmp_path),
        timeout_seconds=30,
    )
    result = await run_session(spec, on_event)
    assert result.status == "error"
    assert "nope" in result.output


def test_redactor() -> None:
    redactor = Redactor(
        {
            "ANTHROPIC_API_KEY": "sk-secret-123456",
            "GH_TOKEN": "ghp_abcdef",
            "MAX_TOKENS": "32000",
            "PATH": "/usr/bin",
            "SOME_AUTH_FLAG": "true",
        }
    )
    assert redactor.text("key sk-secret-123456 and ghp_abcdef") == (f"key {REDACTED} and {REDACTED}")
    assert redactor.text("32000 /usr/bin true") == "32000 /usr/bin true"
    assert redactor.deep({"a": ["sk-secret-123456", 1, None]}) == {"a": [REDACTED, 1, None]}


async def test_concurrent_runs(fake_anthropic: FakeAnthropic, tmp_path: Path) -> None:
    runs = [Run(fake_anthropic, tmp_path / str(i), "plain") for i in range(3)]
    results = await asyncio.gather(*(run() for run in runs))
    assert [r.status for r in results] == ["success"] * 3
    assert len({r.session_id for r in results}) == 3
    for run in runs:
        run.assert_framed()
        run.assert_clean()


async def test_on_event_error_propagates_after_cleanup(fake_anthropic: FakeAnthropic, tmp_path: Path) -> None:
    run = Run(fake_anthropic, tmp_path, "slow")

    async def explode(event: dict[str, Any]) -> None:
        raise ValueError("storage is down")

    with pytest.raises(ValueError, match="storage is down"):
        await run_session(run.spec, explode)
    run.assert_clean()


def _cut_mark(total_bytes: int) -> str:
    return f"\n[… output cut: {total_bytes - OUTPUT_LIMIT_BYTES} more bytes]"


async def test_a_5_mb_reply_is_a_success_cut_to_1_mib(fake_anthropic: FakeAnthropic, tmp_path: Path) -> None:
    run = Run(fake_anthropic, tmp_path, "huge", timeout_seconds=60)
    result = await run()
    assert result.status == "success", result.output[:500]
    text = huge_text()
    kept = text[:OUTPUT_LIMIT_BYTES] + _cut_mark(HUGE_TEXT_BYTES)
    assert result.output == kept
    [said] = run.of_type("assistant_text")
    assert said["text"] == kept
    assert run.events[-1]["result"] == kept
    run.assert_framed()
    run.assert_clean()


async def _log_of(caplog: pytest.LogCaptureFixture, run: Run, stop: Any) -> SessionResult | None:
    """Run until the CLI streams, then stop(task); the result, or None if cancelled."""
    caplog.set_level(logging.DEBUG)
    task = asyncio.create_task(run())
    await _wait_for(lambda: any("claude" in cmd for _, cmd in tagged_processes(run.tag)))
    await asyncio.sleep(1)  # the CLI is talking to the API by now
    await stop(task)
    try:
        return await task
    except asyncio.CancelledError:
        return None


def _loud(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Records at WARNING or above, or with a traceback; at most one one-line note of the stop."""
    notes = [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("claude_agent_sdk") and "stopped" in r.getMessage()
    ]
    assert len(notes) <= 1 and all("\n" not in note for note in notes), notes
    return [
        f"{r.levelname} {r.name}: {r.getMessage()}"
        for r in caplog.records
        if r.levelno >= logging.WARNING or r.exc_info
    ]


async def test_a_cancel_logs_no_error(
    fake_anthropic: FakeAnthropic, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run = Run(fake_anthropic, tmp_path, "slow")

    async def cancel(task: asyncio.Task[SessionResult]) -> None:
        task.cancel()

    assert await _log_of(caplog, run, cancel) is None
    assert _loud(caplog) == []
    run.assert_clean()


async def test_a_timeout_logs_no_error(
    fake_anthropic: FakeAnthropic, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run = Run(fake_anthropic, tmp_path, "slow", timeout_seconds=3)

    async def nothing(task: asyncio.Task[SessionResult]) -> None:
        pass

    result = await _log_of(caplog, run, nothing)
    assert result is not None and result.output == "timed out after 3 s"
    assert _loud(caplog) == []
    run.assert_clean()


async def test_labels_mark_every_process_for_the_sweep_which_still_logs_its_error(
    fake_anthropic: FakeAnthropic, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    labels = {DB_ID_ENV: uuid.uuid4().hex, SERVER_ID_ENV: "srv-gone"}
    run = Run(fake_anthropic, tmp_path, "sleep_tool", labels=labels)

    def sleeping() -> list[int]:
        return [pid for pid, cmd in tagged_processes(run.tag) if cmd.strip() == "tail -f /dev/null"]

    async def sweep(task: asyncio.Task[SessionResult]) -> None:
        await _wait_for(sleeping)
        environ = Path(f"/proc/{sleeping()[0]}/environ").read_bytes().split(b"\0")
        assert {f"{k}={v}".encode() for k, v in labels.items()} <= set(environ)
        assert await asyncio.to_thread(sweep_leftovers, labels[DB_ID_ENV], {"srv-x"}, 1.0)

    # The run ends (an error, or a success when the reply to the killed tool won
    # the race), and the CLI's death, not asked for by the session, is logged.
    assert await _log_of(caplog, run, sweep) is not None
    assert any("exit code 143" in line for line in _loud(caplog))
    run.assert_clean()
