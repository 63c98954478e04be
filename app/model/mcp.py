"""An agent's MCP servers, in the Claude Agent SDK's own format.

``mcpServers`` is an object of named servers: a local one started over stdio
``{"command", "args", "env"}`` (``"type": "stdio"`` optional), or a remote one
``{"type": "http" | "sse", "url", "headers"}``. The shape is checked here; the
SDK passes the object to Claude Code as is, which expands ``${NAME}`` in it
from the run's environment (so ``${TRACKER_TOKEN}`` names one of the agent's
secrets without writing its value here). Their tools are named
``mcp__<server>__<tool>``; under ``dontAsk`` a tool runs only when
``allowedTools`` lists it, or its whole server as ``mcp__<server>``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, model_validator
from pydantic.alias_generators import to_camel

from app.model.channel import URL_MAX_LENGTH, Url
from app.model.rules import Stored, Wording, problem
from app.model.schema import ApiJsonSchema
from app.model.secrets import ENV_NAME_MAX_LENGTH, ENV_NAME_PATTERN, SECRET_MAX_LENGTH

SERVER_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"
SERVER_NAME_MAX_LENGTH = 64
MAX_SERVERS = 20
MAX_ARGS = 100
ARG_MAX_LENGTH = 4096
HEADER_NAME_PATTERN = r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$"
HEADER_VALUE_PATTERN = r"^[^\x00\r\n]*$"
NO_NUL = r"^[^\x00]*$"
STDIO_KEYS = ("command", "args", "env")
REMOTE_KEYS = ("url", "headers")

McpType = Literal["stdio", "http", "sse"]
Text = Annotated[str, Field(max_length=ARG_MAX_LENGTH, pattern=NO_NUL)]
EnvVars = dict[
    Annotated[str, Field(max_length=ENV_NAME_MAX_LENGTH, pattern=ENV_NAME_PATTERN)],
    Annotated[str, Field(max_length=SECRET_MAX_LENGTH, pattern=NO_NUL)],
]
Headers = dict[
    Annotated[str, Field(max_length=200, pattern=HEADER_NAME_PATTERN)],
    Annotated[str, Field(max_length=SECRET_MAX_LENGTH, pattern=HEADER_VALUE_PATTERN)],
]


class McpServer(BaseModel):
    """One MCP server of an agent: local (stdio) or remote (http, sse)."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="forbid", strict=True
    )

    type: McpType = Field("stdio", title="Type", description="stdio (a local command), http or sse")
    command: Annotated[str, Field(min_length=1, max_length=ARG_MAX_LENGTH, pattern=NO_NUL)] | None = Field(
        None, title="Command", description="stdio: the program to start", examples=["npx"]
    )
    args: Annotated[list[Text], Field(max_length=MAX_ARGS)] = Field(
        [], title="Arguments", description="stdio: its arguments", examples=[["-y", "@acme/tracker-mcp"]]
    )
    env: EnvVars = Field(
        {},
        title="Environment",
        description="stdio: extra environment of the server; ${NAME} takes the run's variable NAME "
        "(e.g. one of the agent's secrets)",
        examples=[{"TRACKER_TOKEN": "${TRACKER_TOKEN}"}],
    )
    url: Url | None = Field(
        None,
        title="URL",
        description="http, sse: the server's address",
        examples=["https://mcp.example.com/mcp"],
    )
    headers: Headers = Field(
        {},
        title="Headers",
        description="http, sse: headers of every request; ${NAME} as in env",
        examples=[{"Authorization": "Bearer ${TRACKER_TOKEN}"}],
    )

    @model_validator(mode="after")
    def _one_kind(self) -> McpServer:
        sent = self.model_fields_set
        if self.type == "stdio":
            if self.command is None:
                raise problem("command: is required for a stdio server (or type http / sse with url)")
            extra = [key for key in REMOTE_KEYS if key in sent]
            if extra:
                raise problem(f"{', '.join(extra)}: only for type http or sse")
        else:
            if self.url is None:
                raise problem(f"url: is required for type {self.type}")
            extra = [key for key in STDIO_KEYS if key in sent]
            if extra:
                raise problem(f"{', '.join(extra)}: only for a stdio server")
        return self


def _branch(types: list[str], keys: tuple[str, ...], required: list[str]) -> dict[str, Any]:
    """One kind of server as JSON Schema, from the model's own field schemas."""
    fields = McpServer.model_json_schema(mode="validation", schema_generator=ApiJsonSchema)["properties"]
    properties = {"type": {"enum": types}, **{key: fields[key] for key in keys}}
    for prop in properties.values():
        for keyword in ("title", "description", "examples", "default"):
            prop.pop(keyword, None)
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


def _request_schema() -> dict[str, Any]:
    """What validation accepts: one of the two kinds (the model states it in a validator)."""
    stdio = _branch(["stdio"], STDIO_KEYS, ["command"])
    stdio["properties"]["command"] = {
        "type": "string",
        "minLength": 1,
        "maxLength": ARG_MAX_LENGTH,
        "pattern": NO_NUL,
    }
    remote = _branch(["http", "sse"], REMOTE_KEYS, ["type", "url"])
    remote["properties"]["url"] = {"type": "string", "maxLength": URL_MAX_LENGTH, "format": "uri"}
    return {"oneOf": [stdio, remote]}


def _sdk_form(server: dict[str, Any]) -> dict[str, Any]:
    """A validated server (as dumped) in the SDK's format: its kind's keys only."""
    kind = server.get("type") or "stdio"
    keys = STDIO_KEYS if kind == "stdio" else REMOTE_KEYS
    return {"type": kind, **{key: server[key] for key in keys if server.get(key) is not None}}


def _sdk_json(servers: dict[str, Any]) -> str:
    return json.dumps({name: _sdk_form(server) for name, server in servers.items()})


ServerName = Annotated[str, Field(max_length=SERVER_NAME_MAX_LENGTH, pattern=SERVER_NAME_PATTERN)]
McpServers = Annotated[
    dict[ServerName, Annotated[McpServer, WithJsonSchema(_request_schema(), mode="validation")]],
    Field(max_length=MAX_SERVERS),
    Wording(
        type='must be an object of named servers, e.g. {"tracker": {"command": "npx", "args": [...]}}',
        too_long="must hold at most {max_length} servers",
        key="server names are letters, digits, _ and -, starting with a letter or digit",
    ),
    WithJsonSchema(
        {
            "type": "object",
            "maxProperties": MAX_SERVERS,
            "propertyNames": {"maxLength": SERVER_NAME_MAX_LENGTH, "pattern": SERVER_NAME_PATTERN},
            "additionalProperties": _request_schema(),
        },
        mode="validation",
    ),
    Stored(load=json.loads, dump=_sdk_json),
]
"""Named MCP servers; stored (and shown, and given to the SDK) in the SDK's format: each with its
``type`` and its kind's keys only."""
