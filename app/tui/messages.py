"""Server events as typed Textual messages, posted to the open screens by the event-stream worker.

``GET /api/events`` sends JSON dicts; :func:`server_message` turns each into one of the
messages below, and screens react with ``@on(AgentChanged)`` and so on. The messages
do not bubble: each open screen gets its own copy (see :mod:`app.tui.event_stream`).

Run output is the high-rate part (a busy run sends hundreds of events a second):
:class:`RunEvents` carries a list, and a screen that falls behind merges the
waiting ones for the same run into one message before handling it.
"""

from __future__ import annotations

from typing import Any

from textual.message import Message

Json = dict[str, Any]


class ServerMessage(Message, bubble=False):
    """Something the server said on the event stream (or about it).

    Each subclass says ``bubble=False`` again (Textual resets it per class): a screen's
    copy stops at the screen instead of reaching the app as well.
    """


class AgentChanged(ServerMessage, bubble=False):
    """``agent.created`` / ``agent.updated``: an agent's new JSON (None when the event had none)."""

    def __init__(self, agent_id: str, agent: Json | None) -> None:
        super().__init__()
        self.agent_id = agent_id
        self.agent = agent


class AgentDeleted(ServerMessage, bubble=False):
    """``agent.deleted``."""

    def __init__(self, agent_id: str) -> None:
        super().__init__()
        self.agent_id = agent_id


class AgentScheduled(ServerMessage, bubble=False):
    """``agent.scheduled``: the scheduler planned the agent's next fire."""

    def __init__(self, agent_id: str, next_run_at: str | None) -> None:
        super().__init__()
        self.agent_id = agent_id
        self.next_run_at = next_run_at


class RunChanged(ServerMessage, bubble=False):
    """A run was queued, started or finished; ``run`` is its JSON (empty when the event had none)."""

    def __init__(self, agent_id: str, run_id: str, run: Json) -> None:
        super().__init__()
        self.agent_id = agent_id
        self.run_id = run_id
        self.run = run


class RunQueued(RunChanged, bubble=False):
    """``run.queued``: waiting for a free run slot."""


class RunStarted(RunChanged, bubble=False):
    """``run.started``."""


class RunFinished(RunChanged, bubble=False):
    """``run.finished``: ``run["status"]`` says how."""


class RunEvents(ServerMessage, bubble=False):
    """``run.event``: transcript lines of one run, oldest first (merged while a screen is busy)."""

    def __init__(self, agent_id: str, run_id: str, events: list[Json]) -> None:
        super().__init__()
        self.agent_id = agent_id
        self.run_id = run_id
        self.events = events

    def can_replace(self, message: Message) -> bool:
        """Let the next waiting message of the same run take this one's events and its place.

        Textual asks this of the message about to be handled, with the next one in the
        queue; True means only that next one is handled, so it takes the events first.
        """
        if isinstance(message, RunEvents) and message.run_id == self.run_id:
            message.events[:0] = self.events
            return True
        return False


class ConnectionLost(ServerMessage, bubble=False):
    """The event stream dropped; the next attempt is ``retry_in`` seconds away."""

    def __init__(self, reason: str, retry_in: float, attempt: int) -> None:
        super().__init__()
        self.reason = reason
        self.retry_in = retry_in
        self.attempt = attempt

    @property
    def explanation(self) -> str:
        retry = f"reconnecting in {self.retry_in:g}s (attempt {self.attempt})"
        return f"Connection lost ({self.reason}) — {retry}"


class ConnectionRestored(ServerMessage, bubble=False):
    """The event stream is open; ``after_gap`` when events may have been missed since it last was."""

    def __init__(self, after_gap: bool) -> None:
        super().__init__()
        self.after_gap = after_gap


RUN_MESSAGES: dict[str, type[RunChanged]] = {
    "run.queued": RunQueued,
    "run.started": RunStarted,
    "run.finished": RunFinished,
}


def server_message(event: Json) -> ServerMessage | None:
    """The message for one event of ``GET /api/events``; None for kinds the dashboard ignores."""
    kind = event.get("type")
    agent_id = str(event.get("agentId", ""))
    if kind == "run.event":
        return RunEvents(agent_id, str(event.get("runId", "")), [dict(event.get("event") or {})])
    if kind in ("agent.created", "agent.updated"):
        agent = event.get("agent")
        return AgentChanged(agent_id, agent if isinstance(agent, dict) else None)
    if kind == "agent.deleted":
        return AgentDeleted(agent_id)
    if kind == "agent.scheduled":
        next_run_at = event.get("nextRunAt")
        return AgentScheduled(agent_id, str(next_run_at) if next_run_at else None)
    run_message = RUN_MESSAGES.get(str(kind))
    if run_message is not None:
        run = dict(event.get("run") or {})
        return run_message(agent_id, str(event.get("runId") or run.get("id") or ""), run)
    return None
