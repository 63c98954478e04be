"""The SQLite backend of :class:`storage.interface.Storage` (aiosqlite, WAL, one file).

Each part binds the queries of its module (``storage/agents.py``,
``runs.py``, ``slots.py``, ``stats.py``, ``users.py``, ``servers.py``,
``changes.py``) to one open :class:`~storage.db.Database`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from storage import aftermath, agents, alerts, changes, inbound, runs, servers, slots, stats, users
from storage.db import Database
from storage.handle import StorageHandle
from storage.interface import (
    Alert,
    DayOf,
    DeliveryResult,
    EncodedClaims,
    Row,
    RunOutcome,
    Settlement,
    SlotClaim,
    WindowSpend,
)


class _Part:
    def __init__(self, db: Database) -> None:
        self.db = db


class SqliteAgents(_Part):
    async def insert(self, values: Mapping[str, Any]) -> Row:
        return await agents.insert_agent(self.db, values)

    async def update(self, agent_id: str, values: Mapping[str, Any]) -> Row | None:
        return await agents.update_agent(self.db, agent_id, values)

    async def get(self, agent_id: str) -> Row | None:
        return await agents.get_agent(self.db, agent_id)

    async def set_trigger_secret(self, agent_id: str, sealed: str | None) -> Row | None:
        return await agents.set_trigger_secret(self.db, agent_id, sealed)

    async def end_one_shot(self, agent_id: str, run_at: int, now_ms: int) -> Row | None:
        return await agents.end_one_shot(self.db, agent_id, run_at, now_ms)

    async def all(self) -> list[Row]:
        return await agents.list_agents(self.db)

    async def list_enabled(self) -> list[Row]:
        return await agents.list_enabled_agents(self.db)

    async def count(self) -> tuple[int, int]:
        return await agents.count_agents(self.db)

    async def delete(self, agent_id: str) -> int:
        return await agents.delete_agent(self.db, agent_id)

    async def count_runs(self, agent_id: str) -> int:
        return await agents.count_runs(self.db, agent_id)

    async def missing(self, agent_ids: Iterable[str]) -> list[str]:
        return await agents.missing_agents(self.db, agent_ids)


class SqliteRuns(_Part):
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
    ) -> None:
        await runs.insert_run(
            self.db, run_id, agent_id, status, started_at, trigger, scheduled_for, owner, input
        )

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
        return await inbound.insert_delivered(
            self.db, run_id, agent_id, started_at, owner, input, delivery_ids, forget_before
        )

    async def chain(self, run_id: str) -> list[str]:
        return await runs.chain(self.db, run_id)

    async def last_output(self, agent_id: str, besides_run_id: str) -> str | None:
        return await runs.last_output(self.db, agent_id, besides_run_id)

    async def mark_running(self, run_id: str, agent_id: str, started_at: int) -> bool:
        return await runs.mark_running(self.db, run_id, agent_id, started_at)

    async def start_within(self, run_id: str, agent_id: str, started_at: int, limit: int) -> str:
        return await runs.start_within(self.db, run_id, agent_id, started_at, limit)

    async def skip(self, run_id: str, reason: str, at: int, day_of: DayOf) -> Row | None:
        return await runs.skip_run(self.db, run_id, reason, at, day_of)

    async def unsettled(self, limit: int = 100) -> list[Row]:
        return await aftermath.unsettled_runs(self.db, limit)

    async def settle(self, settlement: Settlement, day_of: DayOf) -> str:
        return await aftermath.settle_run(self.db, settlement, day_of)

    async def adopt_retries(self, live_owners: Iterable[str], owner: str) -> list[Row]:
        return await aftermath.adopt_retries(self.db, live_owners, owner)

    async def finish(self, run_id: str, outcome: RunOutcome, day_of: DayOf) -> Row | None:
        return await runs.finish_run(self.db, run_id, outcome, day_of)

    async def finish_many(self, run_ids: Iterable[str], outcome: RunOutcome, day_of: DayOf) -> list[Row]:
        return await runs.finish_runs(self.db, run_ids, outcome, day_of)

    async def orphaned(self, live_owners: Iterable[str]) -> list[Row]:
        return await runs.orphaned_runs(self.db, live_owners)

    async def request_cancel(self, run_ids: Sequence[str], reason: str) -> list[str]:
        return await runs.request_cancel(self.db, run_ids, reason)

    async def cancel_requests(self, owner: str) -> list[Row]:
        return await runs.cancel_requests(self.db, owner)

    async def statuses(self, run_ids: Sequence[str]) -> dict[str, str]:
        return await runs.statuses(self.db, run_ids)

    async def add_events(self, run_id: str, events: Sequence[tuple[int, int, str, str]]) -> None:
        await runs.add_events(self.db, run_id, events)

    async def history(self, agent_id: str, limit: int, since_ms: int | None) -> list[Row]:
        return await runs.list_runs(self.db, agent_id, limit, since_ms)

    async def get(self, run_id: str) -> Row | None:
        return await runs.get_run(self.db, run_id)

    async def events(self, run_id: str) -> list[Row]:
        return await runs.get_events(self.db, run_id)

    async def active(self, agent_id: str | None = None) -> list[Row]:
        return await runs.active_runs(self.db, agent_id)

    async def running_agent_ids(self) -> list[str]:
        return await runs.running_agent_ids(self.db)


class SqliteSlots(_Part):
    def encode(self, claims: Sequence[SlotClaim]) -> EncodedClaims:
        return slots.encode_claims(claims)

    async def claim(self, claims: EncodedClaims, started_at: int, owner: str | None) -> set[str]:
        return await slots.claim(self.db, claims, started_at, owner)

    async def release(self, run_ids: Sequence[str]) -> None:
        await slots.release(self.db, run_ids)

    async def record_skipped(
        self, skipped: Iterable[tuple[str, str, int, str]], now_ms: int, day_of: DayOf
    ) -> set[str]:
        return await slots.record_skipped(self.db, skipped, now_ms, day_of)

    async def busy_agent_ids(self, besides_slot: int | None = None) -> set[str]:
        return await slots.busy_agent_ids(self.db, besides_slot)

    async def ended_claims(self, slot: int) -> set[str]:
        return await slots.ended_claims(self.db, slot)

    async def latest_slots(self) -> dict[str, int]:
        return await slots.latest_slots(self.db)

    async def store_next_run_times(self, rows: Sequence[tuple[int, str, str, str]]) -> None:
        await slots.store_next_run_times(self.db, rows)


class SqliteStats(_Part):
    async def global_days(self, first_day: str) -> list[Row]:
        return await stats.global_days(self.db, first_day)

    async def agent_days(self, agent_id: str, first_day: str) -> list[Row]:
        return await stats.agent_days(self.db, agent_id, first_day)

    async def window_buckets(
        self, since_ms: int, boundaries: Sequence[int], agent_id: str | None = None
    ) -> list[Row]:
        return await stats.window_buckets(self.db, since_ms, boundaries, agent_id)

    async def rollup_zone(self) -> str | None:
        return await stats.rollup_zone(self.db)

    async def window_spend(self, agent_id: str, day: str, month_first_day: str) -> WindowSpend:
        return await stats.window_spend(self.db, agent_id, day, month_first_day)

    async def cost_by_agent(self, first_day: str, day: str, month_first_day: str) -> list[Row]:
        return await stats.cost_by_agent(self.db, first_day, day, month_first_day)

    async def cost_by_agent_since(self, since_ms: int, day: str, month_first_day: str) -> list[Row]:
        return await stats.cost_by_agent_since(self.db, since_ms, day, month_first_day)

    async def rebuild_rollups(self, zone: str, day_of: DayOf) -> int:
        return await stats.rebuild_rollups(self.db, zone, day_of)


class SqliteTokens(_Part):
    async def get_or_create_user(self, user_id: str, name: str, now_ms: int) -> Row:
        return await users.get_or_create_user(self.db, user_id, name, now_ms)

    async def insert(self, token_id: str, user_id: str, token_hash: str, prefix: str, now_ms: int) -> None:
        await users.insert_token(self.db, token_id, user_id, token_hash, prefix, now_ms)

    async def active(self) -> list[Row]:
        return await users.active_tokens(self.db)

    async def all(self) -> list[Row]:
        return await users.all_tokens(self.db)

    async def revoke(self, token_id_or_prefix: str, now_ms: int) -> int:
        return await users.revoke_token(self.db, token_id_or_prefix, now_ms)

    async def count_active(self) -> int:
        return await users.count_active_tokens(self.db)


class SqliteLeases(_Part):
    async def register(self, server_id: str, host: str, pid: int, now_ms: int, lease_ms: int) -> None:
        await servers.register(self.db, server_id, host, pid, now_ms, lease_ms)

    async def renew(self, server_id: str, now_ms: int, lease_ms: int) -> bool:
        return await servers.renew(self.db, server_id, now_ms, lease_ms)

    async def expire(self, server_ids: list[str]) -> None:
        await servers.expire(self.db, server_ids)

    async def remove(self, server_id: str) -> None:
        await servers.remove(self.db, server_id)

    async def remove_expired(self, now_ms: int, keep_ms: int) -> None:
        await servers.remove_expired(self.db, now_ms, keep_ms)

    async def all(self) -> list[Row]:
        return await servers.all_servers(self.db)

    async def live_ids(self, now_ms: int) -> set[str]:
        return await servers.live_server_ids(self.db, now_ms)


class SqliteChannels(_Part):
    async def insert(self, values: Mapping[str, Any]) -> Row:
        return await alerts.insert_channel(self.db, values)

    async def update(self, channel_id: str, values: Mapping[str, Any]) -> Row | None:
        return await alerts.update_channel(self.db, channel_id, values)

    async def get(self, channel_id: str) -> Row | None:
        return await alerts.get_channel(self.db, channel_id)

    async def all(self) -> list[Row]:
        return await alerts.all_channels(self.db)

    async def delete(self, channel_id: str) -> bool:
        return await alerts.delete_channel(self.db, channel_id)

    async def missing(self, channel_ids: Iterable[str]) -> list[str]:
        return await alerts.missing_channels(self.db, channel_ids)


class SqliteDeliveries(_Part):
    async def raise_alerts(self, items: Sequence[Alert], now_ms: int, due_at: int | None = None) -> int:
        return await alerts.raise_alerts(self.db, items, now_ms, due_at)

    async def claim_due(self, now_ms: int, owner: str, lock_ms: int, limit: int) -> list[Row]:
        return await alerts.claim_due(self.db, now_ms, owner, lock_ms, limit)

    async def record(self, results: Sequence[DeliveryResult]) -> None:
        await alerts.record_results(self.db, results)

    async def next_due(self) -> int | None:
        return await alerts.next_due(self.db)

    async def for_run(self, run_id: str) -> list[Row]:
        return await alerts.deliveries_for_run(self.db, run_id)

    async def get(self, delivery_id: str) -> Row | None:
        return await alerts.get_delivery(self.db, delivery_id)


class SqliteSettings(_Part):
    async def all(self) -> dict[str, str]:
        return await alerts.all_settings(self.db)

    async def put(self, values: Mapping[str, str]) -> None:
        await alerts.put_settings(self.db, values)

    async def alert_state(self, scope: str, kind: str) -> str | None:
        return await alerts.alert_state(self.db, scope, kind)

    async def set_alert_state(self, scope: str, kind: str, value: str | None, now_ms: int) -> None:
        await alerts.set_alert_state(self.db, scope, kind, value, now_ms)


class SqliteChanges(_Part):
    async def last_seq(self) -> int:
        return await changes.last_seq(self.db)

    async def after(self, seq: int, limit: int = 1000) -> list[Row]:
        return await changes.after(self.db, seq, limit)

    async def prune(self, before_ms: int) -> None:
        await changes.prune(self.db, before_ms)


class SqliteStorage(StorageHandle):
    """A cronagents database in one SQLite file (see :class:`storage.interface.Storage`)."""

    backend = "sqlite"
    db: Database

    def __init__(self, path: str | Path) -> None:
        self.db = Database(path)
        self.agents = SqliteAgents(self.db)
        self.runs = SqliteRuns(self.db)
        self.slots = SqliteSlots(self.db)
        self.stats = SqliteStats(self.db)
        self.tokens = SqliteTokens(self.db)
        self.leases = SqliteLeases(self.db)
        self.changes = SqliteChanges(self.db)
        self.channels = SqliteChannels(self.db)
        self.deliveries = SqliteDeliveries(self.db)
        self.settings = SqliteSettings(self.db)

    async def database_id(self) -> str:
        return await servers.database_id(self.db)

    async def refresh_generation(self) -> int:
        return await self.db.refresh_generation()

    @property
    def shared_events(self) -> bool:
        return False

    async def broadcast(self, messages: Sequence[str]) -> None:
        """Nothing: processes on one SQLite file share no event stream."""

    def on_broadcast(self, callback: Callable[[str], None]) -> None:
        """Nothing ever comes (see :meth:`broadcast`)."""

    async def schema_version(self) -> int:
        row = await self.db.fetchone("PRAGMA user_version")
        return int(row[0]) if row else 0
