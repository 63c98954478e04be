"""The OpenAPI document tells the truth: schemathesis, every check, against a live server.

Schemathesis reads ``/api/openapi.json`` from the server on a real socket and
sends what it derives from it: valid and invalid bodies, parameters and
methods, requests without or with a bad token, and stateful sequences that
follow the document's links (create an agent, then get, patch, run, list,
delete it by its real id; get the started run by its id). Every answer must
conform (status declared, body and headers as declared, valid data accepted,
invalid data refused): zero failures. Runs start the real Claude Code CLI
against the fake Messages API, hence ``slow``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import httpx
import pytest

from app.http_body import MAX_BODY_BYTES
from app.model import AGENT_FIELDS_BY_KEY
from app.model.rules import MODEL_MAX_LENGTH, MODEL_PATTERN, NAME_MAX_LENGTH, NAME_PATTERN
from app.server import Server
from app.throttle import FAILURE_LIMIT
from storage import runs as run_store
from tests.wire import ROOT


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_schemathesis_finds_no_failure_with_every_check(live_url: str, token: str, tmp_path: Path):
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(ROOT / "tests" / "schemathesis.toml"),
        "run",
        f"{live_url}/api/openapi.json",
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        "15",
        "--seed",
        "20261129",
        "--workers",
        "1",
        "--generation-database",
        "none",
        "--no-color",
        "--exclude-path",
        "/api/events",  # endless by design; tested in test_api_http.py
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
    ]
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.schemathesis_hooks",
        "PYTHONPATH": str(ROOT),
        "CRONAGENTS_TEST_CWD": str(tmp_path),
    }
    proc = await asyncio.create_subprocess_exec(  # in tmp_path: schemathesis leaves a cache behind
        *command, cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await asyncio.wait_for(proc.communicate(), 120)
    report = output.decode(errors="replace")
    assert proc.returncode == 0, report
    assert "Stateful" in report and "failures" not in report.splitlines()[-1], report
    tested = report.split("Test cases:", 1)[1].splitlines()[1]
    assert int(tested.split()[0]) > 300, report  # it did test, and a lot


# -- the document itself ---------------------------------------------------------------


async def document(client: httpx.AsyncClient) -> dict:
    response = await client.get("/api/openapi.json")
    assert response.status_code == 200
    return json.loads(response.content)


async def test_every_operation_declares_every_status_it_can_answer(client: httpx.AsyncClient):
    paths = (await document(client))["paths"]
    for path, operations in paths.items():
        for method, op in operations.items():
            declared = set(op["responses"])
            if path.startswith("/api/"):
                assert {"200", "401", "429"} <= declared, (method, path)
                assert op["responses"]["429"]["headers"]["Retry-After"]["required"] is True
            if "{id}" in path:
                assert {"404", "405"} <= declared, (method, path)
                assert "Allow" in op["responses"]["405"]["headers"]
            if method in ("post", "patch") and path.startswith("/api/"):
                assert {"413", "415"} <= declared, (method, path)
            if "requestBody" in op or any(
                p["in"] == "query" and p["name"] != "agentId" for p in op.get("parameters", [])
            ):
                assert "400" in declared, (method, path)


async def test_the_document_publishes_the_limits_validation_enforces(client: httpx.AsyncClient):
    doc = await document(client)
    create = doc["paths"]["/api/agents"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    props = create["properties"]
    assert create["required"] == ["name", "prompt"]
    assert [branch["required"] for branch in create["oneOf"]] == [["schedule"], ["runAt"]]
    assert create["additionalProperties"] is False
    assert props["name"]["maxLength"] == NAME_MAX_LENGTH and props["name"]["pattern"] == NAME_PATTERN
    assert props["model"]["maxLength"] == MODEL_MAX_LENGTH and props["model"]["pattern"] == MODEL_PATTERN
    assert props["maxTurns"] == {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50}
    assert set(props) == set(AGENT_FIELDS_BY_KEY)
    assert str(MAX_BODY_BYTES) in json.dumps(doc["paths"]["/api/agents"]["post"]["responses"]["413"])
    assert str(FAILURE_LIMIT) in doc["paths"]["/api/agents"]["get"]["responses"]["429"]["description"]
    assert "UTC" in doc["components"]["schemas"]["Timezone"]["enum"]


def data_properties(doc: dict, path: str, method: str = "get") -> set[str]:
    """The keys the document declares under ``data`` in an operation's 200 answer."""
    schema = doc["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]
    data = schema["properties"]["data"]
    if data.get("type") == "array":
        data = data["items"]
    if "$ref" in data:
        data = doc["components"]["schemas"][data["$ref"].rsplit("/", 1)[1]]
    assert set(data["required"]) == set(data["properties"]), path
    return set(data["properties"])


async def test_every_field_returned_is_declared_and_required(client: httpx.AsyncClient, server: Server):
    doc = await document(client)
    agent = await client.post("/api/agents", json={"name": "a", "schedule": "@daily", "prompt": "p"})
    agent_id = agent.json()["data"]["id"]
    assert set(agent.json()["data"]) == data_properties(doc, "/api/agents", "post")
    await run_store.insert_run(server.db, "run_1", agent_id, "running", server.service.clock())
    await run_store.add_events(server.db, "run_1", [(1, server.service.clock(), "text", '{"text": "hi"}')])
    runs = (await client.get(f"/api/agents/{agent_id}/runs")).json()["data"]
    assert set(runs[0]) == data_properties(doc, "/api/agents/{id}/runs")
    run = (await client.get(f"/api/agents/{agent_id}/runs/run_1")).json()["data"]
    run_schema = doc["paths"]["/api/agents/{id}/runs/{runId}"]["get"]["responses"]["200"]["content"][
        "application/json"
    ]["schema"]["properties"]["data"]["allOf"][1]
    assert set(run) == set(runs[0]) | set(run_schema["properties"])
    assert set(run["events"][0]) >= set(run_schema["properties"]["events"]["items"]["required"])
    for path in ("/api/agents/{id}/stats", "/api/agents/stats"):
        stats = (await client.get(path.replace("{id}", agent_id))).json()["data"]
        assert set(stats) == data_properties(doc, path)
        daily = doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        daily_items = daily["properties"]["data"]["properties"]["dailyRuns"]["items"]
        assert set(stats["dailyRuns"][0]) == set(daily_items["properties"]) == set(daily_items["required"])
    deleted = (await client.delete(f"/api/agents/{agent_id}")).json()["data"]
    assert set(deleted) == data_properties(doc, "/api/agents/{id}", "delete")
