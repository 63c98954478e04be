"""The dashboard's HTTP client for the REST API and its server-sent-events stream.

Every call the dashboard makes goes through :class:`ApiClient`, over httpx, so
the dashboard can never do what the API cannot. Errors come back as
:class:`ApiError` (``status`` 0 when the server could not be reached) carrying
the API's ``message`` and, for validation errors, its per-field ``fields``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, Protocol

import httpx

Json = dict[str, Any]
STALE_CONNECTION = (httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError)
"""How reusing a connection the server has just closed fails."""


class ApiError(Exception):
    """An API call failed: the server said no (``status`` >= 400) or was unreachable (0)."""

    def __init__(self, status: int, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.fields: dict[str, str] = fields or {}

    @property
    def unreachable(self) -> bool:
        return self.status == 0


class DashboardClient(Protocol):
    """What the dashboard needs from a server (:class:`ApiClient`; the snapshot tests' fake)."""

    base_url: str

    async def aclose(self) -> None: ...
    async def list_agents(self) -> list[Json]: ...
    async def get_agent(self, agent_id: str) -> Json: ...
    async def create_agent(self, body: Json) -> Json: ...
    async def update_agent(self, agent_id: str, body: Json) -> Json: ...
    async def delete_agent(self, agent_id: str) -> Json: ...
    async def run_agent(self, agent_id: str, input: Any = None) -> str: ...
    async def set_trigger_secret(self, agent_id: str) -> Json: ...
    async def remove_trigger_secret(self, agent_id: str) -> Json: ...
    async def cancel_agent(self, agent_id: str) -> int: ...
    async def list_runs(self, agent_id: str, limit: int = 100, period: str | None = None) -> list[Json]: ...
    async def get_run(self, agent_id: str, run_id: str) -> Json: ...
    async def agent_stats(self, agent_id: str, period: str) -> Json: ...
    async def global_stats(self, period: str) -> Json: ...
    async def list_channels(self) -> list[Json]: ...
    async def create_channel(self, body: Json) -> Json: ...
    async def update_channel(self, channel_id: str, body: Json) -> Json: ...
    async def delete_channel(self, channel_id: str) -> Json: ...
    async def test_channel(self, channel_id: str) -> Json: ...
    async def get_settings(self) -> Json: ...
    async def update_settings(self, body: Json) -> Json: ...
    async def list_nodes(self) -> list[Json]: ...
    def events(self, agent_id: str | None = None) -> AsyncIterator[Json]: ...


class ApiClient:
    """Thin async wrapper of the endpoints the dashboard uses."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 15.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            try:
                response = await self._http.request(method, path, **kwargs)
            except STALE_CONNECTION:
                if method != "GET":
                    raise
                # A kept-alive connection the server closed as it was reused (uvicorn closes idle
                # ones after 5 s): a read is safe to send again, on a new connection.
                response = await self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ApiError(0, f"cannot reach {self.base_url}: {exc.__class__.__name__}") from exc
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {}
            message = body.get("message") if isinstance(body, dict) else None
            fields = body.get("data") if isinstance(body, dict) else None
            raise ApiError(
                response.status_code,
                str(message or response.reason_phrase),
                fields if isinstance(fields, dict) else None,
            )
        return response.json()

    # -- agents -----------------------------------------------------------------------

    async def list_agents(self) -> list[Json]:
        return list((await self._request("GET", "/api/agents"))["data"])

    async def get_agent(self, agent_id: str) -> Json:
        return dict((await self._request("GET", f"/api/agents/{agent_id}"))["data"])

    async def create_agent(self, body: Json) -> Json:
        return dict((await self._request("POST", "/api/agents", json=body))["data"])

    async def update_agent(self, agent_id: str, body: Json) -> Json:
        return dict((await self._request("PATCH", f"/api/agents/{agent_id}", json=body))["data"])

    async def delete_agent(self, agent_id: str) -> Json:
        return dict((await self._request("DELETE", f"/api/agents/{agent_id}"))["data"])

    async def run_agent(self, agent_id: str, input: Any = None) -> str:
        """Start a run now; ``input`` (text or any JSON; None: none) is the run's ``{{input}}``."""
        body = {"input": input} if input is not None else None
        return str((await self._request("POST", f"/api/agents/{agent_id}/run", json=body))["runId"])

    async def set_trigger_secret(self, agent_id: str) -> Json:
        """Create or rotate the agent's trigger secret: ``{"secret", "url"}``, the only time it is shown."""
        return dict((await self._request("POST", f"/api/agents/{agent_id}/trigger-secret"))["data"])

    async def remove_trigger_secret(self, agent_id: str) -> Json:
        """Stop accepting the agent's inbound webhooks; the agent as it is now."""
        return dict((await self._request("DELETE", f"/api/agents/{agent_id}/trigger-secret"))["data"])

    async def cancel_agent(self, agent_id: str) -> int:
        return int((await self._request("POST", f"/api/agents/{agent_id}/cancel"))["cancelledCount"])

    # -- runs and stats ---------------------------------------------------------------

    async def list_runs(self, agent_id: str, limit: int = 100, period: str | None = None) -> list[Json]:
        params: dict[str, Any] = {"limit": limit}
        if period:
            params["period"] = period
        return list((await self._request("GET", f"/api/agents/{agent_id}/runs", params=params))["data"])

    async def get_run(self, agent_id: str, run_id: str) -> Json:
        return dict((await self._request("GET", f"/api/agents/{agent_id}/runs/{run_id}"))["data"])

    async def agent_stats(self, agent_id: str, period: str) -> Json:
        path = f"/api/agents/{agent_id}/stats"
        return dict((await self._request("GET", path, params={"period": period}))["data"])

    async def global_stats(self, period: str) -> Json:
        return dict((await self._request("GET", "/api/agents/stats", params={"period": period}))["data"])

    # -- channels and settings --------------------------------------------------------

    async def list_channels(self) -> list[Json]:
        return list((await self._request("GET", "/api/channels"))["data"])

    async def create_channel(self, body: Json) -> Json:
        """The new channel; a webhook's answer holds its signing ``secret``, the only time it is shown."""
        return dict((await self._request("POST", "/api/channels", json=body))["data"])

    async def update_channel(self, channel_id: str, body: Json) -> Json:
        return dict((await self._request("PATCH", f"/api/channels/{channel_id}", json=body))["data"])

    async def delete_channel(self, channel_id: str) -> Json:
        return dict((await self._request("DELETE", f"/api/channels/{channel_id}"))["data"])

    async def test_channel(self, channel_id: str) -> Json:
        """Sends a test message now; the delivery as recorded (``status`` sent or failed, ``lastError``)."""
        return dict((await self._request("POST", f"/api/channels/{channel_id}/test"))["data"])

    async def get_settings(self) -> Json:
        return dict((await self._request("GET", "/api/settings"))["data"])

    async def update_settings(self, body: Json) -> Json:
        return dict((await self._request("PATCH", "/api/settings", json=body))["data"])

    # -- the cluster ------------------------------------------------------------------

    async def list_nodes(self) -> list[Json]:
        """The servers sharing the database, first started first (``alive``, ``runningRuns`` …)."""
        return list((await self._request("GET", "/api/nodes"))["data"])

    # -- the event stream -------------------------------------------------------------

    async def events(self, agent_id: str | None = None) -> AsyncIterator[Json]:
        """Server-sent events as dicts (``{"id", "type", ...}``) until the stream ends.

        Raises :class:`ApiError` when the server cannot be reached or refuses.
        """
        params = {"agentId": agent_id} if agent_id else None
        try:
            async with self._http.stream(
                "GET", "/api/events", params=params, timeout=httpx.Timeout(10.0, read=None)
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise ApiError(response.status_code, response.reason_phrase)
                yield {"type": "stream.open"}
                data: list[str] = []
                async for line in response.aiter_lines():
                    if line.startswith("data:"):
                        data.append(line[5:].lstrip())
                    elif line == "" and data:
                        try:
                            event = json.loads("\n".join(data))
                        except ValueError:
                            event = None
                        data = []
                        if isinstance(event, dict):
                            yield event
        except httpx.TransportError as exc:
            raise ApiError(0, f"event stream lost: {exc.__class__.__name__}") from exc
