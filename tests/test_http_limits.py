"""Hostile request bodies over a real socket: a clear 4xx in the contract's shape, at no cost.

Over 1 MiB is 413 (from Content-Length before reading, or while reading a
chunked body), not JSON is 415, JSON that cannot be stored (nested too deep,
lone surrogates) is 400 — and the connection and the server carry on.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from app.client import ApiClient, ApiError
from app.http_body import MAX_BODY_BYTES
from tests.conftest import agent_body
from tests.wire import aiter_bytes, chunked, exchange, request_head, serve_in_subprocess

MIB = 1_048_576
assert MAX_BODY_BYTES == MIB


def assert_error(status: int, body: dict, expected: int) -> dict:
    assert status == expected, body
    assert body["statusCode"] == expected
    assert body["statusMessage"] and body["message"]
    return body


def json_body_of_size(size: int) -> bytes:
    """``{"name": "xxx..."}`` of exactly ``size`` bytes."""
    frame = b'{"name": ""}'
    return frame[:-2] + b"x" * (size - len(frame)) + frame[-2:]


def head(token: str, method: str = "POST", path: str = "/api/agents", **headers: str) -> bytes:
    return request_head(
        method, path, {"Authorization": f"Bearer {token}", "Content-Type": "application/json", **headers}
    )


# -- 413 -------------------------------------------------------------------------------


async def test_content_length_over_1_mib_is_413_before_a_byte_is_read(live_url: str, token: str):
    """The server answers from the headers alone: the client has not sent any of the body."""
    response = await exchange(live_url, head(token, **{"Content-Length": str(50 * MIB)}))
    body = assert_error(response.status, response.json(), 413)
    assert "1048576 bytes" in body["message"]
    assert response.body_bytes_sent == 0
    for method in ("PATCH", "PUT"):
        response = await exchange(
            live_url, head(token, method, "/api/agents/x", **{"Content-Length": str(MIB + 1)})
        )
        assert_error(response.status, response.json(), 413)


async def test_chunked_body_over_1_mib_is_413_while_reading(live_url: str, token: str):
    """No Content-Length: the server stops at the first chunk past 1 MiB, long before 50 MB."""
    pieces = chunked(b" " * 65_536 for _ in range(800))  # 50 MiB of JSON whitespace
    response = await exchange(live_url, head(token, **{"Transfer-Encoding": "chunked"}), pieces)
    body = assert_error(response.status, response.json(), 413)
    assert "larger than 1048576 bytes" in body["message"]
    assert response.body_bytes_sent < 20 * MIB


async def test_exactly_1_mib_is_read_and_one_byte_more_is_not(live_client: httpx.AsyncClient):
    at_limit = json_body_of_size(MIB)
    response = await live_client.post(
        "/api/agents", content=at_limit, headers={"Content-Type": "application/json"}
    )
    assert_error(response.status_code, response.json(), 400)
    assert set(response.json()["data"]) == {"name", "schedule", "prompt"}
    over = json_body_of_size(MIB + 1)
    response = await live_client.post(
        "/api/agents", content=over, headers={"Content-Type": "application/json"}
    )
    assert_error(response.status_code, response.json(), 413)
    # The same, chunked (httpx streams an async iterator without Content-Length).
    response = await live_client.post(
        "/api/agents",
        content=aiter_bytes([over[:MIB], over[MIB:]]),
        headers={"Content-Type": "application/json"},
    )
    assert "content-length" not in response.request.headers
    assert_error(response.status_code, response.json(), 413)
    assert (await live_client.get("/api/agents")).json() == {"data": []}


async def test_a_50_mb_body_does_not_grow_the_server_memory(tmp_path: Path):
    """The server (its own process) keeps its peak resident memory within a few MB."""
    with serve_in_subprocess(tmp_path, "--no-access-log") as served:
        auth = {"Authorization": f"Bearer {served.token}"}
        async with httpx.AsyncClient(base_url=served.url, timeout=30, headers=auth) as http:
            warm = await http.post("/api/agents", json=agent_body())  # imports and caches first
            assert warm.status_code == 200
            before = served.memory_kib()
            sized = head(served.token, **{"Content-Length": str(50 * MIB)})
            for _ in range(2):
                response = await exchange(served.url, sized, [b" " * MIB] * 50)
                assert response.status == 413
                stream = head(served.token, **{"Transfer-Encoding": "chunked"})
                response = await exchange(served.url, stream, chunked([b" " * 65_536] * 800))
                assert response.status == 413
            big = await http.post(
                "/api/agents",
                content=aiter_bytes([b" " * MIB] * 50),
                headers={"Content-Type": "application/json"},
            )
            assert big.status_code == 413
            assert (await http.get("/api/agents")).status_code == 200
            grown_mib = (served.memory_kib() - before) / 1024
    assert grown_mib < 8, f"peak RSS grew by {grown_mib:.1f} MiB"


# -- 400: JSON that parses badly or cannot be stored -------------------------------------


async def test_deeply_nested_json_is_a_400_and_the_connection_lives_on(live_client: httpx.AsyncClient):
    for raw in (b"[" * 100_000, b"[" * 100_000 + b"]" * 100_000, b'{"name": ' + b"[" * 50_000):
        response = await live_client.post(
            "/api/agents", content=raw, headers={"Content-Type": "application/json"}
        )
        body = assert_error(response.status_code, response.json(), 400)
        assert "JSON" in body["message"]
    nested = await live_client.post(
        "/api/agents", content=b"[" * 100_000 + b"]" * 100_000, headers={"Content-Type": "application/json"}
    )
    assert "nested too deeply" in nested.json()["message"]
    assert (await live_client.get("/api/agents")).status_code == 200


@pytest.mark.parametrize("field", ["name", "description", "prompt", "model", "timezone", "schedule"])
async def test_a_lone_surrogate_in_any_string_field_is_a_400_naming_it(live_client, field: str):
    body = json.dumps(agent_body()).encode()[:-1] + f', "{field}": "bad \\ud800 text"}}'.encode()
    response = await live_client.post(
        "/api/agents", content=body, headers={"Content-Type": "application/json"}
    )
    answer = assert_error(response.status_code, response.json(), 400)
    assert list(answer["data"]) == [field]
    assert "surrogate" in answer["data"][field]
    assert (await live_client.get("/api/agents")).json() == {"data": []}


async def test_lone_surrogates_anywhere_are_a_400(live_client: httpx.AsyncClient, token: str):
    agent = (await live_client.post("/api/agents", json=agent_body())).json()["data"]
    cases = [
        ("POST", "/api/agents", b'{"allowedTools": ["Read", "\\udfff"]}'),
        ("POST", "/api/agents", b'{"\\ud800": 1}'),
        ("POST", "/api/agents", b'["\\uDBFF"]'),
        ("PATCH", f"/api/agents/{agent['id']}", b'{"name": "\\ud800\\ud800"}'),
        ("PATCH", f"/api/agents/{agent['id']}", b'{"unknown": {"deep": ["\\ude00"]}}'),
    ]
    for method, path, raw in cases:
        response = await live_client.request(
            method, path, content=raw, headers={"Content-Type": "application/json"}
        )
        answer = assert_error(response.status_code, response.json(), 400)
        assert "surrogate" in json.dumps(answer), raw
    # A surrogate pair is one real character, and welcome.
    response = await live_client.patch(
        f"/api/agents/{agent['id']}",
        content=b'{"name": "\\ud83d\\ude00"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200
    assert response.json()["data"]["name"] == "\U0001f600"


# -- 415 -------------------------------------------------------------------------------


NOT_JSON = [
    None,
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/jsonx",
]


@pytest.mark.parametrize("content_type", NOT_JSON)
async def test_a_body_that_is_not_json_is_415(live_client: httpx.AsyncClient, content_type):
    agent = (await live_client.post("/api/agents", json=agent_body())).json()["data"]
    headers = {"Content-Type": content_type} if content_type else {}
    raw = json.dumps(agent_body(name="Other")).encode()
    for method, path in (("POST", "/api/agents"), ("PATCH", f"/api/agents/{agent['id']}")):
        response = await live_client.request(method, path, content=raw, headers=headers)
        if content_type is None:
            assert "content-type" not in response.request.headers
        body = assert_error(response.status_code, response.json(), 415)
        assert "application/json" in body["message"]
    assert [a["name"] for a in (await live_client.get("/api/agents")).json()["data"]] == ["Daily Digest"]


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/merge-patch+json",
    ],
)
async def test_json_media_types_are_accepted(live_client: httpx.AsyncClient, content_type: str):
    response = await live_client.post(
        "/api/agents", content=json.dumps(agent_body()).encode(), headers={"Content-Type": content_type}
    )
    assert response.status_code == 200, response.text


async def test_run_and_cancel_need_no_body_nor_content_type(live_url: str, token: str):
    """The dashboard's client (and curl -X POST) call run and cancel with no body at all."""
    api = ApiClient(live_url, token)
    try:
        agent = await api.create_agent(agent_body(enabled=False))
        with pytest.raises(ApiError) as cancelled:
            await api.cancel_agent(agent["id"])
        assert cancelled.value.status == 404
        assert cancelled.value.message == "No running executions found for this agent"
    finally:
        await api.aclose()
    for path in (f"/api/agents/{agent['id']}/cancel", "/api/agents/nope/run"):
        bare = request_head("POST", path, {"Authorization": f"Bearer {token}"})
        response = await exchange(live_url, bare)
        assert response.status == 404, response.body
        empty = request_head("POST", path, {"Authorization": f"Bearer {token}", "Content-Length": "0"})
        assert (await exchange(live_url, empty)).status == 404
