"""The REST API (Starlette): every endpoint of docs/api.md, all under ``/api``.

Thin: parse the request, call :class:`AgentService`, wrap the answer in
``{"data": ...}``. Errors use the contract's shape
``{"statusCode", "statusMessage", "message"[, "data"]}`` and never carry a trace.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from app.auth import TokenAuthenticator, User
from app.channel_service import ChannelService
from app.events import EventBus
from app.http_auth import BearerAuthMiddleware
from app.http_body import BodyLimits, read_body, read_json, read_optional_json
from app.http_errors import EXCEPTION_HANDLERS
from app.inbound import InboundHooks
from app.model.channel import delivery_json
from app.notify.deliverer import Deliverer
from app.openapi import openapi_document
from app.service import AgentService, parse_limit, parse_period
from app.throttle import FailureThrottle

log = logging.getLogger("cronagents.api")

SSE_HEARTBEAT_SECONDS = 15.0
TOKEN_RECHECK_SECONDS = 0.5


def data(value: Any) -> JSONResponse:
    return JSONResponse({"data": value})


Handler = Callable[[Request], Awaitable[Response]]


def build_api(
    service: AgentService,
    channels: ChannelService,
    deliverer: Deliverer,
    authenticator: TokenAuthenticator,
    bus: EventBus,
    hooks: InboundHooks,
    throttle: FailureThrottle | None = None,
) -> Starlette:
    """The API; ``throttle`` counts the failed tokens of each address (default: a new one)."""

    async def list_agents(request: Request) -> Response:
        return Response(await service.list_agents_body(), media_type="application/json")

    async def create_agent(request: Request) -> Response:
        user: User = request.state.user
        return data(await service.create_agent(await read_json(request), user))

    async def get_agent(request: Request) -> Response:
        return data(await service.get_agent(request.path_params["id"]))

    async def update_agent(request: Request) -> Response:
        return data(await service.update_agent(request.path_params["id"], await read_json(request)))

    async def delete_agent(request: Request) -> Response:
        return data(await service.delete_agent(request.path_params["id"]))

    async def run_agent(request: Request) -> Response:
        body = await read_optional_json(request, absent={})
        run_id = await service.trigger_run(request.path_params["id"], body)
        return JSONResponse({"message": "Agent started", "runId": run_id})

    async def set_trigger_secret(request: Request) -> Response:
        body = await read_optional_json(request, absent={})
        return data(await hooks.set_secret(request.path_params["id"], body))

    async def remove_trigger_secret(request: Request) -> Response:
        return data(await hooks.remove_secret(request.path_params["id"]))

    async def hook(request: Request) -> Response:
        body = await read_body(request)
        address = request.client.host if request.client else "unknown"
        answer = await hooks.receive(request.path_params["id"], request.headers, body, address)
        return JSONResponse(answer)

    async def cancel_agent(request: Request) -> Response:
        count = await service.cancel_runs(request.path_params["id"])
        return JSONResponse(
            {
                "success": True,
                "message": f"Cancelled {count} running execution(s)",
                "cancelledCount": count,
            }
        )

    async def list_runs(request: Request) -> Response:
        q = request.query_params
        limit = parse_limit(q.get("limit"))
        period = parse_period(q.get("period"), default=None)
        return data(await service.list_runs(request.path_params["id"], limit, period))

    async def get_run(request: Request) -> Response:
        p = request.path_params
        return data(await service.get_run(p["id"], p["run_id"]))

    async def agent_stats(request: Request) -> Response:
        period = parse_period(request.query_params.get("period"))
        assert period is not None
        return data(await service.agent_stats(request.path_params["id"], period))

    async def global_stats(request: Request) -> Response:
        period = parse_period(request.query_params.get("period"))
        assert period is not None
        return data(await service.global_stats(period))

    async def events(request: Request) -> Response:
        agent_filter = request.query_params.get("agentId")
        token_hash: str = request.state.token_hash

        async def authorized() -> bool:
            return await authenticator.user_for_hash(token_hash) is not None

        return StreamingResponse(
            _sse(bus, request, agent_filter, authorized),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    async def list_channels(request: Request) -> Response:
        return data(await channels.list_channels())

    async def create_channel(request: Request) -> Response:
        return data(await channels.create_channel(await read_json(request)))

    async def get_channel(request: Request) -> Response:
        return data(await channels.get_channel(request.path_params["id"]))

    async def update_channel(request: Request) -> Response:
        return data(await channels.update_channel(request.path_params["id"], await read_json(request)))

    async def delete_channel(request: Request) -> Response:
        return data(await channels.delete_channel(request.path_params["id"]))

    async def test_channel(request: Request) -> Response:
        row = await channels.channel_row(request.path_params["id"])
        return data(delivery_json(await deliverer.test(row)))

    async def get_settings(request: Request) -> Response:
        return data(await channels.get_settings())

    async def update_settings(request: Request) -> Response:
        return data(await channels.update_settings(await read_json(request)))

    async def openapi(request: Request) -> Response:
        return JSONResponse(openapi_document())

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    routes = [
        resource("/healthz", GET=healthz),
        resource("/api/openapi.json", GET=openapi),
        resource("/api/events", GET=events),
        resource("/api/agents", GET=list_agents, POST=create_agent),
        resource("/api/agents/stats", GET=global_stats),
        resource("/api/agents/{id}", GET=get_agent, PATCH=update_agent, DELETE=delete_agent),
        resource("/api/agents/{id}/run", POST=run_agent),
        resource("/api/agents/{id}/cancel", POST=cancel_agent),
        resource("/api/agents/{id}/trigger-secret", POST=set_trigger_secret, DELETE=remove_trigger_secret),
        resource("/hooks/agents/{id}", POST=hook),
        resource("/api/agents/{id}/runs", GET=list_runs),
        resource("/api/agents/{id}/runs/{run_id}", GET=get_run),
        resource("/api/agents/{id}/stats", GET=agent_stats),
        resource("/api/channels", GET=list_channels, POST=create_channel),
        resource("/api/channels/{id}", GET=get_channel, PATCH=update_channel, DELETE=delete_channel),
        resource("/api/channels/{id}/test", POST=test_channel),
        resource("/api/settings", GET=get_settings, PATCH=update_settings),
    ]
    app = Starlette(routes=routes, exception_handlers=EXCEPTION_HANDLERS)
    # The last added runs first: authentication, then the body's headers.
    app.add_middleware(BodyLimits)
    app.add_middleware(BearerAuthMiddleware, authenticator=authenticator, throttle=throttle)
    return app


def resource(path: str, **handlers: Handler) -> Route:
    """One route per path, whatever its methods, so a 405 lists them all in ``Allow``.

    (A Starlette route per method would answer 405 with the first route's methods only.)
    """
    by_method = {method.upper(): handler for method, handler in handlers.items()}
    if "GET" in by_method:
        by_method.setdefault("HEAD", by_method["GET"])

    async def endpoint(request: Request) -> Response:
        return await by_method[request.method](request)

    return Route(path, endpoint, methods=list(by_method))


async def _sse(
    bus: EventBus, request: Request, agent_id: str | None, authorized: Callable[[], Awaitable[bool]]
) -> AsyncIterator[bytes]:
    """Server-sent events: ``id``, ``event`` (the type) and ``data`` (the JSON event).

    The token is checked again every :data:`TOKEN_RECHECK_SECONDS`, so a
    stream ends within a second of its token being revoked, even by another
    process sharing the database (``cronagents token revoke``).
    """
    clock = asyncio.get_running_loop().time
    async with bus.subscribe() as sub:
        yield b": connected\n\n"
        last_sent = last_checked = clock()
        while True:
            try:
                async with asyncio.timeout(TOKEN_RECHECK_SECONDS):  # not wait_for: it can drop a cancel
                    event = await sub.get()
                idle = False
            except TimeoutError:
                event, idle = None, True
            if clock() - last_checked >= TOKEN_RECHECK_SECONDS:
                last_checked = clock()
                if not await authorized():
                    log.info("event stream closed: its token was revoked")
                    return
            if idle:
                if clock() - last_sent >= SSE_HEARTBEAT_SECONDS:
                    if await request.is_disconnected():
                        return
                    yield b": keep-alive\n\n"
                    last_sent = clock()
                continue
            if event is None:
                return
            if agent_id is not None and event.get("agentId") not in (agent_id, None):
                continue
            payload = json.dumps(event, separators=(",", ":"))
            yield f"id: {event['id']}\nevent: {event['type']}\ndata: {payload}\n\n".encode()
            last_sent = clock()
            if event["type"] == "overflow":
                return
