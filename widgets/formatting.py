"""Pure text helpers for the widgets (and the screens above them): times, money, statuses, run events.

They live at the bottom of the UI, beside the widgets that use them, so no widget imports ``app.tui``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from rich.text import Text

Clock = Callable[[], datetime]
"""Now, as an aware datetime (the tests freeze it)."""

STATUS_STYLES: dict[str, str] = {
    "success": "bold green",
    "error": "bold red",
    "budget_exceeded": "bold magenta",
    "cancelled": "yellow",
    "running": "bold cyan",
    "queued": "cyan",
    "skipped": "dim",
}


def utc_now() -> datetime:
    return datetime.now(UTC)


def parse_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def span(seconds: float) -> str:
    """``"3h 12m"``, ``"5m"``, ``"42s"``, ``"2d 4h"``: the two largest units."""
    seconds = int(abs(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, _ = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    return f"{minutes}m"


def relative(value: str | None, now: datetime) -> str:
    """``"in 3h 12m"`` for the future, ``"5m ago"`` for the past, ``"—"`` for nothing."""
    when = parse_iso(value)
    if when is None:
        return "—"
    delta = (when - now).total_seconds()
    if abs(delta) < 1:
        return "now"
    return f"in {span(delta)}" if delta > 0 else f"{span(delta)} ago"


def money(value: float | None) -> str:
    if value is None:
        return "—"
    return f"${value:,.2f}" if value >= 0.995 or value == 0 else f"${value:.3f}"


def spend_label(spent: float | None, cap: float | None) -> str:
    """``$1.20/$5.00``, or just ``$1.20`` without a cap (the text of :func:`spend_against`)."""
    spent = float(spent or 0.0)
    return f"${spent:,.2f}/${cap:,.2f}" if cap else f"${spent:,.2f}"


def spend_against(spent: float | None, cap: float | None) -> Text:
    """``$1.20/$5.00``: yellow from 80 % of the cap, red at the cap; just the spend without a cap."""
    spent = float(spent or 0.0)
    if not cap:
        return Text(spend_label(spent, cap), style="dim" if not spent else "", justify="right")
    style = "bold red" if spent >= cap else "yellow" if spent >= 0.8 * cap else ""
    return Text(spend_label(spent, cap), style=style, justify="right")


PAUSED_AFTER = re.compile(r"after (\d+) consecutive failures?")


def paused_text(reason: str | None, *, narrow: bool = False) -> Text:
    """A disabled agent's Next run: ``paused``, or why the server paused it: ``paused: 3 failures``
    (narrow: ``paused (3)``; the detail line has the whole reason)."""
    if not reason:
        return Text("paused", style="dim")
    found = PAUSED_AFTER.search(reason)
    if narrow:
        return Text(f"paused ({found.group(1)})" if found else "paused (!)", style="bold yellow")
    short = f"{found.group(1)} failures" if found else reason.removeprefix("paused").strip(" :")
    return Text(truncate(f"paused: {short}", 22), style="bold yellow")


def duration(ms: int | None) -> str:
    if ms is None:
        return "—"
    if ms < 1000:
        return f"{ms}ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f}s"
    return span(ms / 1000)


def status_text(status: str | None) -> Text:
    if not status:
        return Text("—", style="dim")
    label = "over budget" if status == "budget_exceeded" else status
    return Text(label, style=STATUS_STYLES.get(status, ""))


def truncate(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def _compact(value: Any, width: int = 160) -> str:
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
        except (TypeError, ValueError):
            text = str(value)
    return truncate(" ".join(text.split()), width)


def _clock_part(event: dict[str, Any]) -> str:
    at = parse_iso(event.get("at"))
    return at.strftime("%H:%M:%S") if at else "--:--:--"


def event_text(event: dict[str, Any]) -> Text:
    """One line (or a few) of a run transcript, coloured by kind."""
    kind = str(event.get("type", "?"))
    line = Text(_clock_part(event) + " ", style="dim")
    if kind == "assistant_text":
        line.append(str(event.get("text", "")))
    elif kind == "thinking":
        line.append("thinking ", style="italic magenta")
        line.append(_compact(event.get("text", ""), 200), style="italic dim")
    elif kind == "tool_use":
        line.append("▶ ", style="bold yellow")
        line.append(str(event.get("name", "tool")), style="bold yellow")
        line.append(" " + _compact(event.get("input", {})), style="yellow")
    elif kind == "tool_result":
        is_error = bool(event.get("isError"))
        line.append("◀ ", style="bold red" if is_error else "bold blue")
        line.append(_compact(event.get("content", "")), style="red" if is_error else "blue")
    elif kind == "result":
        ok = not event.get("isError") and event.get("subtype") == "success"
        label = "done" if ok else "error" if event.get("isError") else str(event.get("subtype", "error"))
        line.append("■ " + label.replace("_", " "), style="bold green" if ok else "bold red")
        usage = event.get("usage") or {}
        parts = [
            f"cost {money(event.get('costUsd'))}",
            f"turns {event.get('numTurns', '—')}",
            f"in {usage.get('input_tokens', usage.get('inputTokens', '—'))} tok",
            f"out {usage.get('output_tokens', usage.get('outputTokens', '—'))} tok",
            f"took {duration(event.get('durationMs'))}",
        ]
        line.append("  " + " · ".join(parts), style="green" if ok else "red")
    elif kind == "system":
        line.append(f"● session {event.get('subtype', '')}", style="dim cyan")
        if event.get("model"):
            line.append(f" model {event['model']}", style="dim cyan")
    else:
        line.append(
            f"{kind} " + _compact({k: v for k, v in event.items() if k not in {"seq", "at"}}), style="dim"
        )
    return line


def run_summary(run: dict[str, Any]) -> Text:
    text = Text()
    text.append_text(status_text(run.get("status")))
    text.append(
        f"  {run.get('trigger', '')} · cost {money(run.get('costUsd'))} · "
        f"turns {run.get('numTurns') if run.get('numTurns') is not None else '—'} · "
        f"tokens {run.get('inputTokens') or 0}→{run.get('outputTokens') or 0} · "
        f"{duration(run.get('durationMs'))}"
    )
    return text


class RunHeader(Text):
    """A transcript's first line (a Text), that knows when the run started: :meth:`at` says how long ago."""

    started: datetime | None = None

    def at(self, now: datetime) -> Text:
        """The line with ``· 12s ago`` after it (as it is when the run has not started)."""
        text = self.copy()
        if self.started is not None:
            text.append(f" · {relative(self.started.isoformat(), now)}", style="dim")
        return text


def run_header(run: dict[str, Any]) -> RunHeader:
    """The first line of a transcript: ``Run <id>  <trigger> · started <when>`` (see :class:`RunHeader`)."""
    when = parse_iso(run.get("startedAt"))
    at = when.strftime("%Y-%m-%d %H:%M:%S UTC") if when else "—"
    state = "queued" if run.get("status") == "queued" else "started"
    header = RunHeader()
    header.append_text(
        Text.assemble(
            ("Run ", "dim"),
            (str(run.get("id")), "bold"),
            (f"  {run.get('trigger', '')} · {state} {at}", "dim"),
        )
    )
    header.started = when
    return header
