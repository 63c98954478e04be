"""What README promises about lists and money, as a user reads the API's answers."""

from __future__ import annotations

import httpx
import pytest

from app.server import Server
from app.timeutil import now_ms
from storage.interface import RunOutcome
from tests.conftest import agent_body

pytestmark = pytest.mark.both_backends


async def test_the_list_is_alphabetical_as_people_read_it(client: httpx.AsyncClient) -> None:
    for name in ("Banana", "_x", "apple", "Édith", "zebra", "Eve"):
        assert (await client.post("/api/agents", json=agent_body(name=name))).status_code == 200
    names = [a["name"] for a in (await client.get("/api/agents")).json()["data"]]
    assert names == ["_x", "apple", "Banana", "Édith", "Eve", "zebra"]


async def test_run_cost_carries_no_float_noise(server: Server, client: httpx.AsyncClient) -> None:
    agent = (await client.post("/api/agents", json=agent_body())).json()["data"]
    await server.store.runs.insert("run_c", agent["id"], "running", now_ms(), owner=server.server_id)
    outcome = RunOutcome("success", "ok", now_ms(), cost_usd=0.00028000000000000003)
    await server.store.runs.finish("run_c", outcome, server.service.day_of)
    runs = (await client.get(f"/api/agents/{agent['id']}/runs")).json()["data"]
    assert runs[0]["costUsd"] == 0.00028
    assert '"costUsd":0.00028,' in (await client.get(f"/api/agents/{agent['id']}/runs")).text.replace(" ", "")
