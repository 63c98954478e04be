"""Any JSON body to create or update gives 200 or a 4xx in the error shape: never a 500.

Hypothesis drives a synchronous httpx client in a worker thread against the
server on a real socket (the event loop stays free to serve it). Each test
also asserts that its bodies exercised both outcomes: some were accepted and
read back as sent, some were refused field by field, so a route that
answered every body alike (a 405, say) would fail it.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FIELDS = [
    "name",
    "description",
    "schedule",
    "prompt",
    "enabled",
    "maxTurns",
    "maxBudgetUsd",
    "timezone",
    "model",
    "cwd",
    "allowedTools",
    "permissionMode",
    "timeoutSeconds",
    "concurrencyPolicy",
    "startingDeadlineSeconds",
    "id",
    "createdAt",
    "nextRunAt",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.sampled_from(
        [
            "0 9 * * *",
            "@daily",
            "* * * * *",
            "0 0 31 2 *",
            "61 * * * *",
            "UTC",
            "Europe/Berlin",
            "Mars/Base",
            "/tmp",
            "dontAsk",
            "bypassPermissions",
            "allow",
            "--dangerously-skip-permissions",
            "claude-sonnet-4-5",
            "a\x00b",
        ]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
# Values the API must take as they are and give back unchanged.
valid_fields = {
    "name": st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=200)
    .map(str.strip)
    .filter(bool),
    "schedule": st.sampled_from(["0 9 * * *", "@daily", "*/5 * * * 1-5", "@yearly"]),
    "prompt": st.sampled_from(["Summarize.", "Review\nthe\ttasks"]),
    "enabled": st.booleans(),
    "maxTurns": st.integers(1, 1000),
    "maxBudgetUsd": st.none() | st.floats(0.01, 10_000),
    "timezone": st.sampled_from(["UTC", "Europe/Berlin", "America/New_York"]),
    "model": st.none() | st.sampled_from(["claude-sonnet-4-5", "claude-opus-4-1[1m]"]),
    "permissionMode": st.sampled_from(["dontAsk", "acceptEdits", "plan", "default"]),
    "concurrencyPolicy": st.sampled_from(["forbid", "allow", "replace"]),
}
valid_updates = st.fixed_dictionaries({}, optional=valid_fields)
garbage = st.one_of(
    st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), values, max_size=8),
    values,
)
bodies = st.one_of(valid_updates, garbage)
FUZZ = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def check_answer(resp: httpx.Response, body: Any) -> None:
    assert resp.status_code == 200 or 400 <= resp.status_code < 500, resp.text
    answer = resp.json()
    if resp.status_code >= 400:
        assert answer["statusCode"] == resp.status_code
        assert isinstance(answer["message"], str) and answer["message"]
        assert "Traceback" not in resp.text
        if "data" in answer:
            assert all(isinstance(v, str) for v in answer["data"].values())
        return
    agent = answer["data"]
    for key, value in body.items():
        if key in valid_fields and key != "maxBudgetUsd":
            assert agent[key] == value, (key, value, agent[key])


def fuzz(url: str, token: str, method: str) -> Counter[int]:
    """Run the fuzzer (blocking); returns how many answers each status got."""
    statuses: Counter[int] = Counter()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with httpx.Client(base_url=url, headers=headers, timeout=10) as http:
        base = {"name": "fuzz", "schedule": "@daily", "prompt": "p"}
        agent_id = http.post("/api/agents", json=base).json()["data"]["id"]

        @FUZZ
        @given(body=bodies)
        def send(body: Any) -> None:
            if method == "POST" and isinstance(body, dict) and body and set(body) <= set(valid_fields):
                body = {**base, **body}
            path = "/api/agents" if method == "POST" else f"/api/agents/{agent_id}"
            resp = http.request(method, path, content=json.dumps(body))
            statuses[resp.status_code] += 1
            check_answer(resp, body)

        send()
    return statuses


async def test_create_never_fails_with_a_server_error(live_url: str, token: str) -> None:
    statuses = await asyncio.to_thread(fuzz, live_url, token, "POST")
    assert statuses[200] >= 10 and statuses[400] >= 10, statuses


async def test_update_never_fails_with_a_server_error(live_url: str, token: str) -> None:
    """PATCH is how an agent is updated (PUT is not routed: it would be 405 for every body)."""
    statuses = await asyncio.to_thread(fuzz, live_url, token, "PATCH")
    assert statuses[200] >= 10 and statuses[400] >= 10, statuses
    assert set(statuses) <= {200, 400}, statuses


async def test_malformed_json_is_a_400(client: httpx.AsyncClient) -> None:
    for raw in (b"{", b"\xff\xfe", b"", b"[1,", b"NaN", b'{"maxTurns": Infinity}', b"\xef\xbb\xbf{}"):
        resp = await client.post("/api/agents", content=raw, headers={"Content-Type": "application/json"})
        assert resp.status_code == 400, raw
        assert resp.json()["statusCode"] == 400
