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

import copy
import json
import os
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic.alias_generators import to_camel
from pydantic.fields import FieldInfo

from app.model.rules import (
    INTEGRAL,
    SCHEDULE_HELP,
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
    Wording,
)
from app.model.run import RunStatus

PermissionMode = Literal["dontAsk", "default", "acceptEdits", "plan", "bypassPermissions"]
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


class Creator(BaseModel):
    """The user whose token created the agent."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str


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
    schedule: Annotated[Schedule, Form("0 9 * * 1-5  or  @daily")] = Field(
        title="Schedule", description=SCHEDULE_HELP, examples=["0 9 * * 1-5", "@daily"]
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
    next_run_at: Annotated[Instant | None, ReadOnly()] = Field(description="Next scheduled fire; null: none")
    last_run_at: Annotated[Instant | None, ReadOnly()] = Field(description="When the last run started")
    last_status: Annotated[RunStatus | None, ReadOnly()] = Field(description="Status of the last run")
    creator: Annotated[Creator | None, ReadOnly(), Stored(read=_creator_of)] = Field(
        description="Who created the agent; null: a user since removed"
    )
    created_at: Annotated[Instant, ReadOnly()] = Field(description="When the agent was created")
    updated_at: Annotated[Instant, ReadOnly()] = Field(description="When the agent was last changed")


def is_read_only(info: FieldInfo) -> bool:
    return any(isinstance(m, ReadOnly) for m in info.metadata)


def _request_model(name: str, doc: str, *, update: bool) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for field_name, info in Agent.model_fields.items():
        if is_read_only(info):
            continue
        request_info = copy.copy(info)
        if update or (field_name in SERVER_DEFAULTS and info.is_required()):
            request_info.default = None  # absent: unchanged (update) or the server's (create)
        fields[field_name] = (info.annotation, request_info)
    config = ConfigDict(alias_generator=to_camel, strict=True, extra="forbid")
    model: type[BaseModel] = create_model(name, __config__=config, __doc__=doc, **fields)
    return model


AgentCreate = _request_model("AgentCreate", "The body that creates an agent.", update=False)
AgentUpdate = _request_model(
    "AgentUpdate", "The body that changes an agent: only the fields sent.", update=True
)
