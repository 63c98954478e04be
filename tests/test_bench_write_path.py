"""The write-path cell of ``bench/api.py`` counts what happened (a small run against a real socket)."""

from __future__ import annotations

from urllib.parse import urlsplit

from bench._write_path import OPERATIONS, write_path


async def test_write_path_accounts_for_every_request(live_url: str, token: str) -> None:
    url = urlsplit(live_url)
    assert url.hostname and url.port
    result = await write_path(url.hostname, url.port, token, clients=5, creates=20)
    assert result.transport_errors == 0
    assert len(result.latencies_ms["create"]) == 20
    assert result.created + result.non_2xx("create") == 20
    for op in OPERATIONS[1:]:  # each acknowledged create is followed by one of each
        assert len(result.latencies_ms[op]) == result.created
    assert result.requests == 20 + 4 * result.created
    assert result.listed_after == 20  # every create committed, whatever it answered
    assert result.ghost_creates == result.non_2xx("create")
    assert all(latency > 0 for lat in result.latencies_ms.values() for latency in lat)
