"""Any JSON body to create or update gives 200 or a 4xx in the error shape: never a 500."""

from __future__ import annotations

import json
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.server import Server

FIELDS = ["name", "description", "schedule", "prompt", "enabled", "maxTurns", "maxBudgetUsd",
          "timezone", "model", "cwd", "allowedTools", "permissionMode", "timeoutSeconds",
          "concurrencyPolicy", "startingDeadlineSeconds", "id", "createdAt", "nextRunAt"]  # fmt: skip

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False), st.text(max_size=30),
    st.sampled_from(["0 9 * * *", "@daily", "* * * * *", "0 0 31 2 *", "61 * * * *", "UTC",
                     "Europe/Berlin", "Mars/Base", "/tmp", "dontAsk", "bypassPermissions", "allow"]),
)  # fmt: skip
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=6)  # fmt: skip
bodies = st.one_of(
    st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), values, max_size=8),
    values,
)


def _check(resp: httpx.Response, ok: set[int]) -> None:
    assert resp.status_code in ok or 400 <= resp.status_code < 500, resp.text
    body = resp.json()
    if resp.status_code >= 400:
        assert body["statusCode"] == resp.status_code
        assert isinstance(body["message"], str) and body["message"]
        assert "Traceback" not in resp.text
        if "data" in body:
            assert all(isinstance(v, str) for v in body["data"].values())
    else:
        assert "data" in body


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies)
async def test_create_never_fails_with_a_server_error(client: httpx.AsyncClient, body: Any) -> None:
    resp = await client.post("/api/agents", content=json.dumps(body))
    _check(resp, {200})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies)
async def test_update_never_fails_with_a_server_error(
    client: httpx.AsyncClient, server: Server, body: Any
) -> None:
    agents = (await client.get("/api/agents")).json()["data"]
    if not agents:
        created = await client.post("/api/agents", json={"name": "a", "schedule": "@daily",
                                                          "prompt": "p"})  # fmt: skip
        agents = [created.json()["data"]]
    resp = await client.put(f"/api/agents/{agents[0]['id']}", content=json.dumps(body))
    _check(resp, {200})


async def test_malformed_json_is_a_400(client: httpx.AsyncClient) -> None:
    for raw in (b"{", b"\xff\xfe", b"", b"[1,", b"NaN"):
        resp = await client.post("/api/agents", content=raw)
        assert resp.status_code == 400, raw
        assert resp.json()["statusCode"] == 400
