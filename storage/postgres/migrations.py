"""Versioned schema migrations in PostgreSQL's dialect, numbered as SQLite's.

The PostgreSQL backend started at SQLite's version 11: its first migration
creates that schema whole (the same tables and columns; a test compares them),
and any later change is added to both lists under the same number, so
``cronagents doctor`` names one schema version whichever the backend.
Never edit a migration that has shipped: add the next one.

Times are integer milliseconds since the Unix epoch (UTC) in ``BIGINT``;
flags (``enabled``, ``unsettled``, ...) stay integers 0/1 as in SQLite, JSON
stays text, so rows read the same from both backends. The version lives in
``cronagents_schema``; migrating takes an advisory lock, so nodes starting
together migrate once.
"""

from __future__ import annotations

import asyncpg

from storage.errors import StorageError
from storage.migrations import MIGRATIONS as SQLITE_MIGRATIONS

MIGRATION_LOCK = 0x63726F6E  # "cron": the advisory lock key of migrations
SCHEMA_VERSION = len(SQLITE_MIGRATIONS)

MIGRATIONS: list[tuple[int, str]] = [
    # 11: the schema of SQLite's v1..v11 at once.
    (
        11,
        """
        CREATE TABLE users (
            id          TEXT PRIMARY KEY,
            name        TEXT NOT NULL UNIQUE,
            created_at  BIGINT NOT NULL
        );
        CREATE TABLE api_tokens (
            id           TEXT PRIMARY KEY,
            user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            token_hash   TEXT NOT NULL UNIQUE,
            prefix       TEXT NOT NULL,
            created_at   BIGINT NOT NULL,
            revoked_at   BIGINT
        );
        CREATE TABLE agents (
            id                         TEXT PRIMARY KEY,
            name                       TEXT NOT NULL,
            description                TEXT,
            schedule                   TEXT NOT NULL,
            prompt                     TEXT NOT NULL,
            enabled                    BIGINT NOT NULL DEFAULT 1,
            max_turns                  BIGINT NOT NULL DEFAULT 50,
            max_budget_usd             DOUBLE PRECISION,
            timezone                   TEXT NOT NULL,
            model                      TEXT,
            cwd                        TEXT,
            allowed_tools              TEXT NOT NULL DEFAULT '[]',
            permission_mode            TEXT NOT NULL DEFAULT 'dontAsk',
            timeout_seconds            BIGINT NOT NULL DEFAULT 1800,
            concurrency_policy         TEXT NOT NULL DEFAULT 'forbid',
            starting_deadline_seconds  BIGINT DEFAULT 3600,
            next_run_at                BIGINT,
            last_run_at                BIGINT,
            last_status                TEXT,
            creator_id                 TEXT REFERENCES users(id) ON DELETE SET NULL,
            created_at                 BIGINT NOT NULL,
            updated_at                 BIGINT NOT NULL,
            load_project_settings      BIGINT NOT NULL DEFAULT 0,
            notify                     TEXT NOT NULL DEFAULT
                '{"channels":[],"on":["failure","recovery","budget","missed","paused"],"onlyOnChange":true}',
            retry                      TEXT NOT NULL
                DEFAULT '{"attempts":0,"backoffSeconds":60,"maxBackoffSeconds":3600}',
            pause_after_failures       BIGINT,
            daily_budget_usd           DOUBLE PRECISION,
            monthly_budget_usd         DOUBLE PRECISION,
            paused_reason              TEXT,
            failure_streak             BIGINT NOT NULL DEFAULT 0,
            run_at                     BIGINT,
            on_success                 TEXT NOT NULL DEFAULT '[]',
            on_failure                 TEXT NOT NULL DEFAULT '[]',
            env                        TEXT NOT NULL DEFAULT '{}',
            trigger_secret             TEXT,
            mcp_servers                TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX agents_by_name ON agents(name, id);
        CREATE TABLE runs (
            id                TEXT PRIMARY KEY,
            agent_id          TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
            status            TEXT NOT NULL,
            trigger           TEXT NOT NULL DEFAULT 'manual',
            scheduled_for     BIGINT,
            output            TEXT,
            cost_usd          DOUBLE PRECISION,
            input_tokens      BIGINT,
            output_tokens     BIGINT,
            num_turns         BIGINT,
            started_at        BIGINT NOT NULL,
            completed_at      BIGINT,
            duration_ms       BIGINT,
            owner             TEXT,
            cancel_requested  TEXT,
            attempt           BIGINT NOT NULL DEFAULT 1,
            retry_of          TEXT,
            not_before        BIGINT,
            unsettled         BIGINT NOT NULL DEFAULT 0,
            input             TEXT,
            parent_run_id     TEXT
        );
        CREATE INDEX runs_by_agent_time ON runs(agent_id, started_at DESC);
        CREATE INDEX runs_by_time ON runs(started_at);
        CREATE UNIQUE INDEX runs_one_per_slot ON runs(agent_id, scheduled_for)
            WHERE scheduled_for IS NOT NULL;
        CREATE INDEX runs_active ON runs(status) WHERE status IN ('running', 'queued');
        CREATE INDEX runs_unsettled ON runs(completed_at) WHERE unsettled = 1;
        CREATE TABLE run_events (
            run_id  TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            seq     BIGINT NOT NULL,
            at      BIGINT NOT NULL,
            type    TEXT NOT NULL,
            data    TEXT NOT NULL,
            PRIMARY KEY (run_id, seq)
        );
        CREATE TABLE daily_agent_stats (
            agent_id        TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
            day             TEXT NOT NULL,
            total           BIGINT NOT NULL DEFAULT 0,
            success         BIGINT NOT NULL DEFAULT 0,
            skipped         BIGINT NOT NULL DEFAULT 0,
            cost_usd        DOUBLE PRECISION NOT NULL DEFAULT 0,
            duration_ms_sum BIGINT NOT NULL DEFAULT 0,
            duration_count  BIGINT NOT NULL DEFAULT 0,
            PRIMARY KEY (agent_id, day)
        );
        CREATE INDEX daily_agent_stats_by_day ON daily_agent_stats(day, agent_id, cost_usd, total);
        CREATE TABLE daily_global_stats (
            day             TEXT PRIMARY KEY,
            total           BIGINT NOT NULL DEFAULT 0,
            success         BIGINT NOT NULL DEFAULT 0,
            skipped         BIGINT NOT NULL DEFAULT 0,
            cost_usd        DOUBLE PRECISION NOT NULL DEFAULT 0,
            duration_ms_sum BIGINT NOT NULL DEFAULT 0,
            duration_count  BIGINT NOT NULL DEFAULT 0
        );
        CREATE TABLE meta (
            key    TEXT PRIMARY KEY,
            value  TEXT NOT NULL
        );
        CREATE TABLE servers (
            id                TEXT PRIMARY KEY,
            host              TEXT NOT NULL,
            pid               BIGINT NOT NULL,
            started_at        BIGINT NOT NULL,
            heartbeat_at      BIGINT NOT NULL,
            lease_expires_at  BIGINT NOT NULL
        );
        CREATE TABLE changes (
            seq       BIGSERIAL PRIMARY KEY,
            at        BIGINT NOT NULL,
            origin    TEXT,
            kind      TEXT NOT NULL,
            agent_id  TEXT,
            run_id    TEXT,
            reason    TEXT
        );
        INSERT INTO meta (key, value) VALUES ('database_id', md5(random()::text || clock_timestamp()::text))
            ON CONFLICT (key) DO NOTHING;
        CREATE TABLE channels (
            id          TEXT PRIMARY KEY,
            name        TEXT NOT NULL,
            type        TEXT NOT NULL,
            enabled     BIGINT NOT NULL DEFAULT 1,
            config      TEXT NOT NULL DEFAULT '{}',
            secret      TEXT,
            created_at  BIGINT NOT NULL,
            updated_at  BIGINT NOT NULL
        );
        CREATE TABLE deliveries (
            id               TEXT PRIMARY KEY,
            channel_id       TEXT NOT NULL,
            agent_id         TEXT REFERENCES agents(id) ON DELETE CASCADE,
            run_id           TEXT REFERENCES runs(id) ON DELETE CASCADE,
            event            TEXT NOT NULL,
            payload          TEXT NOT NULL,
            status           TEXT NOT NULL DEFAULT 'pending',
            attempts         BIGINT NOT NULL DEFAULT 0,
            last_error       TEXT,
            next_attempt_at  BIGINT NOT NULL,
            locked_by        TEXT,
            locked_until     BIGINT,
            sent_at          BIGINT,
            created_at       BIGINT NOT NULL
        );
        CREATE INDEX deliveries_due ON deliveries(next_attempt_at) WHERE status = 'pending';
        CREATE INDEX deliveries_by_run ON deliveries(run_id, created_at);
        CREATE TABLE settings (
            key    TEXT PRIMARY KEY,
            value  TEXT NOT NULL
        );
        CREATE TABLE alert_state (
            scope  TEXT NOT NULL,
            kind   TEXT NOT NULL,
            value  TEXT NOT NULL,
            at     BIGINT NOT NULL,
            PRIMARY KEY (scope, kind)
        );
        CREATE TABLE inbound_deliveries (
            agent_id     TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
            delivery_id  TEXT NOT NULL,
            run_id       TEXT NOT NULL,
            received_at  BIGINT NOT NULL,
            PRIMARY KEY (agent_id, delivery_id)
        );
        CREATE INDEX inbound_deliveries_by_time ON inbound_deliveries(received_at);
        """,
    ),
]


async def schema_version(conn: asyncpg.Connection) -> int:
    """The version of the schema in the connection's search path (0: none yet)."""
    exists = await conn.fetchval("SELECT to_regclass('cronagents_schema') IS NOT NULL")
    if not exists:
        return 0
    version = await conn.fetchval("SELECT max(version) FROM cronagents_schema")
    return int(version or 0)


async def apply_migrations(conn: asyncpg.Connection) -> int:
    """Bring the schema up to date; the resulting version.

    Each migration commits with its version; the advisory lock makes a second
    node starting at the same moment wait, then find the work done.
    """
    version = await schema_version(conn)
    if version > SCHEMA_VERSION:
        raise StorageError(
            f"database schema version {version} is newer than this program ({SCHEMA_VERSION}): "
            "upgrade cronagents"
        )
    if version == SCHEMA_VERSION:
        return version
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        await conn.execute("CREATE TABLE IF NOT EXISTS cronagents_schema (version INTEGER NOT NULL)")
    for number, script in MIGRATIONS:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
            if await schema_version(conn) >= number:
                continue  # another node migrated meanwhile
            await conn.execute(script)
            await conn.execute("INSERT INTO cronagents_schema (version) VALUES ($1)", number)
    return await schema_version(conn)
