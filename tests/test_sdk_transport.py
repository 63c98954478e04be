"""What app.sdk_transport (and the SDK logger name in app.agent_session) take from the SDK's
private ``_internal`` package is still there in the installed SDK.

A failure here means the pinned claude-agent-sdk changed something private that
cronagents relies on: re-check app/sdk_transport.py (its close() must still close
the CLI's pipes once the SDK's own close() reaped it) and SDK_LOGGER in
app/agent_session.py before moving the pin.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import sys
from pathlib import Path

import anyio.abc
import claude_agent_sdk
import pytest
from claude_agent_sdk import ClaudeAgentOptions

from app.claude_cli import bundled_cli

TRANSPORT_MODULE = "claude_agent_sdk._internal.transport.subprocess_cli"
RECHECK = (
    f"claude-agent-sdk {claude_agent_sdk.__version__} changed what app/sdk_transport.py relies on "
    "({what}); re-check ClosingTransport against the SDK's SubprocessCLITransport before moving the pin"
)


def recheck(what: str) -> str:
    return RECHECK.format(what=what)


def test_the_private_transport_is_where_it_was() -> None:
    try:
        module = importlib.import_module(TRANSPORT_MODULE)
    except ImportError as exc:
        pytest.fail(recheck(f"{TRANSPORT_MODULE} cannot be imported: {exc}"))
    assert inspect.isclass(getattr(module, "SubprocessCLITransport", None)), recheck(
        f"{TRANSPORT_MODULE}.SubprocessCLITransport is gone"
    )
    from app.sdk_transport import ClosingTransport, SubprocessCLITransport

    assert SubprocessCLITransport is module.SubprocessCLITransport
    assert issubclass(ClosingTransport, SubprocessCLITransport)


def test_its_constructor_still_takes_prompt_and_options() -> None:
    from app.sdk_transport import SubprocessCLITransport

    params = inspect.signature(SubprocessCLITransport.__init__).parameters
    assert {"prompt", "options"} <= set(params), recheck(
        f"SubprocessCLITransport.__init__ takes {list(params)}, not prompt= and options="
    )
    required = {
        name
        for name, p in params.items()
        if name != "self"
        and p.default is inspect.Parameter.empty
        and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }
    assert required <= {"prompt", "options"}, recheck(
        f"SubprocessCLITransport.__init__ now requires {required}"
    )


def test_close_is_still_a_coroutine_without_arguments() -> None:
    from app.sdk_transport import SubprocessCLITransport

    close = SubprocessCLITransport.close
    assert inspect.iscoroutinefunction(close), recheck("close() is no longer a coroutine")
    assert list(inspect.signature(close).parameters) == ["self"], recheck(
        f"close{inspect.signature(close)} takes arguments"
    )


def test_query_still_accepts_a_transport() -> None:
    assert "transport" in inspect.signature(claude_agent_sdk.query).parameters, recheck(
        "query() has no transport= parameter"
    )


def test_the_sdk_logger_quietened_by_agent_session_still_exists() -> None:
    from app.agent_session import SDK_LOGGER

    module = importlib.import_module(SDK_LOGGER)  # the logger is named after its module
    logger = getattr(module, "logger", None)
    assert isinstance(logger, logging.Logger) and logger.name == SDK_LOGGER, (
        f"claude-agent-sdk {claude_agent_sdk.__version__}: {SDK_LOGGER} no longer logs as "
        f"{SDK_LOGGER!r}; re-check SDK_LOGGER in app/agent_session.py (the filter quietening expected ends)"
    )


@pytest.mark.skipif(sys.platform == "win32", reason="the CLI's pipes are checked on POSIX")
async def test_process_is_kept_in_underscore_process_and_its_pipes_are_closed(tmp_path: Path) -> None:
    """Start the bundled CLI through the transport (no request is made), then close it:
    ``_process`` is None before connect(), an anyio Process after, None again after close(),
    and the process's stdout pipe is closed by ClosingTransport."""
    from app.sdk_transport import ClosingTransport

    cli = bundled_cli()
    assert cli is not None, "the bundled Claude Code CLI is missing"
    options = ClaudeAgentOptions(cwd=str(tmp_path), cli_path=str(cli), setting_sources=[])
    transport = ClosingTransport(prompt="unused", options=options)
    assert hasattr(transport, "_process") and transport._process is None, recheck(
        "_process is not None before connect()"
    )
    await transport.connect()
    process = transport._process
    try:
        assert isinstance(process, anyio.abc.Process), recheck(
            f"_process after connect() is {type(process).__name__}, not an anyio Process"
        )
        assert hasattr(process, "returncode") and hasattr(process, "aclose")
    finally:
        await transport.close()
    assert transport._process is None, recheck("close() no longer sets _process back to None")
    assert process.returncode is not None, "close() left the CLI running"
    stdout = process.stdout
    assert stdout is not None
    with pytest.raises(anyio.ClosedResourceError):
        await stdout.receive()
