"""The agent: every field once, with its type, rules, default, label, help and storage.

:class:`Agent` is what the API returns and what the scheduler and runner read
(snake_case attributes, camelCase on the wire). :data:`AgentCreate` and
:data:`AgentUpdate` (every field optional) are the request bodies, built from
the same fields. The field order here is the order of the editor's form and of
the API's JSON. The attribute's name is its storage column.

To add a field: declare it here (type, rules, ``Field`` with title, description
and default), add its column in a storage migration; validation, defaults, the
OpenAPI document, the JSON and the editor follow.
"""

from __future__ import annotations

import json
import os
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from app.model.mcp import McpServers
from app.model.rules import (
    INTEGRAL,
    SCHEDULE_HELP,
    UNIQUE,
    Allowed,
    Description,
    Directory,
    Form,
    Instant,
    ModelId,
    Name,
    Prompt,
    ReadOnly,
    Row,
    Schedule,
    Stored,
    TimezoneName,
    ToolName,
    When,
    Wording,
    request_model,
)
from app.model.run import RunStatus
from app.model.secrets import SecretEnv
from app.model.triggers import AgentIds, chain_targets
from app.model.triggers import trigger_url as _trigger_url  # (a field of the same name is declared here)

PermissionMode = Literal["dontAsk", "default", "acceptEdits", "plan", "bypassPermissions"]
NotifyOn = Literal["failure", "recovery", "success", "budget", "missed", "paused"]
NOTIFY_ON: tuple[NotifyOn, ...] = get_args(NotifyOn)
DEFAULT_NOTIFY_ON: tuple[NotifyOn, ...] = tuple(e for e in NOTIFY_ON if e != "success")
MAX_NOTIFY_CHANNELS = 20
MAX_RETRY_ATTEMPTS = 10
MAX_BACKOFF_SECONDS = 7 * 86_400
MAX_PAUSE_AFTER_FAILURES = 1000
CHANNEL_ID_MAX_LENGTH = 64
ConcurrencyPolicy = Literal["forbid", "allow", "replace"]
PERMISSION_MODES: tuple[PermissionMode, ...] = get_args(PermissionMode)
CONCURRENCY_POLICIES: tuple[ConcurrencyPolicy, ...] = get_args(ConcurrencyPolicy)
DEFAULT_ALLOWED_TOOLS = ("Read", "Glob", "Grep")
MAX_TOOLS = 200
MAX_TURNS = 1000
MAX_BUDGET_USD = 10_000
MAX_TIMEOUT_SECONDS = 7 * 86_400
MAX_STARTING_DEADLINE_SECONDS = 365 * 86_400
SERVER_DEFAULTS = frozenset({"timezone"})
"""Fields a create body may leave out although they have no default here: the server's configuration
gives them (its time zone)."""


def allowed_permission_modes() -> tuple[str, ...]:
    """The CLI refuses ``bypassPermissions`` as root, so the server does too."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return tuple(m for m in PERMISSION_MODES if m != "bypassPermissions")
    return PERMISSION_MODES


def _permission_refusal(value: Any) -> str | None:
    if value == "bypassPermissions" and value not in allowed_permission_modes():
        return "bypassPermissions is refused while the server runs as root"
    return None


def _creator_of(row: Row) -> dict[str, Any] | None:
    return {"id": row["creator_id"], "name": row["creator_name"]} if row["creator_id"] else None


_AS_FLAG = Stored(load=bool, dump=int)
_AS_JSON = Stored(load=json.loads, dump=json.dumps)
_BLANK_IS_NULL = Stored(load=lambda value: value or None)
"""A one-shot agent's schedule: stored as "" (the column predates one-shots and is NOT NULL)."""


class Creator(BaseModel):
    """The user whose token created the agent."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str


class Part(BaseModel):
    """A group of an agent's settings, one object on the wire and one JSON column in storage."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="forbid", strict=True
    )

    def wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, mode="json")


class Notify(Part):
    """Who hears about the agent's runs, and on what."""

    channels: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=CHANNEL_ID_MAX_LENGTH)]],
        Field(max_length=MAX_NOTIFY_CHANNELS),
        Wording(type="must be a list of channel ids", item="each channel id"),
        UNIQUE,
    ] = Field(
        [],
        title="Channels",
        description="Ids of the channels to send to; empty: the default channels of the settings",
        examples=[["chn_5f3a9c1e2b7d"]],
    )
    on: Annotated[list[NotifyOn], Wording(item="each event"), UNIQUE] = Field(
        list(DEFAULT_NOTIFY_ON),
        title="Send on",
        description="failure, recovery (first success after a failure), success (each, with its "
        "output), budget (80 % of a cap, a cap reached), missed (a slot that did not start), paused",
    )
    only_on_change: bool = Field(
        True, title="Only on change", description="Of a streak of failures, send only the first"
    )


class Retry(Part):
    """How a run that ended in error is tried again."""

    attempts: Annotated[int, Field(ge=0, le=MAX_RETRY_ATTEMPTS), INTEGRAL] = Field(
        0,
        title="Attempts",
        description="Retries of a run that ends in error (not budget_exceeded, cancelled or skipped)",
    )
    backoff_seconds: Annotated[int, Field(ge=1, le=MAX_BACKOFF_SECONDS), INTEGRAL] = Field(
        60,
        title="Backoff (s)",
        description="Wait before the first retry; doubled for each next one, with jitter",
    )
    max_backoff_seconds: Annotated[int, Field(ge=1, le=MAX_BACKOFF_SECONDS), INTEGRAL] = Field(
        3600, title="Max backoff (s)", description="Longest wait before a retry"
    )


def _part_column(part: type[Part]) -> Stored:
    """A group of settings in one JSON column, kept in its wire form (camelCase)."""
    return Stored(
        load=part.model_validate_json,
        dump=lambda value: part.model_validate(value).model_dump_json(by_alias=True),
    )


_CAP_WORDING = Wording(
    type="must be a number greater than 0, or null for no cap",
    greater_than="must be greater than 0, or null for no cap",
)


class Agent(BaseModel):
    """An agent: a prompt Claude runs on a cron schedule, with the limits of each run."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        json_schema_serialization_defaults_required=True,
    )

    id: Annotated[str, ReadOnly()] = Field(description="The agent's id", examples=["agt_5f3a9c1e2b7d"])
    name: Annotated[Name, Form("Daily digest")] = Field(
        title="Name", description="What people call the agent", examples=["Daily digest"]
    )
    description: Annotated[Description | None, Form("What the agent does")] = Field(
        None,
        title="Description",
        description="What the agent does, for people; null: none",
        examples=["Summarizes open tasks every morning"],
    )
    schedule: Annotated[Schedule | None, _BLANK_IS_NULL, Form("0 9 * * 1-5  or  @daily")] = Field(
        None,
        title="Schedule",
        description=SCHEDULE_HELP + "; null for an agent that runs once (runAt)",
        examples=["0 9 * * 1-5", "@daily"],
    )
    timezone: Annotated[TimezoneName, Form("server default (IANA name, e.g. Europe/Berlin)")] = Field(
        title="Time zone",
        description="IANA time zone of the schedule; default: the server's zone",
        examples=["Europe/Berlin"],
    )
    prompt: Annotated[Prompt, Form(multiline=True)] = Field(
        title="Prompt",
        description="What Claude is asked to do on each run",
        examples=["Summarize the open tasks in TODO.md"],
    )
    enabled: Annotated[bool, _AS_FLAG] = Field(
        True,
        title="Enabled",
        description="Whether the schedule fires; a paused agent can still be run by hand",
    )
    max_turns: Annotated[int, Field(ge=1, le=MAX_TURNS), INTEGRAL] = Field(
        50, title="Max turns", description="Most assistant turns in one run"
    )
    max_budget_usd: Annotated[
        float | None,
        Field(gt=0, le=MAX_BUDGET_USD, allow_inf_nan=False),
        Wording(
            type="must be a number greater than 0, or null for no limit",
            greater_than="must be greater than 0, or null for no limit",
        ),
        Form("no limit"),
    ] = Field(
        None,
        title="Max budget (USD)",
        description="Most one run may spend, in US dollars; null: no limit",
        examples=[0.5],
    )
    model: Annotated[ModelId | None, Form("CLI default")] = Field(
        None,
        title="Model",
        description="Claude model id; null: the CLI's default model",
        examples=["claude-sonnet-4-5"],
    )
    cwd: Annotated[Directory | None, Form("own workspace (absolute path)")] = Field(
        None,
        title="Working directory",
        description="Absolute path of an existing directory on the server; null: the agent's own workspace",
        examples=["/srv/repos/app"],
    )
    allowed_tools: Annotated[
        list[ToolName],
        Field(max_length=MAX_TOOLS),
        Wording(
            type='must be a list of tool names, e.g. ["Read", "Bash(git log:*)"]',
            too_long="must list at most {max_length} tools",
            item="each tool name",
        ),
        _AS_JSON,
    ] = Field(
        list(DEFAULT_ALLOWED_TOOLS),
        title="Allowed tools",
        description="Tools the agent may use without asking",
        examples=[["Read", "Bash(git log:*)"]],
    )
    permission_mode: Annotated[PermissionMode, Allowed(allowed_permission_modes, _permission_refusal)] = (
        Field(
            "dontAsk",
            title="Permission mode",
            description="What the CLI does with a tool not allowed: dontAsk refuses it (safe unattended); "
            "bypassPermissions is refused when the server runs as root",
        )
    )
    timeout_seconds: Annotated[int, Field(ge=1, le=MAX_TIMEOUT_SECONDS), INTEGRAL] = Field(
        1800, title="Timeout (s)", description="Wall-clock limit of one run, in seconds"
    )
    concurrency_policy: ConcurrencyPolicy = Field(
        "forbid",
        title="If still running",
        description="When a fire comes while a run is going on: forbid skips it, allow runs both, "
        "replace cancels the running one",
    )
    starting_deadline_seconds: Annotated[
        Annotated[int, Field(ge=0, le=MAX_STARTING_DEADLINE_SECONDS), INTEGRAL] | None, Form("never catch up")
    ] = Field(
        3600,
        title="Catch-up window (s)",
        description="How late a missed fire may still run, in seconds; null: never catch up",
    )
    load_project_settings: Annotated[bool, _AS_FLAG] = Field(
        False, title="Project settings", description="Load the .claude settings and hooks found in cwd"
    )
    notify: Annotated[Notify, _part_column(Notify), Form(section="Notifications")] = Field(
        Notify.model_validate({}),
        title="Notifications",
        description="Where and on what the agent's alerts go: "
        '{"channels": [...], "on": ["failure", ...], "onlyOnChange": true}',
    )
    retry: Annotated[Retry, _part_column(Retry), Form(section="Retries and auto-pause")] = Field(
        Retry.model_validate({}),
        title="Retries",
        description="How a run ending in error is retried: "
        '{"attempts", "backoffSeconds", "maxBackoffSeconds"}',
    )
    pause_after_failures: Annotated[
        Annotated[int, Field(ge=1, le=MAX_PAUSE_AFTER_FAILURES), INTEGRAL] | None, Form("never")
    ] = Field(
        None,
        title="Pause after",
        description="Disable the agent after this many failed runs in a row (a run and its retries "
        "count once); null: never",
    )
    daily_budget_usd: Annotated[
        float | None,
        Field(gt=0, le=MAX_BUDGET_USD, allow_inf_nan=False),
        _CAP_WORDING,
        Form("no cap", section="Spend caps"),
    ] = Field(
        None,
        title="Daily cap (USD)",
        description="Most the agent may spend in a calendar day (the stats time zone); null: no cap",
        examples=[5],
    )
    monthly_budget_usd: Annotated[
        float | None, Field(gt=0, le=MAX_BUDGET_USD * 31, allow_inf_nan=False), _CAP_WORDING, Form("no cap")
    ] = Field(
        None,
        title="Monthly cap (USD)",
        description="Most the agent may spend in a calendar month (the stats time zone); null: no cap",
        examples=[100],
    )
    run_at: Annotated[When | None, Form("ISO time, e.g. 2026-01-05T09:00:00Z", section="Triggers")] = Field(
        None,
        title="Run once at",
        description="Instead of a schedule: the one time the agent runs (caught up like a scheduled "
        "slot if the server was down); it then disables itself. Exactly one of schedule and runAt",
        examples=["2026-01-05T09:00:00Z"],
    )
    on_success: Annotated[AgentIds, Form("agent ids, comma-separated")] = chain_targets("success")
    on_failure: Annotated[AgentIds, Form("agent ids, comma-separated")] = chain_targets("failure")
    mcp_servers: Annotated[McpServers, Form(section="Capabilities")] = Field(
        {},
        title="MCP servers",
        description='Named MCP servers in the SDK\'s format: {"name": {"command", "args", "env"}} (stdio) '
        'or {"name": {"type": "http" | "sse", "url", "headers"}}; ${NAME} takes a variable of the run '
        "(e.g. a secret). Their tools run unattended only when allowedTools lists them: "
        "mcp__<server>__<tool>, or mcp__<server> for all of a server's tools",
        examples=[
            {
                "tracker": {
                    "type": "stdio",
                    "command": "npx",
                    "args": ["-y", "@acme/tracker-mcp"],
                    "env": {"TRACKER_TOKEN": "${TRACKER_TOKEN}"},
                }
            }
        ],
    )
    env: Annotated[SecretEnv, _AS_JSON] = Field(
        {},
        title="Secrets",
        description="Environment variables of the agent's runs, e.g. API tokens: written as "
        '{"NAME": "value"} (null deletes NAME; other names are kept), read back as the names with '
        "the value masked; stored encrypted, redacted from transcripts; usable in mcpServers as ${NAME}",
        examples=[{"TRACKER_TOKEN": "********"}],
    )
    trigger_url: Annotated[str | None, ReadOnly(), Stored(read=_trigger_url)] = Field(
        description="Where signed inbound webhooks start the agent (POST, no token), once it has a "
        "trigger secret (POST /api/agents/{id}/trigger-secret); null: it has none",
        examples=["/hooks/agents/agt_5f3a9c1e2b7d"],
    )
    paused_reason: Annotated[str | None, ReadOnly()] = Field(
        description="Why the server disabled the agent "
        '("paused after 3 consecutive failures"); null: it did not'
    )
    next_run_at: Annotated[Instant | None, ReadOnly()] = Field(description="Next scheduled fire; null: none")
    last_run_at: Annotated[Instant | None, ReadOnly()] = Field(description="When the last run started")
    last_status: Annotated[RunStatus | None, ReadOnly()] = Field(description="Status of the last run")
    creator: Annotated[Creator | None, ReadOnly(), Stored(read=_creator_of)] = Field(
        description="Who created the agent; null: a user since removed"
    )
    created_at: Annotated[Instant, ReadOnly()] = Field(description="When the agent was created")
    updated_at: Annotated[Instant, ReadOnly()] = Field(description="When the agent was last changed")


AgentCreate = request_model(
    Agent, "AgentCreate", "The body that creates an agent.", server_defaults=SERVER_DEFAULTS
)
AgentUpdate = request_model(
    Agent, "AgentUpdate", "The body that changes an agent: only the fields sent.", update=True
)
