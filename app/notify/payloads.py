"""What an alert says: the webhook's JSON body, and the Slack and email messages written from it.

The body is built once, when the alert is raised, and stored with each of its
deliveries, so a message retried an hour later says what was true then:

``{"type", "timestamp", "agent": {...}, "run": {...} | null, ...}``

``agent`` is a summary of the agent (no prompt), ``run`` the run as the API
shows it with its output cut to :data:`OUTPUT_LIMIT_BYTES`; events add their
own fields (``budget``, ``missed``, ``usageLimit``, ``links``).
"""

from __future__ import annotations

import json
from typing import Any

from app.text import cut_text

OUTPUT_LIMIT_BYTES = 4096
EMAIL_OUTPUT_HEAD = 2000
AGENT_SUMMARY_KEYS = (
    "id",
    "name",
    "description",
    "schedule",
    "timezone",
    "enabled",
    "pausedReason",
    "nextRunAt",
    "lastRunAt",
    "lastStatus",
)
RUN_KEYS = (
    "id",
    "agentId",
    "status",
    "trigger",
    "attempt",
    "retryOf",
    "scheduledFor",
    "output",
    "costUsd",
    "inputTokens",
    "outputTokens",
    "numTurns",
    "startedAt",
    "completedAt",
    "durationMs",
)
TITLES = {
    "run.failed": "run failed",
    "run.recovered": "recovered",
    "run.succeeded": "run succeeded",
    "budget.threshold": "80 % of a spend cap",
    "budget.exceeded": "spend cap reached",
    "agent.paused": "paused",
    "agent.missed": "missed a scheduled run",
    "usage.limited": "usage limit reached",
    "channel.test": "test message",
}


def agent_summary(agent: dict[str, Any] | None) -> dict[str, Any] | None:
    """The agent as an alert shows it (the API's JSON, without the prompt and run settings)."""
    if agent is None:
        return None
    return {key: agent.get(key) for key in AGENT_SUMMARY_KEYS}


def run_summary(run: dict[str, Any] | None) -> dict[str, Any] | None:
    if run is None:
        return None
    out = {key: run.get(key) for key in RUN_KEYS}
    if isinstance(out["output"], str):
        out["output"] = cut_text(out["output"], OUTPUT_LIMIT_BYTES)
    return out


def body(
    event: str,
    timestamp: str,
    agent: dict[str, Any] | None,
    run: dict[str, Any] | None,
    **extra: Any,
) -> dict[str, Any]:
    """The webhook body of an alert (``agent`` and ``run`` as the API shows them)."""
    return {
        "type": event,
        "timestamp": timestamp,
        "agent": agent_summary(agent),
        "run": run_summary(run),
        **{key: value for key, value in extra.items() if value is not None},
    }


def encode(payload: dict[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def title(payload: dict[str, Any]) -> str:
    """One line: ``Daily digest: run failed (error)``."""
    agent = payload.get("agent") or {}
    run = payload.get("run") or {}
    what = TITLES.get(payload["type"], payload["type"])
    if payload["type"] == "run.failed" and run.get("status"):
        what += f" ({run['status']})"
    name = agent.get("name") or "Cron Agents"
    return f"{name}: {what}"


def _money(value: Any) -> str:
    if value is None:
        return "—"
    amount = float(value)
    return f"${amount:.2f}" if amount >= 0.01 or amount == 0 else f"${amount:.4f}"


def _duration(ms: Any) -> str:
    if ms is None:
        return "—"
    seconds = int(ms) / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest} s"


def details(payload: dict[str, Any]) -> list[str]:
    """The facts of an alert, one per line (used by Slack and email)."""
    lines: list[str] = []
    run = payload.get("run")
    if run:
        lines.append(f"Status: {run['status']} (attempt {run.get('attempt') or 1}, {run.get('trigger')})")
        lines.append(f"Cost: {_money(run.get('costUsd'))}   Duration: {_duration(run.get('durationMs'))}")
        lines.append(f"Started: {run.get('startedAt')}")
    budget = payload.get("budget")
    if budget:
        scope = "all agents" if budget.get("scope") == "global" else "this agent"
        lines.append(
            f"{budget['window'].capitalize()} cap of {scope}: ${budget['capUsd']:.2f}, "
            f"spent ${budget['spentUsd']:.2f}"
        )
    missed = payload.get("missed")
    if missed:
        lines.append(f"Missed: {missed.get('reason')} (slots: {', '.join(missed.get('slots') or [])})")
    limit = payload.get("usageLimit")
    if limit:
        lines.append(f"New runs are held until {limit.get('until')}")
    agent = payload.get("agent") or {}
    if agent.get("pausedReason"):
        lines.append(f"The agent is {agent['pausedReason']}; enable it to resume its schedule.")
    return lines


def slack_message(payload: dict[str, Any]) -> dict[str, Any]:
    """Slack's incoming-webhook format: ``text`` (notifications) and ``blocks`` (the message)."""
    head = title(payload)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": head[:150], "emoji": True}},
    ]
    facts = details(payload)
    if facts:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(facts)[:3000]}})
    run = payload.get("run") or {}
    if run.get("output"):
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": "```" + str(run["output"])[:2900] + "```"}}
        )
    link = (payload.get("links") or {}).get("run")
    if link:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{link}|Open the run>"}]})
    return {"text": head, "blocks": blocks}


def email_message(payload: dict[str, Any]) -> tuple[str, str]:
    """(subject, plain-text body)."""
    subject = f"[Cron Agents] {title(payload)}"
    lines = [title(payload), "", *details(payload)]
    run = payload.get("run") or {}
    output = run.get("output")
    if output:
        head = str(output)[:EMAIL_OUTPUT_HEAD]
        lines += ["", "Output:", head + ("\n[…]" if len(str(output)) > EMAIL_OUTPUT_HEAD else "")]
    links = payload.get("links") or {}
    if links:
        lines += ["", *(f"{name.capitalize()}: {url}" for name, url in links.items())]
    lines += ["", f"Event: {payload['type']} at {payload['timestamp']}"]
    return subject, "\n".join(lines) + "\n"
