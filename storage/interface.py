"""The storage interface: what the rest of cronagents may ask of a database.

Everything above ``storage/`` talks to a :class:`Storage`; a backend
implements it (SQLite, :mod:`storage.sqlite`; PostgreSQL, :mod:`storage.postgres`;
:mod:`storage.backend` picks one from ``--db``). No backend-specific
meaning crosses it: rows are read by column name, a slot claim is "insert if
absent on a unique key", pre-encoded claims are opaque, times are integer
milliseconds since the epoch (UTC), days are ``YYYY-MM-DD`` strings.

Rows carry the columns of their table (snake_case), plus ``creator_name`` on
agents; see ``storage/migrations.py`` for the columns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, NewType, Protocol

from storage.records import (
    Alert,
    ChainedRun,
    DeliveryResult,
    NewDelivery,
    RetryRun,
    RunOutcome,
    Settlement,
    WindowSpend,
)

__all__ = [  # the records of storage.records are part of this interface too
    "AgentStore",
    "Alert",
    "ChainedRun",
    "ChangeStore",
    "ChannelStore",
    "DayOf",
    "DeliveryResult",
    "DeliveryStore",
    "EncodedClaims",
    "LeaseStore",
    "NewDelivery",
    "RetryRun",
    "Row",
    "RunOutcome",
    "RunStore",
    "SettingStore",
    "Settlement",
    "SlotClaim",
    "SlotStore",
    "StatsStore",
    "Storage",
    "TokenStore",
    "WindowSpend",
]

SlotClaim = tuple[str, str, int, str]
"""``(run_id, agent_id, scheduled_for, status)`` of a slot claim."""

EncodedClaims = NewType("EncodedClaims", str)
"""Claims encoded by :meth:`SlotStore.encode` ahead of time (opaque to callers)."""

DayOf = Callable[[int], str]
"""The calendar day (``YYYY-MM-DD``, in the stats zone) of an instant in ms."""


class Row(Protocol):
    """One row, read by column name (or position)."""

    def __getitem__(self, key: str | int, /) -> Any: ...

    def keys(self) -> Iterable[str]: ...

    def __iter__(self) -> Iterator[Any]:
        """The values, in the order of :meth:`keys`."""


class AgentStore(Protocol):
    async def insert(self, values: Mapping[str, Any]) -> Row:
        """Insert (columns → values); the row as the inserting transaction read it."""

    async def update(self, agent_id: str, values: Mapping[str, Any]) -> Row | None:
        """Update; the row as written, None when there is no such agent."""

    async def get(self, agent_id: str) -> Row | None: ...

    async def set_trigger_secret(self, agent_id: str, sealed: str | None) -> Row | None:
        """Set or remove (None) the agent's sealed trigger secret; its row (None: no such agent)."""

    async def end_one_shot(self, agent_id: str, run_at: int, now_ms: int) -> Row | None:
        """Disable a one-shot agent still enabled for ``run_at``; its row, None if it was not."""

    async def all(self) -> list[Row]:
        """Every agent (unordered: sorting by name is the service's rule)."""

    async def list_enabled(self) -> list[Row]: ...

    async def count(self) -> tuple[int, int]:
        """(all agents, enabled agents)."""

    async def delete(self, agent_id: str) -> int:
        """Delete with its runs, events and stats, and take it out of other agents' chains
        (``onSuccess``, ``onFailure``); returns the number of runs removed."""

    async def count_runs(self, agent_id: str) -> int:
        """Runs of the agent, skipped slots not counted."""

    async def missing(self, agent_ids: Iterable[str]) -> list[str]:
        """Those of ``agent_ids`` that name no agent."""


class RunStore(Protocol):
    async def insert(
        self,
        run_id: str,
        agent_id: str,
        status: str,
        started_at: int,
        *,
        trigger: str = "manual",
        scheduled_for: int | None = None,
        owner: str | None = None,
        input: str | None = None,
    ) -> None: ...

    async def insert_delivered(
        self,
        run_id: str,
        agent_id: str,
        started_at: int,
        owner: str,
        input: str | None,
        delivery_ids: Sequence[str],
        forget_before: int,
    ) -> tuple[str, bool]:
        """A queued ``webhook`` run for an inbound delivery, unless one of ``delivery_ids`` came
        before: ``(run id, True)`` when inserted, ``(the earlier run's id, False)`` when not.
        Deliveries received before ``forget_before`` are forgotten first."""

    async def chain(self, run_id: str) -> list[str]:
        """The agents of a run and of the runs that chained to it: its own first, the first run's last."""

    async def last_output(self, agent_id: str, besides_run_id: str) -> str | None:
        """The output of the agent's latest successful run other than ``besides_run_id``."""

    async def skip(self, run_id: str, reason: str, at: int, day_of: DayOf) -> Row | None:
        """End a queued run as ``skipped`` (not started: counted as a skipped slot, not a run)."""

    async def unsettled(self, limit: int = 100) -> list[Row]:
        """Ended runs whose aftermath (:class:`Settlement`) is not recorded yet, oldest end first."""

    async def settle(self, settlement: Settlement, day_of: DayOf) -> str:
        """Apply a settlement: ``settled``, ``already`` (another did), or ``conflict`` (decide again).

        Chained runs recorded ``skipped`` are counted in the stats of ``day_of(settlement.at)``."""

    async def adopt_retries(self, live_owners: Iterable[str], owner: str) -> list[Row]:
        """Take over the queued retries of servers without a live lease; the rows taken."""

    async def mark_running(self, run_id: str, agent_id: str, started_at: int) -> bool:
        """Start a queued run; False when it is no longer queued."""

    async def start_within(self, run_id: str, agent_id: str, started_at: int, limit: int) -> str:
        """Start a queued run only while fewer than ``limit`` runs are running in the whole
        database (every server): ``started``, ``full`` (try again later) or ``gone`` (no longer
        queued). Starts are serialised, so the limit holds however many servers start at once."""

    async def finish(self, run_id: str, outcome: RunOutcome, day_of: DayOf) -> Row | None:
        """Give an active run its final status (counted in the stats once); None if already final."""

    async def finish_many(self, run_ids: Iterable[str], outcome: RunOutcome, day_of: DayOf) -> list[Row]: ...

    async def orphaned(self, live_owners: Iterable[str]) -> list[Row]:
        """Active runs whose owner is none of ``live_owners``."""

    async def request_cancel(self, run_ids: Sequence[str], reason: str) -> list[str]:
        """Record cancel requests (and tell the change feed); the runs still active."""

    async def cancel_requests(self, owner: str) -> list[Row]: ...

    async def statuses(self, run_ids: Sequence[str]) -> dict[str, str]: ...

    async def add_events(self, run_id: str, events: Sequence[tuple[int, int, str, str]]) -> None:
        """Append transcript events ``(seq, at_ms, type, json_data)``."""

    async def history(self, agent_id: str, limit: int, since_ms: int | None) -> list[Row]:
        """The agent's runs started at or after ``since_ms``, newest first."""

    async def get(self, run_id: str) -> Row | None: ...

    async def events(self, run_id: str) -> list[Row]: ...

    async def active(self, agent_id: str | None = None) -> list[Row]: ...

    async def running_agent_ids(self) -> list[str]: ...


class SlotStore(Protocol):
    def encode(self, claims: Sequence[SlotClaim]) -> EncodedClaims: ...

    async def claim(self, claims: EncodedClaims, started_at: int, owner: str | None) -> set[str]:
        """Insert the claims absent on (agent, scheduled time); the run ids that were inserted."""

    async def release(self, run_ids: Sequence[str]) -> None: ...

    async def record_skipped(
        self, slots: Iterable[tuple[str, str, int, str]], now_ms: int, day_of: DayOf
    ) -> set[str]: ...

    async def busy_agent_ids(self, besides_slot: int | None = None) -> set[str]: ...

    async def ended_claims(self, slot: int) -> set[str]: ...

    async def latest_slots(self) -> dict[str, int]: ...

    async def store_next_run_times(self, rows: Sequence[tuple[int, str, str, str]]) -> None: ...


class ChannelStore(Protocol):
    async def insert(self, values: Mapping[str, Any]) -> Row: ...

    async def update(self, channel_id: str, values: Mapping[str, Any]) -> Row | None: ...

    async def get(self, channel_id: str) -> Row | None: ...

    async def all(self) -> list[Row]:
        """Every channel, by name."""

    async def delete(self, channel_id: str) -> bool:
        """Delete it and take it out of every agent's and the settings' channel lists."""

    async def missing(self, channel_ids: Iterable[str]) -> list[str]:
        """Those of ``channel_ids`` that name no channel."""


class DeliveryStore(Protocol):
    async def raise_alerts(self, alerts: Sequence[Alert], now_ms: int, due_at: int | None = None) -> int:
        """Record alerts (each once per its ``once``), first due at ``due_at`` (default now);
        the number of deliveries recorded."""

    async def claim_due(self, now_ms: int, owner: str, lock_ms: int, limit: int) -> list[Row]:
        """Pending deliveries due now and not locked by a live try; locked for ``owner``."""

    async def record(self, results: Sequence[DeliveryResult]) -> None: ...

    async def next_due(self) -> int | None:
        """When ``claim_due`` can next find a pending delivery (its ``next_attempt_at``, or when
        its lock lapses if it is locked)."""

    async def for_run(self, run_id: str) -> list[Row]: ...

    async def get(self, delivery_id: str) -> Row | None: ...


class SettingStore(Protocol):
    async def all(self) -> dict[str, str]:
        """Every stored setting: key → JSON text."""

    async def put(self, values: Mapping[str, str]) -> None: ...

    async def alert_state(self, scope: str, kind: str) -> str | None: ...

    async def set_alert_state(self, scope: str, kind: str, value: str | None, now_ms: int) -> None:
        """Set (or with None, clear) an alert state."""


class StatsStore(Protocol):
    async def global_days(self, first_day: str) -> list[Row]: ...

    async def agent_days(self, agent_id: str, first_day: str) -> list[Row]: ...

    async def window_buckets(
        self, since_ms: int, boundaries: Sequence[int], agent_id: str | None = None
    ) -> list[Row]: ...

    async def rollup_zone(self) -> str | None: ...

    async def window_spend(self, agent_id: str, day: str, month_first_day: str) -> WindowSpend: ...

    async def cost_by_agent(self, first_day: str, day: str, month_first_day: str) -> list[Row]:
        """Per agent with runs: ``agent_id``, ``name``, ``cost_usd``, ``runs`` from ``first_day``,
        and ``day_cost_usd`` (``day``), ``month_cost_usd`` (from ``month_first_day``)."""

    async def cost_by_agent_since(self, since_ms: int, day: str, month_first_day: str) -> list[Row]:
        """As :meth:`cost_by_agent`, the period being the runs started at or after ``since_ms``."""

    async def rebuild_rollups(self, zone: str, day_of: DayOf) -> int: ...


class TokenStore(Protocol):
    async def get_or_create_user(self, user_id: str, name: str, now_ms: int) -> Row: ...

    async def insert(
        self, token_id: str, user_id: str, token_hash: str, prefix: str, now_ms: int
    ) -> None: ...

    async def active(self) -> list[Row]: ...

    async def all(self) -> list[Row]: ...

    async def revoke(self, token_id_or_prefix: str, now_ms: int) -> int: ...

    async def count_active(self) -> int: ...


class LeaseStore(Protocol):
    async def register(self, server_id: str, host: str, pid: int, now_ms: int, lease_ms: int) -> None: ...

    async def renew(self, server_id: str, now_ms: int, lease_ms: int) -> bool: ...

    async def expire(self, server_ids: list[str]) -> None: ...

    async def remove(self, server_id: str) -> None: ...

    async def remove_expired(self, now_ms: int, keep_ms: int) -> None: ...

    async def all(self) -> list[Row]: ...

    async def live_ids(self, now_ms: int) -> set[str]: ...


class ChangeStore(Protocol):
    async def last_seq(self) -> int: ...

    async def after(self, seq: int, limit: int = 1000) -> list[Row]: ...

    async def prune(self, before_ms: int) -> None: ...


class Storage(Protocol):
    """A database: its parts, its identity, and how to notice what others changed."""

    @property
    def agents(self) -> AgentStore: ...

    @property
    def runs(self) -> RunStore: ...

    @property
    def slots(self) -> SlotStore: ...

    @property
    def stats(self) -> StatsStore: ...

    @property
    def tokens(self) -> TokenStore: ...

    @property
    def channels(self) -> ChannelStore: ...

    @property
    def deliveries(self) -> DeliveryStore: ...

    @property
    def settings(self) -> SettingStore: ...

    @property
    def leases(self) -> LeaseStore: ...

    @property
    def changes(self) -> ChangeStore: ...

    origin: str | None
    """The id of the server using this handle, written with its change-feed entries."""

    backend: str
    """``sqlite`` or ``postgresql``."""

    @property
    def generation(self) -> int:
        """Bumped after every change this handle knows of (see :meth:`refresh_generation`)."""

    async def open(self) -> Storage: ...

    async def close(self) -> None: ...

    async def __aenter__(self) -> Storage: ...

    async def __aexit__(self, *exc: object) -> None: ...

    async def schema_version(self) -> int:
        """The version of the schema (SQLite's and PostgreSQL's are numbered alike)."""

    async def database_id(self) -> str: ...

    async def refresh_generation(self) -> int:
        """Bump :attr:`generation` if another process committed since the last check."""

    @property
    def shared_events(self) -> bool:
        """Whether :meth:`broadcast` reaches other processes (PostgreSQL; not SQLite)."""

    async def broadcast(self, messages: Sequence[str]) -> None:
        """Send messages to every other process on this database that listens (in order)."""

    def on_broadcast(self, callback: Callable[[str], None]) -> None:
        """Call ``callback`` with each message another process broadcast."""
