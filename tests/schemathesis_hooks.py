"""Schemathesis hooks: valid values for the rules JSON Schema cannot state.

The OpenAPI document declares every limit it can (types, lengths, patterns,
ranges, enums). Some rules it cannot: a ``schedule`` must be a cron expression
that fires, a ``cwd`` an existing directory on the server, channel ids must
name channels, a channel's URL must be http(s) with a host and its addresses
email addresses, and a channel's type says which of ``url`` / ``to`` it takes; the agents of
``onSuccess`` / ``onFailure`` must exist; an agent has either a ``schedule`` or a ``runAt`` to come.
A generated value that fits the schema but breaks one of those rules is
replaced here by one that keeps it; values outside the schema (the negative
cases) are left alone, so the server must still refuse them.

Loaded by the schemathesis CLI through ``SCHEMATHESIS_HOOKS=tests.schemathesis_hooks``.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import schemathesis
from pydantic_core import PydanticCustomError

from app.cron import validate_schedule
from app.model.agent import CHANNEL_ID_MAX_LENGTH
from app.model.channel import CHANNEL_FIELDS_BY_TYPE, MAX_RECIPIENTS, URL_MAX_LENGTH, _url
from app.model.rules import CWD_MAX_LENGTH, CWD_PATTERN, SCHEDULE_MAX_LENGTH
from app.model.secrets import SECRET_MASK

RFC3339 = re.compile(r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)")
FUTURE = "2099-01-05T09:00:00Z"
SCHEDULES = ("0 9 * * *", "*/15 * * * *", "@daily", "30 8 * * 1-5", "@yearly")
EXISTING_DIRECTORY = os.environ.get("CRONAGENTS_TEST_CWD", "/")


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """Runs before every request of every phase (``map_body`` is not applied in all of them)."""
    if isinstance(case.body, dict):
        case.body = keep_server_rules(case.body)
        if case.path.startswith("/api/agents"):
            case.body = keep_one_trigger(case.body, creating=case.method.upper() == "POST")
        if case.path.startswith("/api/channels"):
            case.body = keep_channel_rules(case.body, creating=case.method.upper() == "POST")


def keep_server_rules(body: dict[str, Any]) -> dict[str, Any]:
    schedule = body.get("schedule")
    if (
        isinstance(schedule, str)
        and 1 <= len(schedule) <= SCHEDULE_MAX_LENGTH
        and validate_schedule(" ".join(schedule.split()))
    ):
        body = {**body, "schedule": SCHEDULES[len(schedule) % len(SCHEDULES)]}
    cwd = body.get("cwd")
    if (
        isinstance(cwd, str)
        and len(cwd) <= CWD_MAX_LENGTH
        and re.fullmatch(CWD_PATTERN, cwd)
        and not os.path.isdir(cwd)
    ):
        body = {**body, "cwd": EXISTING_DIRECTORY}
    notify = body.get("notify")
    if isinstance(notify, dict) and _ids(notify.get("channels")):
        body = {**body, "notify": {**notify, "channels": []}}
    if _ids(body.get("notifyChannels")):
        body = {**body, "notifyChannels": []}
    env = body.get("env")
    if isinstance(env, dict):  # the server's own names, and the mask (it keeps a value only of a known name)
        kept = {
            k: ("x" if v == SECRET_MASK else v)
            for k, v in env.items()
            if not k.upper().startswith("CRONAGENTS_")
        }
        body = {**body, "env": kept}
    servers = body.get("mcpServers")
    if isinstance(servers, dict):  # a remote server's url must be http(s) with a host
        body = {**body, "mcpServers": {name: _keep_url(server) for name, server in servers.items()}}
    for key in ("onSuccess", "onFailure"):  # agent ids: none of those generated exists
        if _ids(body.get(key)):
            body = {**body, key: []}
    return body


def keep_one_trigger(body: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    """A ``runAt`` in the schema's format is a time to come that Python reads; an update sets
    exactly one of ``schedule`` and ``runAt`` (the agent it changes may have either)."""
    body = dict(body)
    run_at = body.get("runAt")
    if isinstance(run_at, str) and RFC3339.fullmatch(run_at) and not _to_come(run_at):
        body["runAt"] = FUTURE
    if creating:
        return body
    if isinstance(body.get("schedule"), str):
        body["runAt"] = None
    elif isinstance(body.get("runAt"), str):
        body["schedule"] = None
    else:  # null for both (or for the one sent) would leave the agent neither
        for key in ("schedule", "runAt"):
            if key in body and body[key] is None:
                del body[key]
    return body


def _to_come(text: str) -> bool:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return False
    return moment.tzinfo is not None and moment > datetime.now(UTC) + timedelta(hours=1)


def _keep_url(server: Any) -> Any:
    url = server.get("url") if isinstance(server, dict) else None
    if isinstance(url, str) and len(url) <= URL_MAX_LENGTH:
        try:
            _url(url)
        except PydanticCustomError:
            return {**server, "url": "http://127.0.0.1:9/mcp"}
    return server


def _ids(value: Any) -> bool:
    """A non-empty list of schema-valid channel ids (none of which exists)."""
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, str) and 1 <= len(v) <= CHANNEL_ID_MAX_LENGTH for v in value)
    )


def keep_channel_rules(body: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    body = dict(body)
    url, to = body.get("url"), body.get("to")
    if isinstance(url, str) and len(url) <= URL_MAX_LENGTH:
        try:
            _url(url)
        except PydanticCustomError:
            body["url"] = "http://127.0.0.1:9/hook"
    if isinstance(to, list) and 1 <= len(to) <= MAX_RECIPIENTS and all(isinstance(t, str) for t in to):
        body["to"] = ["ops@example.com"]
    secret = body.get("secret")
    if isinstance(secret, str) and len(secret) <= 200:
        body["secret"] = "whsec_" + "A" * 44
    kind = body.get("type")
    if not creating:
        # The channel's type is not in the body: change neither of its type's fields.
        body.pop("url", None)
        body.pop("to", None)
    elif isinstance(kind, str) and kind in CHANNEL_FIELDS_BY_TYPE:
        needs = CHANNEL_FIELDS_BY_TYPE[kind]
        for name, valid in (("url", "http://127.0.0.1:9/hook"), ("to", ["ops@example.com"])):
            if name in needs and body.get(name) is None:
                body[name] = valid
            elif name not in needs:
                body.pop(name, None)
        if kind != "webhook":
            body.pop("secret", None)
    return body
