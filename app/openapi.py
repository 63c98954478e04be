"""The OpenAPI 3.1 description of the API, served at ``GET /api/openapi.json``."""

from __future__ import annotations

from functools import cache
from typing import Any

from app.validation import CONCURRENCY_POLICIES, PERMISSION_MODES

_TS = {"type": ["string", "null"], "format": "date-time"}
_RUN_STATUSES = ["queued", "running", "success", "error", "budget_exceeded", "cancelled", "skipped"]

AGENT_INPUT: dict[str, Any] = {
    "name": {"type": "string", "minLength": 1, "maxLength": 200},
    "description": {"type": ["string", "null"], "maxLength": 2000},
    "schedule": {
        "type": "string",
        "description": "5-field cron expression or @hourly, @daily, @weekly, @monthly",
    },
    "prompt": {"type": "string", "minLength": 1},
    "enabled": {"type": "boolean", "default": True},
    "maxTurns": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50},
    "maxBudgetUsd": {"type": ["number", "null"], "exclusiveMinimum": 0},
    "timezone": {"type": "string", "description": "IANA zone; default: the server's zone"},
    "model": {"type": ["string", "null"]},
    "cwd": {"type": ["string", "null"], "description": "absolute directory on the server"},
    "allowedTools": {"type": "array", "items": {"type": "string"}},
    "permissionMode": {"enum": list(PERMISSION_MODES), "default": "dontAsk"},
    "timeoutSeconds": {"type": "integer", "minimum": 1, "default": 1800},
    "concurrencyPolicy": {"enum": list(CONCURRENCY_POLICIES), "default": "forbid"},
    "startingDeadlineSeconds": {"type": ["integer", "null"], "minimum": 0, "default": 3600},
    "loadProjectSettings": {
        "type": "boolean",
        "default": False,
        "description": "load .claude settings and hooks found in cwd",
    },
}

AGENT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        **AGENT_INPUT,
        "nextRunAt": _TS,
        "lastRunAt": _TS,
        "lastStatus": {"type": ["string", "null"], "enum": [*_RUN_STATUSES, None]},
        "creator": {
            "type": ["object", "null"],
            "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
        },
        "createdAt": _TS,
        "updatedAt": _TS,
    },
}

RUN: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "agentId": {"type": "string"},
        "status": {"enum": _RUN_STATUSES},
        "trigger": {"enum": ["manual", "schedule"]},
        "scheduledFor": _TS,
        "output": {"type": ["string", "null"]},
        "costUsd": {"type": ["number", "null"]},
        "inputTokens": {"type": ["integer", "null"]},
        "outputTokens": {"type": ["integer", "null"]},
        "numTurns": {"type": ["integer", "null"]},
        "startedAt": _TS,
        "completedAt": _TS,
        "durationMs": {"type": ["integer", "null"]},
    },
}

DAILY = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "date": {"type": "string", "format": "date"},
            "success": {"type": "integer"},
            "error": {"type": "integer"},
            "total": {"type": "integer"},
            "skipped": {"type": "integer"},
            "costUsd": {"type": "number"},
        },
    },
}

ERROR = {
    "type": "object",
    "properties": {
        "statusCode": {"type": "integer"},
        "statusMessage": {"type": "string"},
        "message": {"type": "string"},
        "data": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "required": ["statusCode", "statusMessage", "message"],
}


def _data(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {"data": schema}, "required": ["data"]}


def _ok(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERR = {"$ref": "#/components/schemas/Error"}
_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
_PERIOD = {
    "name": "period",
    "in": "query",
    "schema": {"enum": ["24h", "7d", "30d"], "default": "7d"},
}


def _op(summary: str, response: dict[str, Any], *, params: list[Any] | None = None,
        body: dict[str, Any] | None = None, errors: tuple[int, ...] = (401,)) -> dict[str, Any]:  # fmt: skip
    op: dict[str, Any] = {"summary": summary, "responses": {"200": response}}
    for code in errors:
        op["responses"][str(code)] = _ok(_ERR, {400: "Invalid input", 401: "Missing or bad token",
                                                 404: "Not found"}[code])  # fmt: skip
    if params:
        op["parameters"] = params
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return op


@cache
def openapi_document() -> dict[str, Any]:
    agent = {"$ref": "#/components/schemas/Agent"}
    run = {"$ref": "#/components/schemas/Run"}
    create = {"type": "object", "properties": AGENT_INPUT, "required": ["name", "schedule",
              "prompt"], "additionalProperties": False}  # fmt: skip
    update = {"type": "object", "properties": AGENT_INPUT, "additionalProperties": False}
    stats_common = {"successRate": {"type": "integer"}, "totalCostUsd": {"type": "number"},
                    "skippedRuns": {"type": "integer"}, "dailyRuns": DAILY}  # fmt: skip
    return {
        "openapi": "3.1.0",
        "info": {"title": "Cron Agents API", "version": "1"},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Agent": AGENT, "Run": RUN, "Error": ERROR},
        },
        "security": [{"bearer": []}],
        "paths": {
            "/healthz": {"get": {"summary": "Liveness", "security": [],
                                 "responses": {"200": {"description": "up"}}}},  # fmt: skip
            "/api/agents": {
                "get": _op("List agents, by name", _ok(_data({"type": "array", "items": agent}))),
                "post": _op("Create an agent", _ok(_data(agent)), body=create, errors=(400, 401)),
            },
            "/api/agents/stats": {
                "get": _op("Global stats", _ok(_data({"type": "object", "properties": {
                    "totalAgents": {"type": "integer"}, "activeAgents": {"type": "integer"},
                    "runsInPeriod": {"type": "integer"}, **stats_common,
                    "runningAgentIds": {"type": "array", "items": {"type": "string"}}}})),
                    params=[_PERIOD], errors=(400, 401)),
            },  # fmt: skip
            "/api/agents/{id}": {
                "get": _op("Get an agent", _ok(_data(agent)), params=[_ID], errors=(401, 404)),
                "patch": _op("Update an agent", _ok(_data(agent)), params=[_ID], body=update,
                             errors=(400, 401, 404)),  # fmt: skip
                "delete": _op("Delete an agent with its runs", _ok(_data({"type": "object"})),
                              params=[_ID], errors=(401, 404)),  # fmt: skip
            },
            "/api/agents/{id}/run": {
                "post": _op("Start a run now", _ok({"type": "object", "properties": {
                    "message": {"const": "Agent started"}, "runId": {"type": "string"}}}),
                    params=[_ID], errors=(401, 404)),
            },  # fmt: skip
            "/api/agents/{id}/cancel": {
                "post": _op("Cancel running and queued runs", _ok({"type": "object", "properties": {
                    "success": {"type": "boolean"}, "message": {"type": "string"},
                    "cancelledCount": {"type": "integer"}}}), params=[_ID], errors=(401, 404)),
            },  # fmt: skip
            "/api/agents/{id}/runs": {
                "get": _op("Run history, newest first", _ok(_data({"type": "array", "items": run})),
                           params=[_ID, {"name": "limit", "in": "query", "schema": {
                               "type": "integer", "minimum": 1, "maximum": 1000, "default": 100}},
                               {**_PERIOD, "schema": {"enum": ["24h", "7d", "30d"]}}],
                           errors=(400, 401, 404)),
            },  # fmt: skip
            "/api/agents/{id}/runs/{runId}": {
                "get": _op("One run with its transcript", _ok(_data(run)), params=[_ID, {
                    "name": "runId", "in": "path", "required": True, "schema": {"type": "string"}}],
                    errors=(401, 404)),
            },  # fmt: skip
            "/api/agents/{id}/stats": {
                "get": _op("Agent stats", _ok(_data({"type": "object", "properties": {
                    "totalRuns": {"type": "integer"}, "avgDurationMs": {"type": "integer"},
                    "lastRunAt": _TS, **stats_common}})), params=[_ID, _PERIOD],
                    errors=(400, 401, 404)),
            },  # fmt: skip
            "/api/events": {
                "get": {"summary": "Server-sent events: run and agent changes",
                        "parameters": [{"name": "agentId", "in": "query",
                                        "schema": {"type": "string"}}],
                        "responses": {"200": {"description": "text/event-stream"}}},
            },  # fmt: skip
        },
    }
