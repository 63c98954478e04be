"""The one subclass of a private SDK class: the CLI transport whose close() also closes the pipes.

``claude_agent_sdk`` offers no public hook for this, so this module relies on
its private ``_internal`` transport, and only here. What it relies on, checked
by ``tests/test_sdk_transport.py`` against the installed SDK (re-check these
when the pinned SDK changes):

- ``claude_agent_sdk._internal.transport.subprocess_cli.SubprocessCLITransport``
  exists and is built as ``SubprocessCLITransport(prompt=..., options=...)``;
- it keeps the CLI's process in ``self._process`` (None until ``connect()``,
  an anyio ``Process`` after, with ``returncode`` and ``aclose()``), and its
  ``close()`` (a coroutine taking no arguments) sets it back to None;
- ``query(prompt=..., options=..., transport=...)`` accepts such a transport.
"""

from __future__ import annotations

import asyncio
import contextlib

import anyio
from claude_agent_sdk import ClaudeAgentOptions
from claude_agent_sdk._internal.transport.subprocess_cli import SubprocessCLITransport

__all__ = ["ClosingTransport", "SubprocessCLITransport"]


class ClosingTransport(SubprocessCLITransport):
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
