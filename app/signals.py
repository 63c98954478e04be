"""The signals that ask a cronagents process to stop, handled in its asyncio loop.

``cronagents serve`` and the dashboard stop the same way on SIGTERM (``kill``,
systemd, docker), SIGINT and SIGHUP (the terminal was closed): they finish their
own shutdown — running runs recorded ``cancelled``, their processes ended, the
database closed — and exit 0. The handlers stay in place until that shutdown is
over, so a second signal cannot cut it short; a SIGHUP that was ignored when the
process started (``nohup``) stays ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Iterator

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class StopRequest:
    """Whether a stop signal came, and what to do about it once (now, or as soon as registered)."""

    def __init__(self, log: logging.Logger) -> None:
        self.log = log
        self.signal: signal.Signals | None = None
        self._actions: list[Callable[[], None]] = []

    @property
    def requested(self) -> bool:
        return self.signal is not None

    def on_stop(self, action: Callable[[], None]) -> None:
        """Run ``action`` when a stop signal comes (at once if one already came)."""
        self._actions.append(action)
        if self.requested:
            action()

    def __call__(self, sig: signal.Signals) -> None:
        if self.signal is not None:
            self.log.info("received %s, already shutting down", sig.name)
            return
        self.log.info("received %s, shutting down", sig.name)
        self.signal = sig
        for action in self._actions:
            action()


@contextlib.contextmanager
def stop_on_signals(
    on_signal: Callable[[signal.Signals], None],
    signals: tuple[signal.Signals, ...] = STOP_SIGNALS,
) -> Iterator[None]:
    """Call ``on_signal(sig)`` in the running loop for each of ``signals`` until the block ends."""
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in signals:
        if sig == signal.SIGHUP and signal.getsignal(sig) == signal.SIG_IGN:
            continue  # started under nohup: the user asked to outlive the terminal
        loop.add_signal_handler(sig, on_signal, sig)
        installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
