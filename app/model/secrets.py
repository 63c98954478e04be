"""An agent's secrets (``env``) as the model states them: names, values, the mask.

Written ``{"NAME": "value"}`` (null deletes a name), read as the names with
:data:`SECRET_MASK`. Sealing, merging and opening them is
:mod:`app.agent_secrets`' job.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field, PlainSerializer, WithJsonSchema

from app.model.rules import Wording, problem

ENV_NAME_MAX_LENGTH = 128
ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
RESERVED_ENV_PREFIX = "CRONAGENTS_"
SECRET_MAX_LENGTH = 10_000
MAX_SECRETS = 50
SECRET_MASK = "********"
"""How a secret's value reads in every answer; sent back in an update, it keeps the value."""


def _not_reserved(name: str) -> str:
    if name.upper().startswith(RESERVED_ENV_PREFIX):
        raise problem(f"{name}: names starting with {RESERVED_ENV_PREFIX} are the server's own")
    return name


def _masked(values: dict[str, Any]) -> dict[str, str]:
    return dict.fromkeys(values, SECRET_MASK)


EnvName = Annotated[
    str, Field(max_length=ENV_NAME_MAX_LENGTH, pattern=ENV_NAME_PATTERN), AfterValidator(_not_reserved)
]
SecretValue = Annotated[str, Field(min_length=1, max_length=SECRET_MAX_LENGTH, pattern=r"^[^\x00]*$")]
SecretEnv = Annotated[
    dict[EnvName, SecretValue | None],
    Field(max_length=MAX_SECRETS),
    Wording(
        type='must be an object of names and values, e.g. {"API_TOKEN": "..."} (null deletes a name)',
        too_long="must hold at most {max_length} names",
        key="names are letters, digits and _, not starting with a digit",
        pattern="must not contain NUL characters",
    ),
    PlainSerializer(_masked, return_type=dict[str, str], when_used="json"),
    WithJsonSchema(
        {
            "type": "object",
            "maxProperties": MAX_SECRETS,
            "propertyNames": {"maxLength": ENV_NAME_MAX_LENGTH, "pattern": ENV_NAME_PATTERN},
            "additionalProperties": {
                "type": ["string", "null"],
                "minLength": 1,
                "maxLength": SECRET_MAX_LENGTH,
                "pattern": "^[^\\x00]*$",
            },
        },
        mode="validation",
    ),
    WithJsonSchema(
        {
            "type": "object",
            "additionalProperties": {"const": "********"},
            "description": "Each secret's name; its value is never shown",
        },
        mode="serialization",
    ),
]
"""An agent's secrets: name → value when written (null deletes), name → the mask when read.

Stored sealed (encrypted, :mod:`app.secret_box`) by the service; the typed agent holds
the sealed values, which the runner opens for the run's environment."""
