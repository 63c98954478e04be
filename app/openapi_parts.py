"""The parts of the OpenAPI document that do not come from the typed model: stats, errors, helpers."""

from __future__ import annotations

from typing import Any

from app.http_body import MAX_BODY_BYTES
from app.model.schema import REF_TEMPLATE
from app.stats import PERIOD_DAYS
from app.throttle import FAILURE_LIMIT, WINDOW_SECONDS

Schema = dict[str, Any]

TS: Schema = {"type": ["string", "null"], "format": "date-time"}
INT: Schema = {"type": "integer"}
NUM: Schema = {"type": "number"}
STR: Schema = {"type": "string"}


def object_of(properties: dict[str, Schema], *, optional: tuple[str, ...] = ()) -> Schema:
    required = [name for name in properties if name not in optional]
    return {"type": "object", "properties": properties, "required": required}


def ref(name: str) -> Schema:
    return {"$ref": REF_TEMPLATE.format(model=name)}


def data_of(schema: Schema) -> Schema:
    return object_of({"data": schema})


DAILY: Schema = {
    "type": "array",
    "items": object_of(
        {
            "date": {"type": "string", "format": "date"},
            "success": INT,
            "error": INT,
            "total": INT,
            "skipped": INT,
            "costUsd": NUM,
        }
    ),
}
PERIOD_NAMES = list(PERIOD_DAYS)
STATS_COMMON: dict[str, Schema] = {
    "successRate": {"type": "integer", "minimum": 0, "maximum": 100},
    "avgDurationMs": INT,
    "totalCostUsd": NUM,
    "skippedRuns": INT,
    "period": {"enum": PERIOD_NAMES},
    "dailyRuns": DAILY,
}
AGENT_STATS = object_of({"totalRuns": INT, "lastRunAt": TS, **STATS_COMMON})
NULLABLE_NUM: Schema = {"type": ["number", "null"]}
COST_BY_AGENT: Schema = {
    "type": "array",
    "description": "Agents with runs or spend in the period or this month, most expensive first "
    "(an agent not listed spent nothing)",
    "items": object_of(
        {
            "agentId": STR,
            "name": STR,
            "costUsd": NUM,
            "runs": INT,
            "todayUsd": NUM,
            "monthUsd": NUM,
        }
    ),
}
SPEND: Schema = {
    **object_of(
        {
            "todayUsd": NUM,
            "monthUsd": NUM,
            "dailyBudgetUsd": NULLABLE_NUM,
            "monthlyBudgetUsd": NULLABLE_NUM,
        }
    ),
    "description": "What all agents spent today and this month (the stats time zone), and the global caps",
}
GLOBAL_STATS = object_of(
    {
        "totalAgents": INT,
        "activeAgents": INT,
        "runsInPeriod": INT,
        "runningAgentIds": {"type": "array", "items": STR},
        **STATS_COMMON,
        "costByAgent": COST_BY_AGENT,
        "spend": SPEND,
    }
)
RUN_BODY: Schema = {
    "type": "object",
    "properties": {
        "input": {
            "description": "What the run is given: its prompt's {{input}}, or appended under a heading "
            "when the prompt has none; text as is, other JSON indented. null: none"
        }
    },
    "additionalProperties": False,
}
TRIGGER_SECRET_BODY: Schema = {
    "type": "object",
    "properties": {
        "secret": {
            "type": ["string", "null"],
            "minLength": 16,
            "maxLength": 200,
            "pattern": "^[^\\x00]*$",
            "description": "The secret to use (e.g. the one a sender already has); absent or null: a "
            "new whsec_ secret",
        }
    },
    "additionalProperties": False,
}
TRIGGER_SECRET = {
    **object_of({"secret": STR, "url": STR}),
    "description": "The secret (shown only here) and the path signed webhooks go to",
}
HOOK_ANSWER = object_of({"message": {"enum": ["Agent started", "Already received"]}, "runId": STR})
HOOK_HEADERS: list[Schema] = [
    {"name": name, "in": "header", "schema": STR, "description": description}
    for name, description in (
        ("X-Hub-Signature-256", "GitHub: sha256=<hex HMAC-SHA256 of the raw body under the secret>"),
        ("X-GitHub-Delivery", "GitHub: the delivery id (a repeated one starts no second run)"),
        ("webhook-id", "Standard Webhooks: the message id (a repeated one starts no second run)"),
        ("webhook-timestamp", "Standard Webhooks: Unix seconds, within 5 minutes of now"),
        ("webhook-signature", "Standard Webhooks: v1,<base64 HMAC-SHA256 of id.timestamp.body>"),
    )
]
DELETED = object_of({"id": STR, "name": STR, "deletedRuns": INT})
STARTED = object_of({"message": {"const": "Agent started"}, "runId": STR})
CANCELLED = object_of(
    {"success": {"const": True}, "message": STR, "cancelledCount": {"type": "integer", "minimum": 1}}
)
ERROR: Schema = {
    **object_of(
        {
            "statusCode": INT,
            "statusMessage": STR,
            "message": STR,
            "data": {"type": "object", "additionalProperties": STR},
        },
        optional=("data",),
    ),
    "description": "data: one problem per field, for 400 validation errors",
}

HEADER_INT = {"schema": {"type": "integer", "minimum": 1}}
ERRORS: dict[int, Schema] = {
    400: {"description": "Invalid input: data names each bad field"},
    401: {
        "description": "Missing, bad or revoked token (on /hooks: a missing or bad signature)",
        "headers": {"WWW-Authenticate": {"schema": STR, "required": True}},
    },
    404: {"description": "No such agent, run or channel (or path)"},
    405: {
        "description": "Method not allowed here (an id holding '/' can reach another path)",
        "headers": {"Allow": {"schema": STR, "required": True}},
    },
    413: {"description": f"Body over {MAX_BODY_BYTES} bytes (decided from Content-Length, or while reading)"},
    409: {"description": "Refused now: a spend cap is reached, or runs are held after a usage limit"},
    415: {"description": "A body that is not application/json"},
    429: {
        "description": f"More than {FAILURE_LIMIT} failed authentications (on /hooks: refused webhooks) "
        f"from this address within {WINDOW_SECONDS:g} s; a valid token (signature) is never throttled",
        "headers": {"Retry-After": {**HEADER_INT, "required": True}},
    },
    503: {"description": "The server is shutting down"},
}
