"""Versioned schema migrations, applied in order at start (``PRAGMA user_version``).

Never edit a migration that has shipped: add the next one.
Times are stored as integer milliseconds since the Unix epoch (UTC); calendar
days of the stats rollup as ``YYYY-MM-DD`` in the stats time zone.
"""

from __future__ import annotations

import sqlite3

MIGRATIONS: list[str] = [
    # 1: users, tokens, agents, runs, run events, daily rollups.
    """
    CREATE TABLE users (
        id          TEXT PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE,
        created_at  INTEGER NOT NULL
    );
    CREATE TABLE api_tokens (
        id           TEXT PRIMARY KEY,
        user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        token_hash   TEXT NOT NULL UNIQUE,
        prefix       TEXT NOT NULL,
        created_at   INTEGER NOT NULL,
        revoked_at   INTEGER
    );
    CREATE TABLE agents (
        id                         TEXT PRIMARY KEY,
        name                       TEXT NOT NULL,
        description                TEXT,
        schedule                   TEXT NOT NULL,
        prompt                     TEXT NOT NULL,
        enabled                    INTEGER NOT NULL DEFAULT 1,
        max_turns                  INTEGER NOT NULL DEFAULT 50,
        max_budget_usd             REAL,
        timezone                   TEXT NOT NULL,
        model                      TEXT,
        cwd                        TEXT,
        allowed_tools              TEXT NOT NULL DEFAULT '[]',
        permission_mode            TEXT NOT NULL DEFAULT 'dontAsk',
        timeout_seconds            INTEGER NOT NULL DEFAULT 1800,
        concurrency_policy         TEXT NOT NULL DEFAULT 'forbid',
        starting_deadline_seconds  INTEGER DEFAULT 3600,
        next_run_at                INTEGER,
        last_run_at                INTEGER,
        last_status                TEXT,
        creator_id                 TEXT REFERENCES users(id) ON DELETE SET NULL,
        created_at                 INTEGER NOT NULL,
        updated_at                 INTEGER NOT NULL
    );
    CREATE INDEX agents_by_name ON agents(name, id);
    CREATE TABLE runs (
        id             TEXT PRIMARY KEY,
        agent_id       TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
        status         TEXT NOT NULL,
        trigger        TEXT NOT NULL DEFAULT 'manual',
        scheduled_for  INTEGER,
        output         TEXT,
        cost_usd       REAL,
        input_tokens   INTEGER,
        output_tokens  INTEGER,
        num_turns      INTEGER,
        started_at     INTEGER NOT NULL,
        completed_at   INTEGER,
        duration_ms    INTEGER
    );
    CREATE INDEX runs_by_agent_time ON runs(agent_id, started_at DESC);
    CREATE INDEX runs_by_time ON runs(started_at);
    CREATE UNIQUE INDEX runs_one_per_slot ON runs(agent_id, scheduled_for)
        WHERE scheduled_for IS NOT NULL;
    CREATE INDEX runs_active ON runs(status) WHERE status IN ('running', 'queued');
    CREATE TABLE run_events (
        run_id  TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        seq     INTEGER NOT NULL,
        at      INTEGER NOT NULL,
        type    TEXT NOT NULL,
        data    TEXT NOT NULL,
        PRIMARY KEY (run_id, seq)
    ) WITHOUT ROWID;
    CREATE TABLE daily_agent_stats (
        agent_id        TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
        day             TEXT NOT NULL,
        total           INTEGER NOT NULL DEFAULT 0,
        success         INTEGER NOT NULL DEFAULT 0,
        skipped         INTEGER NOT NULL DEFAULT 0,
        cost_usd        REAL NOT NULL DEFAULT 0,
        duration_ms_sum INTEGER NOT NULL DEFAULT 0,
        duration_count  INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (agent_id, day)
    ) WITHOUT ROWID;
    CREATE TABLE daily_global_stats (
        day             TEXT PRIMARY KEY,
        total           INTEGER NOT NULL DEFAULT 0,
        success         INTEGER NOT NULL DEFAULT 0,
        skipped         INTEGER NOT NULL DEFAULT 0,
        cost_usd        REAL NOT NULL DEFAULT 0,
        duration_ms_sum INTEGER NOT NULL DEFAULT 0,
        duration_count  INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;
    CREATE TABLE meta (
        key    TEXT PRIMARY KEY,
        value  TEXT NOT NULL
    );
    """,
    # v2: an agent may opt into the settings and hooks of its cwd (off by default).
    """
    ALTER TABLE agents ADD COLUMN load_project_settings INTEGER NOT NULL DEFAULT 0;
    """,
    # v3: which process owns a queued or running run ("host:pid"), so a server
    # starting on a shared file interrupts only the runs of processes that died.
    """
    ALTER TABLE runs ADD COLUMN owner TEXT;
    """,
    # v4: runs belong to a server by lease, not by process id. Each server has
    # a row it renews; a run whose owner's lease expired is ended by any live
    # server. Changes other processes must act on (agent edits, cancel
    # requests) are appended to a feed every server follows. The database has
    # an id, carried by every run's processes so leftovers can be found.
    """
    CREATE TABLE servers (
        id                TEXT PRIMARY KEY,
        host              TEXT NOT NULL,
        pid               INTEGER NOT NULL,
        started_at        INTEGER NOT NULL,
        heartbeat_at      INTEGER NOT NULL,
        lease_expires_at  INTEGER NOT NULL
    );
    CREATE TABLE changes (
        seq       INTEGER PRIMARY KEY AUTOINCREMENT,
        at        INTEGER NOT NULL,
        origin    TEXT,
        kind      TEXT NOT NULL,
        agent_id  TEXT,
        run_id    TEXT,
        reason    TEXT
    );
    ALTER TABLE runs ADD COLUMN cancel_requested TEXT;
    INSERT INTO meta (key, value) VALUES ('database_id', lower(hex(randomblob(16))))
        ON CONFLICT (key) DO NOTHING;
    """,
    # v5: unattended operations. Agents gain notifications, retries, auto-pause
    # and spend caps over calendar windows (groups of settings are JSON
    # objects in one column, as on the wire), and the length of their current
    # streak of failures. Runs know their attempt, the run they retry, the
    # earliest time a retry may start, and whether what follows their end
    # (retry, streak, alerts) is still to be settled. Channels (webhook, Slack,
    # email) and each delivery to them are rows, so a message is retried on its
    # own schedule and survives a restart; settings (global caps, default
    # channels) and alert state (sent once per window or streak) too.
    """
    ALTER TABLE agents ADD COLUMN notify TEXT NOT NULL
        DEFAULT '{"channels":[],"on":["failure","recovery","budget","missed","paused"],"onlyOnChange":true}';
    ALTER TABLE agents ADD COLUMN retry TEXT NOT NULL
        DEFAULT '{"attempts":0,"backoffSeconds":60,"maxBackoffSeconds":3600}';
    ALTER TABLE agents ADD COLUMN pause_after_failures INTEGER;
    ALTER TABLE agents ADD COLUMN daily_budget_usd REAL;
    ALTER TABLE agents ADD COLUMN monthly_budget_usd REAL;
    ALTER TABLE agents ADD COLUMN paused_reason TEXT;
    ALTER TABLE agents ADD COLUMN failure_streak INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE runs ADD COLUMN retry_of TEXT;
    ALTER TABLE runs ADD COLUMN not_before INTEGER;
    ALTER TABLE runs ADD COLUMN unsettled INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX runs_unsettled ON runs(completed_at) WHERE unsettled = 1;
    CREATE INDEX daily_agent_stats_by_day ON daily_agent_stats(day, agent_id, cost_usd, total);
    CREATE TABLE channels (
        id          TEXT PRIMARY KEY,
        name        TEXT NOT NULL,
        type        TEXT NOT NULL,
        enabled     INTEGER NOT NULL DEFAULT 1,
        config      TEXT NOT NULL DEFAULT '{}',
        secret      TEXT,
        created_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL
    );
    CREATE TABLE deliveries (
        id               TEXT PRIMARY KEY,
        channel_id       TEXT NOT NULL,
        agent_id         TEXT REFERENCES agents(id) ON DELETE CASCADE,
        run_id           TEXT REFERENCES runs(id) ON DELETE CASCADE,
        event            TEXT NOT NULL,
        payload          TEXT NOT NULL,
        status           TEXT NOT NULL DEFAULT 'pending',
        attempts         INTEGER NOT NULL DEFAULT 0,
        last_error       TEXT,
        next_attempt_at  INTEGER NOT NULL,
        locked_by        TEXT,
        locked_until     INTEGER,
        sent_at          INTEGER,
        created_at       INTEGER NOT NULL
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
        at     INTEGER NOT NULL,
        PRIMARY KEY (scope, kind)
    ) WITHOUT ROWID;
    """,
    # v6: an agent may run once, at run_at, instead of on a schedule (its
    # schedule is then "": the column is NOT NULL, and relaxing that would mean
    # rebuilding the table, whose deletion cascades to the runs).
    """
    ALTER TABLE agents ADD COLUMN run_at INTEGER;
    """,
    # v7: a run may be given input (its prompt's {{input}}); a retry gets its run's.
    """
    ALTER TABLE runs ADD COLUMN input TEXT;
    """,
    # v8: chains. An agent names the agents to start when its run ends in
    # success or in failure; a chained run knows the run that started it.
    """
    ALTER TABLE agents ADD COLUMN on_success TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE agents ADD COLUMN on_failure TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE runs ADD COLUMN parent_run_id TEXT;
    """,
    # v9: an agent's secrets, name -> value sealed with the server's key (Fernet).
    """
    ALTER TABLE agents ADD COLUMN env TEXT NOT NULL DEFAULT '{}';
    """,
    # v10: signed inbound webhooks. An agent's trigger secret (sealed), and the
    # deliveries received (by the sender's delivery id), so a repeated one starts
    # no second run; kept for a while, then forgotten (see storage/runs.py).
    """
    ALTER TABLE agents ADD COLUMN trigger_secret TEXT;
    CREATE TABLE inbound_deliveries (
        agent_id     TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
        delivery_id  TEXT NOT NULL,
        run_id       TEXT NOT NULL,
        received_at  INTEGER NOT NULL,
        PRIMARY KEY (agent_id, delivery_id)
    ) WITHOUT ROWID;
    CREATE INDEX inbound_deliveries_by_time ON inbound_deliveries(received_at);
    """,
    # v11: an agent's MCP servers, in the Claude Agent SDK's format (JSON).
    """
    ALTER TABLE agents ADD COLUMN mcp_servers TEXT NOT NULL DEFAULT '{}';
    """,
]


def schema_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0]) if row else 0


def apply_migrations(conn: sqlite3.Connection) -> int:
    """Bring the schema up to date; returns the resulting version.

    Each migration runs in its own ``BEGIN IMMEDIATE`` transaction together
    with the version bump, so a crash leaves the file at a whole version.
    """
    version = schema_version(conn)
    if version > len(MIGRATIONS):
        raise sqlite3.DatabaseError(
            f"database schema version {version} is newer than this program "
            f"({len(MIGRATIONS)}): upgrade cronagents"
        )
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-read inside the lock: another process may have migrated meanwhile.
            if schema_version(conn) >= number:
                conn.execute("COMMIT")
                continue
            for statement in _statements(script):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version={number}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return schema_version(conn)


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
