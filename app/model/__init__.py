"""The typed model of an agent and a run: the one place a field is defined.

From the fields declared in :mod:`app.model.agent` and :mod:`app.model.run`
come request validation (:mod:`app.validation`), defaults and bounds, the
OpenAPI components (:mod:`app.model.schema`), the API's JSON and the typed
objects the scheduler and runner read (:mod:`app.model.rows`), and the
dashboard editor's fields (:mod:`app.model.fields`).

The domain layer: imports pydantic, the standard library and ``app.cron``,
``app.errors``, ``app.timeutil``; nothing of storage, the service, the API or
the UI.
"""

from app.model.agent import (
    CONCURRENCY_POLICIES,
    PERMISSION_MODES,
    Agent,
    AgentCreate,
    AgentUpdate,
    ConcurrencyPolicy,
    Creator,
    PermissionMode,
    allowed_permission_modes,
)
from app.model.fields import AGENT_FIELDS, AGENT_FIELDS_BY_KEY, NO_DEFAULT, READ_ONLY_KEYS, FieldSpec, Rules
from app.model.rows import (
    agent_from_json,
    agent_from_row,
    agent_json,
    event_json,
    run_from_row,
    run_json,
    to_columns,
)
from app.model.run import RUN_STATUSES, Run, RunEvent, RunStatus, RunTrigger

__all__ = [
    "AGENT_FIELDS",
    "AGENT_FIELDS_BY_KEY",
    "CONCURRENCY_POLICIES",
    "NO_DEFAULT",
    "PERMISSION_MODES",
    "READ_ONLY_KEYS",
    "RUN_STATUSES",
    "Agent",
    "AgentCreate",
    "AgentUpdate",
    "ConcurrencyPolicy",
    "Creator",
    "FieldSpec",
    "PermissionMode",
    "Rules",
    "Run",
    "RunEvent",
    "RunStatus",
    "RunTrigger",
    "agent_from_json",
    "agent_from_row",
    "agent_json",
    "allowed_permission_modes",
    "event_json",
    "run_from_row",
    "run_json",
    "to_columns",
]
