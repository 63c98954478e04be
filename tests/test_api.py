"""Every endpoint and error path of the REST API, in-process through httpx.ASGITransport."""

from __future__ import annotations

import re

import httpx
import pytest

from app.server import Server
from storage.interface import RunOutcome
from tests.conftest import agent_body

pytestmark = pytest.mark.both_backends

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


async def create(client: httpx.AsyncClient, **overrides: object) -> dict:
    response = await client.post("/api/agents", json=agent_body(**overrides))
    assert response.status_code == 200, response.text
    return response.json()["data"]


def assert_error(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["statusCode"] == status
    assert body["statusMessage"]
    assert isinstance(body["message"], str) and body["message"]
    assert "Traceback" not in response.text
    return body


# -- create / get / list --------------------------------------------------


async def test_create_returns_the_agent_with_defaults_and_creator(client: httpx.AsyncClient):
    agent = await create(client)
    assert agent["id"]
    assert agent["name"] == "Daily Digest"
    assert agent["schedule"] == "0 9 * * *"
    assert agent["enabled"] is True
    assert agent["maxTurns"] == 50
    assert agent["maxBudgetUsd"] is None
    assert agent["creator"]["name"] == "Tony"
    assert agent["permissionMode"] == "dontAsk"
    assert agent["concurrencyPolicy"] == "forbid"
    assert agent["timeoutSeconds"] == 1800
    assert agent["timezone"] == "UTC"
    assert agent["loadProjectSettings"] is False
    assert agent["allowedTools"] == ["Read", "Glob", "Grep"]
    assert ISO_MS.match(agent["createdAt"]) and ISO_MS.match(agent["updatedAt"])
    assert ISO_MS.match(agent["nextRunAt"]) and agent["nextRunAt"].endswith("T09:00:00.000Z")
    assert agent["lastRunAt"] is None and agent["lastStatus"] is None


async def test_disabled_agent_has_no_next_run(client: httpx.AsyncClient):
    agent = await create(client, enabled=False)
    assert agent["enabled"] is False
    assert agent["nextRunAt"] is None


async def test_get_agent_and_404(client: httpx.AsyncClient):
    agent = await create(client, maxBudgetUsd=0.5)
    response = await client.get(f"/api/agents/{agent['id']}")
    assert response.status_code == 200
    got = response.json()["data"]
    assert got == agent
    assert got["maxBudgetUsd"] == 0.5
    body = assert_error(await client.get("/api/agents/nope"), 404)
    assert body["message"] == "Agent not found"


async def test_list_is_alphabetical_with_creator(client: httpx.AsyncClient):
    for name in ("Weekly Review", "Alpha", "Daily Digest"):
        await create(client, name=name)
    response = await client.get("/api/agents")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    names = [a["name"] for a in response.json()["data"]]
    assert names == ["Alpha", "Daily Digest", "Weekly Review"]
    assert all(a["creator"] == {"id": a["creator"]["id"], "name": "Tony"} for a in response.json()["data"])


async def test_list_reflects_every_change(client: httpx.AsyncClient):
    assert (await client.get("/api/agents")).json() == {"data": []}
    agent = await create(client)
    assert len((await client.get("/api/agents")).json()["data"]) == 1
    await client.patch(f"/api/agents/{agent['id']}", json={"name": "Renamed"})
    assert (await client.get("/api/agents")).json()["data"][0]["name"] == "Renamed"
    await client.delete(f"/api/agents/{agent['id']}")
    assert (await client.get("/api/agents")).json() == {"data": []}


# -- validation -----------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": 5}, "name"),
        ({"schedule": "0 0 31 2 *"}, "schedule"),
        ({"schedule": "every day"}, "schedule"),
        ({"schedule": "0 9 * * * *"}, "schedule"),
        ({"schedule": "@reboot"}, "schedule"),
        ({"prompt": "   "}, "prompt"),
        ({"maxTurns": 0}, "maxTurns"),
        ({"maxTurns": 1001}, "maxTurns"),
        ({"maxTurns": 2.5}, "maxTurns"),
        ({"maxTurns": True}, "maxTurns"),
        ({"maxBudgetUsd": 0}, "maxBudgetUsd"),
        ({"maxBudgetUsd": -1}, "maxBudgetUsd"),
        ({"maxBudgetUsd": "1"}, "maxBudgetUsd"),
        ({"enabled": "yes"}, "enabled"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"permissionMode": "yolo"}, "permissionMode"),
        ({"permissionMode": "bypassPermissions"}, "permissionMode"),
        ({"concurrencyPolicy": "sometimes"}, "concurrencyPolicy"),
        ({"timeoutSeconds": 0}, "timeoutSeconds"),
        ({"allowedTools": "Bash"}, "allowedTools"),
        ({"cwd": "relative/dir"}, "cwd"),
        ({"cwd": "/does/not/exist"}, "cwd"),
        ({"color": "blue"}, "color"),
        ({"model": "--dangerously-skip-permissions"}, "model"),
        ({"model": "-p"}, "model"),
        ({"model": "claude sonnet"}, "model"),
        ({"model": "claude;rm -rf /"}, "model"),
        ({"model": "x" * 201}, "model"),
        ({"model": ""}, "model"),
        ({"name": "nul\x00byte"}, "name"),
        ({"name": "tab\there"}, "name"),
        ({"name": "line\nbreak"}, "name"),
        ({"name": "del\x7f"}, "name"),
        ({"name": "c1\x85control"}, "name"),
        ({"name": "\x1b[31mred"}, "name"),
        ({"prompt": "nul\x00byte"}, "prompt"),
        ({"description": "nul\x00byte"}, "description"),
        ({"allowedTools": ["Read", "Bash\x00"]}, "allowedTools"),
        ({"schedule": "0 9 * * *" + " " * 300}, "schedule"),
    ],
)
async def test_create_rejects_each_bad_field_by_name(client, overrides, field):
    body = assert_error(await client.post("/api/agents", json=agent_body(**overrides)), 400)
    assert list(body["data"]) == [field]
    assert body["data"][field]


@pytest.mark.parametrize(
    "model",
    [
        "claude-sonnet-4-5",
        "claude-opus-4-1[1m]",
        "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/claude_x",
        "sonnet",
        None,
    ],
)
async def test_model_ids_are_accepted(client: httpx.AsyncClient, model):
    agent = await create(client, model=model)
    assert agent["model"] == model


async def test_an_option_is_never_taken_for_a_model(client: httpx.AsyncClient):
    """A model such as ``--dangerously-skip-permissions`` would reach the CLI's argument list."""
    agent = await create(client)
    response = await client.patch(
        f"/api/agents/{agent['id']}", json={"model": "--dangerously-skip-permissions"}
    )
    body = assert_error(response, 400)
    assert list(body["data"]) == ["model"]
    assert "not starting with -" in body["data"]["model"]
    assert (await client.get(f"/api/agents/{agent['id']}")).json()["data"]["model"] is None


async def test_control_characters_in_a_name_are_refused_by_name(client: httpx.AsyncClient):
    body = assert_error(await client.post("/api/agents", json=agent_body(name="Daily\x00Digest")), 400)
    assert body["data"] == {"name": "must not contain NUL characters"}
    body = assert_error(await client.post("/api/agents", json=agent_body(name="Daily\x1bDigest")), 400)
    assert body["data"] == {"name": "must not contain control characters"}
    assert (await client.get("/api/agents")).json()["data"] == []


async def test_missing_required_fields_are_all_named(client: httpx.AsyncClient):
    body = assert_error(await client.post("/api/agents", json={}), 400)
    assert set(body["data"]) == {"name", "schedule", "prompt"}
    assert body["data"]["name"] == "is required"


async def test_never_firing_schedule_says_why(client: httpx.AsyncClient):
    body = assert_error(await client.post("/api/agents", json=agent_body(schedule="0 0 31 2 *")), 400)
    assert "never" in body["data"]["schedule"].lower()


@pytest.mark.parametrize(
    "schedule",
    ["@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@annually", "@midnight", "*/5 * * * 1-5"],
)
async def test_accepts_aliases_and_ranges(client, schedule):
    agent = await create(client, schedule=schedule)
    assert agent["schedule"] == schedule


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'"text"', b"", b"null", b"\xff\xfe"])
async def test_bad_bodies_are_400(client: httpx.AsyncClient, raw: bytes):
    response = await client.post("/api/agents", content=raw, headers={"Content-Type": "application/json"})
    assert_error(response, 400)


async def test_read_only_fields_in_a_body_are_ignored(client: httpx.AsyncClient):
    agent = await create(client)
    response = await client.patch(f"/api/agents/{agent['id']}", json={**agent, "name": "Again"})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["id"] == agent["id"]
    assert response.json()["data"]["name"] == "Again"


# -- update / delete ------------------------------------------------------


async def test_update_changes_fields_and_updated_at(client: httpx.AsyncClient):
    agent = await create(client, maxBudgetUsd=1.0)
    response = await client.patch(
        f"/api/agents/{agent['id']}",
        json={"enabled": False, "maxBudgetUsd": None, "maxTurns": 7, "timezone": "Europe/Paris"},
    )
    assert response.status_code == 200
    updated = response.json()["data"]
    assert updated["enabled"] is False
    assert updated["maxBudgetUsd"] is None
    assert updated["maxTurns"] == 7
    assert updated["timezone"] == "Europe/Paris"
    assert updated["nextRunAt"] is None
    assert updated["updatedAt"] >= agent["updatedAt"]
    assert updated["createdAt"] == agent["createdAt"]


async def test_reenabling_plans_the_next_run_in_the_agent_zone(client: httpx.AsyncClient):
    agent = await create(client, enabled=False)
    response = await client.patch(
        f"/api/agents/{agent['id']}", json={"enabled": True, "timezone": "Asia/Tokyo"}
    )
    # 09:00 in Tokyo is 00:00 UTC.
    assert response.json()["data"]["nextRunAt"].endswith("T00:00:00.000Z")


async def test_update_errors(client: httpx.AsyncClient):
    agent = await create(client)
    body = assert_error(
        await client.patch(f"/api/agents/{agent['id']}", json={"schedule": "61 * * * *", "name": ""}),
        400,
    )
    assert set(body["data"]) == {"schedule", "name"}
    body = assert_error(await client.patch(f"/api/agents/{agent['id']}", json={"name": None}), 400)
    assert body["data"] == {"name": "is required"}
    assert_error(await client.patch("/api/agents/missing", json={"name": "x"}), 404)
    # Nothing changed after the rejected updates.
    assert (await client.get(f"/api/agents/{agent['id']}")).json()["data"]["name"] == agent["name"]


async def test_delete_removes_agent_runs_and_events(client: httpx.AsyncClient, server: Server):
    agent = await create(client)
    await server.store.runs.insert("run_1", agent["id"], "running", 1_000)
    await server.store.runs.add_events("run_1", [(1, 1_000, "assistant_text", "{}")])
    response = await client.delete(f"/api/agents/{agent['id']}")
    assert response.status_code == 200
    assert response.json()["data"]["id"] == agent["id"]
    assert response.json()["data"]["name"] == "Daily Digest"
    assert_error(await client.get(f"/api/agents/{agent['id']}"), 404)
    assert await server.store.runs.get("run_1") is None
    assert await server.store.runs.events("run_1") == []
    assert_error(await client.delete(f"/api/agents/{agent['id']}"), 404)


# -- runs -----------------------------------------------------------------


async def _seed_runs(server: Server, agent_id: str, now: int, prefix: str = "") -> None:
    day = 86_400_000
    outcomes = [
        ("r_old", now - 10 * day, "success", 0.01),
        ("r_a", now - 3 * day, "success", 0.02),
        ("r_b", now - 2 * 3_600_000, "error", 0.03),
        ("r_c", now - 3_600_000, "success", 0.04),
    ]
    for run_id, started, status, cost in outcomes:
        run_id = prefix + run_id
        await server.store.runs.insert(run_id, agent_id, "running", started)
        await server.store.runs.finish(
            run_id,
            RunOutcome(status, f"{status} output", started + 90_000, cost, 10, 20, 3),
            server.service.day_of,
        )


async def test_run_history_newest_first_with_limit_and_period(client, server: Server):
    agent = await create(client)
    now = server.service.clock()
    await _seed_runs(server, agent["id"], now)
    runs = (await client.get(f"/api/agents/{agent['id']}/runs")).json()["data"]
    assert [r["id"] for r in runs] == ["r_c", "r_b", "r_a", "r_old"]
    first = runs[0]
    assert first["agentId"] == agent["id"]
    assert first["status"] == "success"
    assert first["output"] == "success output"
    assert first["costUsd"] == 0.04
    assert (first["inputTokens"], first["outputTokens"], first["numTurns"]) == (10, 20, 3)
    assert first["durationMs"] == 90_000
    assert ISO_MS.match(first["startedAt"]) and ISO_MS.match(first["completedAt"])
    limited = (await client.get(f"/api/agents/{agent['id']}/runs?limit=2")).json()["data"]
    assert [r["id"] for r in limited] == ["r_c", "r_b"]
    day = (await client.get(f"/api/agents/{agent['id']}/runs?period=24h")).json()["data"]
    assert [r["id"] for r in day] == ["r_c", "r_b"]
    week = (await client.get(f"/api/agents/{agent['id']}/runs?period=7d")).json()["data"]
    assert [r["id"] for r in week] == ["r_c", "r_b", "r_a"]


@pytest.mark.parametrize("query", ["limit=0", "limit=-3", "limit=abc", "limit=1.5", "period=1y"])
async def test_run_history_bad_query(client: httpx.AsyncClient, query: str):
    agent = await create(client)
    body = assert_error(await client.get(f"/api/agents/{agent['id']}/runs?{query}"), 400)
    assert list(body["data"]) == [query.split("=")[0]]


async def test_run_history_unknown_agent(client: httpx.AsyncClient):
    assert_error(await client.get("/api/agents/missing/runs"), 404)


async def test_get_one_run_with_transcript(client: httpx.AsyncClient, server: Server):
    agent = await create(client)
    await server.store.runs.insert("run_t", agent["id"], "running", 5_000)
    await server.store.runs.add_events(
        "run_t",
        [(1, 5_001, "assistant_text", '{"text": "hi"}'), (2, 5_002, "result", '{"costUsd": 1}')],
    )
    run = (await client.get(f"/api/agents/{agent['id']}/runs/run_t")).json()["data"]
    assert run["status"] == "running"
    assert [e["type"] for e in run["events"]] == ["assistant_text", "result"]
    assert run["events"][0]["text"] == "hi"
    assert_error(await client.get(f"/api/agents/{agent['id']}/runs/nope"), 404)
    other = await create(client, name="Other")
    assert_error(await client.get(f"/api/agents/{other['id']}/runs/run_t"), 404)


# -- run / cancel ---------------------------------------------------------


async def test_run_and_cancel_unknown_agent_404(client: httpx.AsyncClient):
    assert_error(await client.post("/api/agents/missing/run"), 404)
    assert_error(await client.post("/api/agents/missing/cancel"), 404)


# -- stats ----------------------------------------------------------------


async def test_agent_stats_with_zero_filled_days(client: httpx.AsyncClient, server: Server):
    agent = await create(client)
    now = server.service.clock()
    await _seed_runs(server, agent["id"], now)
    stats = (await client.get(f"/api/agents/{agent['id']}/stats")).json()["data"]
    assert stats["totalRuns"] == 3
    assert stats["successRate"] == 67
    assert stats["avgDurationMs"] == 90_000
    assert stats["totalCostUsd"] == pytest.approx(0.09)
    assert ISO_MS.match(stats["lastRunAt"])
    days = stats["dailyRuns"]
    assert len(days) == 7
    assert [d["date"] for d in days] == sorted(d["date"] for d in days)
    assert sum(d["total"] for d in days) == 3
    assert all(d["total"] == d["success"] + d["error"] for d in days)
    assert set(days[0]) >= {"date", "success", "error", "total", "costUsd"}
    month = (await client.get(f"/api/agents/{agent['id']}/stats?period=30d")).json()["data"]
    assert len(month["dailyRuns"]) == 30 and month["totalRuns"] == 4
    day = (await client.get(f"/api/agents/{agent['id']}/stats?period=24h")).json()["data"]
    assert day["totalRuns"] == 2 and day["successRate"] == 50
    assert 1 <= len(day["dailyRuns"]) <= 2


async def test_global_stats(client: httpx.AsyncClient, server: Server):
    a = await create(client, name="A")
    b = await create(client, name="B", enabled=False)
    now = server.service.clock()
    await _seed_runs(server, a["id"], now)
    await server.store.runs.insert("live", b["id"], "running", now)
    stats = (await client.get("/api/agents/stats?period=30d")).json()["data"]
    assert stats["totalAgents"] == 2
    assert stats["activeAgents"] == 1
    assert stats["runsInPeriod"] == 4
    assert stats["successRate"] == 75
    assert stats["totalCostUsd"] == pytest.approx(0.10)
    assert stats["runningAgentIds"] == [b["id"]]
    assert len(stats["dailyRuns"]) == 30
    default = (await client.get("/api/agents/stats")).json()["data"]
    assert len(default["dailyRuns"]) == 7 and default["runsInPeriod"] == 3


async def test_deleting_an_agent_removes_it_from_global_stats(client, server: Server):
    a = await create(client, name="A")
    b = await create(client, name="B")
    now = server.service.clock()
    await _seed_runs(server, a["id"], now)
    await _seed_runs(server, b["id"], now - 1, prefix="b")
    assert (await client.get("/api/agents/stats?period=30d")).json()["data"]["runsInPeriod"] == 8
    await client.delete(f"/api/agents/{b['id']}")
    stats = (await client.get("/api/agents/stats?period=30d")).json()["data"]
    assert stats["runsInPeriod"] == 4
    assert stats["totalCostUsd"] == pytest.approx(0.10)


@pytest.mark.parametrize("path", ["/api/agents/stats?period=1d", "/api/agents/stats?period="])
async def test_stats_bad_period(client: httpx.AsyncClient, path: str):
    body = assert_error(await client.get(path), 400)
    assert "period" in body["data"]


async def test_agent_stats_unknown_agent(client: httpx.AsyncClient):
    assert_error(await client.get("/api/agents/missing/stats"), 404)


# -- auth and the rest ----------------------------------------------------


ROUTES = [
    ("GET", "/api/agents"),
    ("POST", "/api/agents"),
    ("GET", "/api/agents/x"),
    ("PATCH", "/api/agents/x"),
    ("DELETE", "/api/agents/x"),
    ("POST", "/api/agents/x/run"),
    ("POST", "/api/agents/x/cancel"),
    ("GET", "/api/agents/x/runs"),
    ("GET", "/api/agents/x/runs/y"),
    ("GET", "/api/agents/x/stats"),
    ("GET", "/api/agents/stats"),
    ("GET", "/api/events"),
    ("GET", "/api/openapi.json"),
    ("GET", "/api/nothing-here"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic abc", "Bearer "])
async def test_every_api_route_needs_a_valid_token(server: Server, token, method, path, header):
    transport = httpx.ASGITransport(app=server.app)
    headers = {"Authorization": header} if header else {}
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as anon:
        response = await anon.request(method, path, headers=headers)
    body = assert_error(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert token not in response.text
    assert body["statusMessage"] == "Unauthorized"


async def test_revoked_token_is_refused(client: httpx.AsyncClient, server: Server, token: str):
    assert (await client.get("/api/agents")).status_code == 200
    await server.store.tokens.revoke(token[:10], 1)
    assert_error(await client.get("/api/agents"), 401)


async def test_tokens_are_stored_hashed(server: Server, token: str):
    rows = await server.store.tokens.active()
    dump = repr([dict(r) for r in rows])
    assert token not in dump
    assert token[10:] not in dump


async def test_creator_is_the_token_user(server: Server, client: httpx.AsyncClient):
    from app import auth

    _, other = await auth.create_token(server.store, "Ada")
    response = await client.post(
        "/api/agents", json=agent_body(), headers={"Authorization": f"Bearer {other}"}
    )
    assert response.json()["data"]["creator"]["name"] == "Ada"


async def test_unknown_route_and_method(client: httpx.AsyncClient):
    assert_error(await client.get("/api/nothing-here"), 404)
    assert_error(await client.put("/api/agents"), 405)


async def test_healthz_needs_no_token_and_says_only_up(server: Server):
    transport = httpx.ASGITransport(app=server.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as anon:
        response = await anon.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_openapi_describes_every_endpoint(client: httpx.AsyncClient):
    doc = (await client.get("/api/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    expected = {
        "/api/agents": {"get", "post"},
        "/api/agents/{id}": {"get", "patch", "delete"},
        "/api/agents/{id}/run": {"post"},
        "/api/agents/{id}/cancel": {"post"},
        "/api/agents/{id}/runs": {"get"},
        "/api/agents/{id}/runs/{runId}": {"get"},
        "/api/agents/{id}/stats": {"get"},
        "/api/agents/stats": {"get"},
        "/api/events": {"get"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path


async def test_a_minimal_agent_gets_the_defaults_the_openapi_document_states(client: httpx.AsyncClient):
    from app.model import AGENT_FIELDS, NO_DEFAULT
    from app.openapi import openapi_document

    agent = await create(client)
    props = openapi_document()["paths"]["/api/agents"]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ]["properties"]
    stated = {name: p["default"] for name, p in props.items() if "default" in p}
    assert stated and {name: agent[name] for name in stated} == stated
    assert {f.key for f in AGENT_FIELDS if f.default not in (NO_DEFAULT, None)} == set(stated)


def test_the_text_patterns_know_every_whitespace_character():
    """The patterns list str.strip()'s whitespace from the BMP only; there is none beyond it."""
    import sys

    assert not [c for c in range(0x10000, sys.maxunicode + 1) if chr(c).isspace()]
