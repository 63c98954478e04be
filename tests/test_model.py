"""The typed model: rows to typed objects and to the wire, request bodies to columns, its schemas."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from app.errors import ValidationError
from app.model import (
    AGENT_FIELDS,
    Agent,
    AgentCreate,
    Creator,
    Run,
    agent_from_json,
    agent_from_row,
    agent_json,
    event_json,
    run_from_row,
    run_json,
    to_columns,
)
from app.model.schema import request_schema, response_schemas
from app.server import Server
from app.validation import parse_agent_create, parse_agent_update
from storage import agents as agent_store
from storage import runs as run_store
from tests.conftest import agent_body

# Keywords of JSON Schema 2020-12 (OpenAPI 3.1) the generated schemas may use.
KEYWORDS = {
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "const",
    "default",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "minLength",
    "maxLength",
    "pattern",
    "maxItems",
    "maxProperties",
    "propertyNames",
    "format",
    "anyOf",
    "oneOf",
    "$ref",
    "title",
    "description",
    "examples",
    "readOnly",
}


async def stored_agents(server: Server, client: Any) -> list[Any]:
    await client.post("/api/agents", json=agent_body(name="Plain"))
    await client.post(
        "/api/agents",
        json=agent_body(
            name="Full",
            maxBudgetUsd=0.25,
            model="claude-sonnet-4-5",
            cwd="/",
            allowedTools=["Bash(git log:*)"],
            permissionMode="plan",
            concurrencyPolicy="replace",
            startingDeadlineSeconds=None,
            loadProjectSettings=True,
            enabled=False,
            timezone="Asia/Tokyo",
        ),
    )
    # An agent stored before today's rules (a tab in its name, 5000 turns) and without a creator.
    row = dict(await agent_store.get_agent(server.db, (await agent_store.list_agents(server.db))[0]["id"]))
    legacy = {k: v for k, v in row.items() if k != "creator_name"}
    legacy.update(id="agt_legacy", name="Old\tname", max_turns=5000, creator_id=None)
    await agent_store.insert_agent(server.db, legacy)
    return list(await agent_store.list_agents(server.db))


async def test_a_row_gives_the_same_json_through_the_typed_agent(server: Server, client: Any):
    """agent_json (compiled for speed) says exactly what pydantic's serialization of the Agent says."""
    rows = await stored_agents(server, client)
    assert len(rows) == 3
    for row in rows:
        assert agent_json(row) == agent_from_row(row).model_dump(mode="json", by_alias=True)


async def test_the_typed_agent_has_snake_case_attributes_of_the_right_types(server: Server, client: Any):
    rows = await stored_agents(server, client)
    full = agent_from_row(next(r for r in rows if r["name"] == "Full"))
    assert isinstance(full, Agent)
    assert (full.max_turns, full.max_budget_usd, full.model, full.cwd) == (50, 0.25, "claude-sonnet-4-5", "/")
    assert full.allowed_tools == ["Bash(git log:*)"]
    assert full.permission_mode == "plan" and full.concurrency_policy == "replace"
    assert full.enabled is False and full.load_project_settings is True
    assert full.starting_deadline_seconds is None and full.timezone == "Asia/Tokyo"
    assert isinstance(full.creator, Creator) and full.creator.name == "Tony"
    assert isinstance(full.created_at, int) and full.next_run_at is None
    legacy = agent_from_row(next(r for r in rows if r["id"] == "agt_legacy"))
    assert legacy.name == "Old\tname" and legacy.max_turns == 5000 and legacy.creator is None
    with pytest.raises(Exception, match="frozen"):
        full.max_turns = 3  # type: ignore[misc]


async def test_the_wire_json_reads_back_as_the_same_agent(server: Server, client: Any):
    rows = await stored_agents(server, client)
    row = next(r for r in rows if r["name"] == "Full")
    assert Agent.model_validate(agent_json(row)) == agent_from_row(row)
    for row in rows:  # trusted, like a row: the agent stored before today's rules too
        assert agent_from_json(agent_json(row)) == agent_from_row(row)


async def test_a_run_row_gives_the_same_json_through_the_typed_run(server: Server, client: Any):
    agent = (await client.post("/api/agents", json=agent_body())).json()["data"]
    await run_store.insert_run(server.db, "run_1", agent["id"], "running", 1_736_240_400_000)
    await run_store.finish_run(
        server.db,
        "run_1",
        run_store.RunOutcome("success", "done", 1_736_240_490_000, 0.123456789, 10, 20, 3),
        server.service.day_of,
    )
    await run_store.add_events(
        server.db, "run_1", [(1, 1_736_240_400_001, "assistant_text", '{"text": "hi"}')]
    )
    row = await run_store.get_run(server.db, "run_1")
    assert row is not None
    wire = run_json(row)
    assert wire == run_from_row(row).model_dump(mode="json", by_alias=True)
    assert wire["costUsd"] == 0.123457 and wire["startedAt"] == "2025-01-07T09:00:00.000Z"
    run = run_from_row(row)
    assert isinstance(run, Run) and run.duration_ms == 90_000 and run.status == "success"
    [event] = await run_store.get_events(server.db, "run_1")
    assert event_json(event) == {
        "seq": 1,
        "at": "2025-01-07T09:00:00.001Z",
        "type": "assistant_text",
        "text": "hi",
    }


def test_a_create_body_becomes_columns_with_the_model_s_defaults():
    columns = to_columns(parse_agent_create({"name": " Digest ", "schedule": "0  9 * * *", "prompt": "Go"}))
    defaults = {f.name: f.default for f in AGENT_FIELDS if f.name not in ("name", "schedule", "prompt")}
    assert columns["name"] == "Digest" and columns["schedule"] == "0 9 * * *" and columns["prompt"] == "Go"
    assert columns["timezone"] is None  # the server's zone, filled in by the service
    assert columns["allowed_tools"] == json.dumps(defaults["allowed_tools"])
    assert (columns["enabled"], columns["load_project_settings"]) == (1, 0)
    assert columns["max_turns"] == defaults["max_turns"] == 50
    assert set(columns) == {f.name for f in AGENT_FIELDS}


def test_an_update_body_becomes_only_the_columns_sent():
    update = parse_agent_update({"maxTurns": 7.0, "maxBudgetUsd": None, "id": "ignored", "enabled": False})
    assert to_columns(update, only_sent=True) == {"max_turns": 7, "max_budget_usd": None, "enabled": 0}
    assert to_columns(parse_agent_update({}), only_sent=True) == {}


def schema_keywords(schema: Any, path: str = "") -> set[str]:
    if isinstance(schema, list):
        return {k for s in schema for k in schema_keywords(s, path)}
    if not isinstance(schema, dict):
        return set()
    found = set()
    for key, value in schema.items():
        if path.endswith("/properties") or path.endswith("/$defs"):
            found |= schema_keywords(value, f"{path}/{key}")
        elif key not in ("enum", "default", "examples", "const"):
            found.add(key)
            found |= schema_keywords(value, f"{path}/{key}")
    return found


def test_the_generated_schemas_use_only_json_schema_keywords():
    """pydantic writes a bound it cannot apply natively as its own name (``ge``): none may leak."""
    schemas = [request_schema(AgentCreate), *response_schemas(Agent, Run).values()]
    assert {k for s in schemas for k in schema_keywords(s)} <= KEYWORDS
    props = request_schema(AgentCreate)["properties"]
    assert props["startingDeadlineSeconds"]["type"] == ["integer", "null"]
    assert props["model"]["type"] == ["string", "null"] and "maxLength" in props["model"]


def test_responses_state_types_and_enums_but_not_input_bounds():
    agent = response_schemas(Agent)["Agent"]
    assert agent["required"] == list(agent["properties"])
    assert "maxLength" not in agent["properties"]["name"] and "maximum" not in agent["properties"]["maxTurns"]
    assert agent["properties"]["lastStatus"]["enum"][-1] is None
    assert agent["properties"]["createdAt"] == {
        "type": "string",
        "format": "date-time",
        "readOnly": True,
        "description": Agent.model_fields["created_at"].description,
    }
    assert (
        agent["properties"]["timezone"]["type"] == "string" and "enum" not in agent["properties"]["timezone"]
    )


# Each message as the hand-written checkers said it before the model (checked against them on
# 8,524 bodies, as root and not, when the model replaced them).
EMPTY_SCHEDULE = (
    "empty schedule: expected 5 fields (minute hour day-of-month month day-of-week) or one of "
    "@hourly, @daily, @weekly, @monthly, @yearly, @annually, @midnight"
)
MODEL_ID = (
    "must be a model id such as claude-sonnet-4-5: letters, digits and . - _ : [ ] /, not starting with -"
)
WORDING = [
    ("name", 5, "must be a string"),
    ("name", None, "is required"),
    ("name", "", "must not be empty"),
    ("name", "x" * 201, "must be at most 200 characters"),
    ("name", "a\tb", "must not contain control characters"),
    ("name", "a\x00b", "must not contain NUL characters"),
    ("description", "a\x00b", "must not contain NUL characters"),
    ("schedule", "", EMPTY_SCHEDULE),
    ("schedule", "0 0 31 2 *", "never fires: day 31 does not exist in February"),
    ("prompt", "   ", "must not be empty"),
    ("prompt", None, "is required"),
    ("enabled", "yes", "must be true or false"),
    ("maxTurns", 2.5, "must be an integer from 1 to 1000"),
    ("maxTurns", True, "must be an integer from 1 to 1000"),
    ("maxTurns", None, "must be an integer from 1 to 1000"),
    ("maxBudgetUsd", "1", "must be a number greater than 0, or null for no limit"),
    ("maxBudgetUsd", float("inf"), "must be a number greater than 0, or null for no limit"),
    ("maxBudgetUsd", 0, "must be greater than 0, or null for no limit"),
    ("maxBudgetUsd", 10_001, "must be at most 10000"),
    ("timezone", None, "must be an IANA time zone name such as Europe/Paris"),
    ("timezone", "europe/paris", "unknown time zone 'europe/paris' (did you mean 'Europe/Paris'?)"),
    ("model", "-p", MODEL_ID),
    ("model", "", "must not be empty"),
    ("cwd", "rel", "must be an absolute path"),
    ("cwd", "/nope/nope", "/nope/nope is not an existing directory on the server"),
    ("allowedTools", "Bash", 'must be a list of tool names, e.g. ["Read", "Bash(git log:*)"]'),
    ("allowedTools", ["Read"] * 201, "must list at most 200 tools"),
    ("allowedTools", [5], "each tool name must be a string"),
    ("allowedTools", ["a\x1b"], "each tool name must not contain control characters"),
    ("allowedTools", ["x" * 501], "each tool name must be at most 500 characters"),
    ("concurrencyPolicy", "sometimes", "must be one of forbid, allow, replace"),
    ("loadProjectSettings", 1, "must be true or false"),
    ("startingDeadlineSeconds", -1, "must be an integer from 0 to 31536000"),
    ("colour", "blue", "unknown field"),
]


@pytest.mark.parametrize(
    ("key", "value", "message"), WORDING, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(WORDING)]
)
def test_each_problem_reads_as_before(key: str, value: Any, message: str):
    with pytest.raises(ValidationError) as caught:
        parse_agent_update({key: value})
    assert caught.value.data == {key: message}
    assert caught.value.message == f"Invalid fields: {key}"


@pytest.mark.parametrize("root", [True, False])
def test_permission_modes_read_as_before_as_root_and_not(monkeypatch: pytest.MonkeyPatch, root: bool):
    monkeypatch.setattr(os, "geteuid", lambda: 0 if root else 1000)
    problems = {}
    for value in ("yolo", "bypassPermissions"):
        try:
            parse_agent_update({"permissionMode": value})
        except ValidationError as exc:
            assert exc.data is not None
            problems[value] = exc.data["permissionMode"]
    modes = "dontAsk, default, acceptEdits, plan" + ("" if root else ", bypassPermissions")
    assert problems["yolo"] == f"must be one of {modes}"
    assert problems.get("bypassPermissions") == (
        "bypassPermissions is refused while the server runs as root" if root else None
    )


def test_problems_are_named_in_the_body_s_order_and_missing_fields_last():
    with pytest.raises(ValidationError) as caught:
        parse_agent_create({"maxTurns": 0, "colour": 1, "name": ""})
    assert list(caught.value.data or {}) == ["maxTurns", "colour", "name", "schedule", "prompt"]
