"""The OpenAPI 3.1 description of the API, served at ``GET /api/openapi.json``.

Built from the code it describes: the agent and run schemas and the request
bodies generated from the typed model (:mod:`app.model`), the body limit from
:mod:`app.http_body`, the throttle from :mod:`app.throttle`. Every operation
lists every status it can answer; links from a created agent (and a started
run) to the operations on it let a stateful client (schemathesis) follow real
ids.
"""

from __future__ import annotations

from functools import cache

from app.model import AGENT_FIELDS_BY_KEY, READ_ONLY_KEYS, Agent, AgentCreate, AgentUpdate, Run, RunEvent
from app.model.channel import (
    CHANNEL_READ_ONLY,
    Channel,
    ChannelCreate,
    ChannelCreated,
    ChannelUpdate,
    Delivery,
)
from app.model.node import Node
from app.model.schema import request_schema, response_schemas
from app.model.settings import Settings, SettingsUpdate
from app.openapi_parts import (
    AGENT_STATS,
    CANCELLED,
    DELETED,
    ERROR,
    ERRORS,
    GLOBAL_STATS,
    HOOK_ANSWER,
    HOOK_HEADERS,
    PERIOD_NAMES,
    RUN_BODY,
    STARTED,
    STR,
    TRIGGER_SECRET,
    TRIGGER_SECRET_BODY,
    Schema,
    data_of,
    object_of,
    ref,
)
from app.service import MAX_RUN_LIMIT


def agent_input(*, creating: bool) -> Schema:
    """The body of a create (required fields, defaults) or of an update (any fields, no defaults)."""
    schema = request_schema(AgentCreate if creating else AgentUpdate, defaults=creating)
    schema["description"] = (
        "Each field is described in the Agent schema. Read-only fields ("
        + ", ".join(sorted(READ_ONLY_KEYS))
        + ") are accepted and ignored, so a client may send back what it read."
    )
    # The zone list is long: written once, as a component.
    schema["properties"]["timezone"] = ref("Timezone")
    if creating:
        # Exactly one way to fire: a schedule, or one time.
        schema["oneOf"] = [
            {"required": [key], "properties": {key: {"type": "string"}}} for key in ("schedule", "runAt")
        ]
    return schema


def timezone_schema() -> Schema:
    """Every time zone a body may name (the create body's own schema of ``timezone``)."""
    zone = request_schema(AgentCreate)["properties"]["timezone"]
    return {**zone, "description": AGENT_FIELDS_BY_KEY["timezone"].help}


def run_with_events() -> Schema:
    event = response_schemas(RunEvent)["RunEvent"]
    return {
        "allOf": [
            ref("Run"),
            object_of(
                {
                    "events": {"type": "array", "items": event},
                    "deliveries": {"type": "array", "items": ref("Delivery")},
                }
            ),
        ]
    }


def channel_input(*, creating: bool) -> Schema:
    schema = request_schema(ChannelCreate if creating else ChannelUpdate, defaults=creating)
    schema["description"] = (
        "Each field is described in the Channel schema. A webhook and a Slack channel need url, "
        "an email channel to; a field of another type is refused (400). type cannot be changed. "
        "Read-only fields (" + ", ".join(sorted(CHANNEL_READ_ONLY)) + ") are accepted and ignored."
    )
    return schema


_SECURED = (401, 429)
_ON_AGENT = (*_SECURED, 404, 405)
_WITH_BODY = (413, 415)

_ID = {"name": "id", "in": "path", "required": True, "schema": STR}
_RUN_ID = {"name": "runId", "in": "path", "required": True, "schema": STR}
_PERIOD = {"name": "period", "in": "query", "schema": {"enum": PERIOD_NAMES, "default": "7d"}}
_RUNS_PERIOD = {
    "name": "period",
    "in": "query",
    "schema": {"enum": PERIOD_NAMES},
    "description": "only runs started in this window (default: all)",
}
_LIMIT = {
    "name": "limit",
    "in": "query",
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_RUN_LIMIT, "default": 100},
}
_ON_CREATED = {"id": "$response.body#/data/id"}
_ON_PATH = {"id": "$request.path.id"}
AGENT_LINKS = {
    "GetAgent": ("getAgent", _ON_CREATED),
    "UpdateAgent": ("updateAgent", _ON_CREATED),
    "DeleteAgent": ("deleteAgent", _ON_CREATED),
    "RunAgent": ("runAgent", _ON_CREATED),
    "SetTriggerSecret": ("setTriggerSecret", _ON_CREATED),
    "ReceiveWebhook": ("receiveWebhook", _ON_CREATED),
    "ListRuns": ("listRuns", _ON_CREATED),
    "AgentStats": ("agentStats", _ON_CREATED),
}
CHANNEL_LINKS = {
    "GetChannel": ("getChannel", _ON_CREATED),
    "UpdateChannel": ("updateChannel", _ON_CREATED),
    "DeleteChannel": ("deleteChannel", _ON_CREATED),
}
# No link to testChannel: it sends a message for real.
# No link from a new agent to cancelRuns: with nothing running, cancel is 404 (docs/api.md).


def _json(schema: Schema, description: str = "OK") -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(code: int) -> Schema:
    return {**ERRORS[code], "content": {"application/json": {"schema": ref("Error")}}}


def _op(
    operation_id: str,
    summary: str,
    ok: Schema,
    *,
    errors: tuple[int, ...],
    params: tuple[Schema, ...] = (),
    body: Schema | None = None,
    body_required: bool = True,
    links: dict[str, tuple[str, dict[str, str]]] | None = None,
) -> Schema:
    responses: dict[str, Schema] = {"200": _json(ok)}
    if links:
        responses["200"]["links"] = {
            name: {"operationId": target, "parameters": parameters}
            for name, (target, parameters) in links.items()
        }
    responses.update({str(code): _error(code) for code in sorted(errors)})
    op: Schema = {"operationId": operation_id, "summary": summary, "responses": responses}
    if params:
        op["parameters"] = list(params)
    if body is not None:
        op["requestBody"] = {"required": body_required, "content": {"application/json": {"schema": body}}}
    return op


@cache
def openapi_document() -> Schema:
    agent = ref("Agent")
    channel = ref("Channel")
    paths: dict[str, Schema] = {
        "/healthz": {
            "get": {
                "operationId": "health",
                "summary": "Liveness",
                "security": [],
                "responses": {"200": _json(object_of({"status": {"const": "ok"}}), "up")},
            }
        },
        "/api/agents": {
            "get": _op(
                "listAgents",
                "List agents, by name",
                data_of({"type": "array", "items": agent}),
                errors=_SECURED,
            ),
            "post": _op(
                "createAgent",
                "Create an agent",
                data_of(agent),
                body=agent_input(creating=True),
                errors=(400, *_SECURED, *_WITH_BODY),
                links=AGENT_LINKS,
            ),
        },
        "/api/agents/stats": {
            "get": _op(
                "globalStats",
                "Global stats",
                data_of(GLOBAL_STATS),
                params=(_PERIOD,),
                errors=(400, *_SECURED),
            ),
        },
        "/api/agents/{id}": {
            "get": _op("getAgent", "Get an agent", data_of(agent), params=(_ID,), errors=_ON_AGENT),
            "patch": _op(
                "updateAgent",
                "Update an agent",
                data_of(agent),
                params=(_ID,),
                body=agent_input(creating=False),
                errors=(400, *_ON_AGENT, *_WITH_BODY),
            ),
            "delete": _op(
                "deleteAgent",
                "Delete an agent with its runs",
                data_of(DELETED),
                params=(_ID,),
                errors=_ON_AGENT,
            ),
        },
        "/api/agents/{id}/run": {
            "post": _op(
                "runAgent",
                "Start a run now, optionally given input (no body: none)",
                STARTED,
                params=(_ID,),
                body=RUN_BODY,
                body_required=False,
                errors=(400, *_ON_AGENT, *_WITH_BODY, 409, 503),
                links={
                    "GetRun": ("getRun", {**_ON_PATH, "runId": "$response.body#/runId"}),
                    "CancelStartedRun": ("cancelRuns", _ON_PATH),
                },
            ),
        },
        "/api/agents/{id}/trigger-secret": {
            "post": _op(
                "setTriggerSecret",
                "Create or rotate the agent's trigger secret for signed inbound webhooks (answered once)",
                data_of(TRIGGER_SECRET),
                params=(_ID,),
                body=TRIGGER_SECRET_BODY,
                body_required=False,
                errors=(400, *_ON_AGENT, *_WITH_BODY),
            ),
            "delete": _op(
                "removeTriggerSecret",
                "Remove the agent's trigger secret: its webhooks are refused from now on",
                data_of(agent),
                params=(_ID,),
                errors=_ON_AGENT,
            ),
        },
        "/hooks/agents/{id}": {
            "post": {
                **_op(
                    "receiveWebhook",
                    "A signed inbound webhook starts the agent with the body as input (no token)",
                    HOOK_ANSWER,
                    params=(_ID, *HOOK_HEADERS),
                    body={"description": "Any body; JSON is pretty-printed into the run's input"},
                    body_required=False,
                    errors=(400, 401, 404, 405, 409, 413, 429, 503),
                ),
                "security": [],
            },
        },
        "/api/agents/{id}/cancel": {
            "post": _op(
                "cancelRuns",
                "Cancel running and queued runs (no body); 404 if none",
                CANCELLED,
                params=(_ID,),
                errors=(*_ON_AGENT, *_WITH_BODY),
            ),
        },
        "/api/agents/{id}/runs": {
            "get": _op(
                "listRuns",
                "Run history, newest first",
                data_of({"type": "array", "items": ref("Run")}),
                params=(_ID, _LIMIT, _RUNS_PERIOD),
                errors=(400, *_ON_AGENT),
            ),
        },
        "/api/agents/{id}/runs/{runId}": {
            "get": _op(
                "getRun",
                "One run with its transcript",
                data_of(run_with_events()),
                params=(_ID, _RUN_ID),
                errors=_ON_AGENT,
            ),
        },
        "/api/agents/{id}/stats": {
            "get": _op(
                "agentStats",
                "Agent stats",
                data_of(AGENT_STATS),
                params=(_ID, _PERIOD),
                errors=(400, *_ON_AGENT),
            ),
        },
        "/api/channels": {
            "get": _op(
                "listChannels", "List channels", data_of({"type": "array", "items": channel}), errors=_SECURED
            ),
            "post": _op(
                "createChannel",
                "Create a channel (a webhook's signing secret is answered only here)",
                data_of(ref("ChannelCreated")),
                body=channel_input(creating=True),
                errors=(400, *_SECURED, *_WITH_BODY),
                links=CHANNEL_LINKS,
            ),
        },
        "/api/channels/{id}": {
            "get": _op("getChannel", "Get a channel", data_of(channel), params=(_ID,), errors=_ON_AGENT),
            "patch": _op(
                "updateChannel",
                "Update a channel",
                data_of(channel),
                params=(_ID,),
                body=channel_input(creating=False),
                errors=(400, *_ON_AGENT, *_WITH_BODY),
            ),
            "delete": _op(
                "deleteChannel",
                "Delete a channel (and name it no more in agents and settings)",
                data_of(object_of({"id": STR, "name": STR})),
                params=(_ID,),
                errors=_ON_AGENT,
            ),
        },
        "/api/channels/{id}/test": {
            "post": _op(
                "testChannel",
                "Send a test message now, once (no body); the delivery as recorded",
                data_of(ref("Delivery")),
                params=(_ID,),
                errors=(*_ON_AGENT, *_WITH_BODY),
            ),
        },
        "/api/settings": {
            "get": _op("getSettings", "The settings", data_of(ref("Settings")), errors=_SECURED),
            "patch": _op(
                "updateSettings",
                "Change settings: only the fields sent",
                data_of(ref("Settings")),
                body=request_schema(SettingsUpdate, defaults=False),
                errors=(400, *_SECURED, *_WITH_BODY),
            ),
        },
        "/api/nodes": {
            "get": _op(
                "listNodes",
                "The servers sharing this database: lease, heartbeat, runs now",
                data_of({"type": "array", "items": ref("Node")}),
                errors=_SECURED,
            ),
        },
        "/api/events": {
            "get": {
                "operationId": "events",
                "summary": "Server-sent events: run and agent changes; "
                "the stream ends when its token is revoked",
                "parameters": [{"name": "agentId", "in": "query", "schema": STR}],
                "responses": {
                    "200": {
                        "description": "An endless stream",
                        "content": {"text/event-stream": {"schema": STR}},
                    },
                    **{str(c): _error(c) for c in _SECURED},
                },
            },
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Cron Agents API", "version": "1"},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                **response_schemas(Agent, Run, Channel, ChannelCreated, Delivery, Settings, Node),
                "Error": ERROR,
                "Timezone": timezone_schema(),
            },
        },
        "security": [{"bearer": []}],
        "paths": paths,
    }
