"""The REST API (Starlette): the seed's ten endpoints and a few more, all under ``/api``.

Thin: parse the request, call :class:`AgentService`, wrap the answer in
``{"data": ...}``. Errors use the contract's shape
``{"statusCode", "statusMessage", "message"[, "data"]}`` and never carry a trace.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from http import HTTPStatus
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from app.auth import TokenAuthenticator, User
from app.errors import ServiceError
from app.events import EventBus
from app.openapi import openapi_document
from app.service import AgentService, parse_limit, parse_period

log = logging.getLogger("cronagents.api")

SSE_HEARTBEAT_SECONDS = 15.0
MAX_BODY_BYTES = 1_000_000


def error_response(status: int, message: str, data: dict[str, str] | None = None,
                   headers: Mapping[str, str] | None = None) -> JSONResponse:  # fmt: skip
    body: dict[str, Any] = {
        "statusCode": status,
        "statusMessage": HTTPStatus(status).phrase,
        "message": message,
    }
    if data is not None:
        body["data"] = data
    return JSONResponse(body, status_code=status, headers=headers)


def data(value: Any) -> JSONResponse:
    return JSONResponse({"data": value})


class BearerAuthMiddleware:
    """Every path under ``/api`` needs ``Authorization: Bearer <token>``; others pass."""

    def __init__(self, app: ASGIApp, authenticator: TokenAuthenticator) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not (
            scope["path"] == "/api" or scope["path"].startswith("/api/")
        ):
            await self.app(scope, receive, send)
            return
        header = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                header = value.decode("latin-1")
                break
        user = await self.authenticator.authenticate(header)
        if user is None:
            message = "Missing bearer token" if header is None else "Invalid or revoked token"
            response = error_response(
                401, message, headers={"WWW-Authenticate": 'Bearer realm="cronagents"'}
            )
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["user"] = user
        await self.app(scope, receive, send)


async def read_json(request: Request) -> Any:
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise ServiceError(f"Request body is larger than {MAX_BODY_BYTES} bytes")
    if not raw.strip():
        raise ServiceError("Request body must be a JSON object")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ServiceError(f"Request body is not valid JSON: {exc}") from None


Handler = Callable[[Request], Awaitable[Response]]


def build_api(service: AgentService, authenticator: TokenAuthenticator, bus: EventBus) -> Starlette:
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
        run_id = await service.trigger_run(request.path_params["id"])
        return JSONResponse({"message": "Agent started", "runId": run_id})

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
        return StreamingResponse(
            _sse(bus, request, agent_filter),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    async def openapi(request: Request) -> Response:
        return JSONResponse(openapi_document())

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def not_found(request: Request) -> Response:
        raise HTTPException(404)

    async def on_service_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ServiceError)
        return error_response(exc.status_code, exc.message, exc.data)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        message = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, exc.detail)
        return error_response(exc.status_code, message, headers=exc.headers)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "Internal server error")

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/api/openapi.json", openapi, methods=["GET"]),
        Route("/api/events", events, methods=["GET"]),
        Route("/api/agents", list_agents, methods=["GET"]),
        Route("/api/agents", create_agent, methods=["POST"]),
        Route("/api/agents/stats", global_stats, methods=["GET"]),
        Route("/api/agents/{id}", get_agent, methods=["GET"]),
        Route("/api/agents/{id}", update_agent, methods=["PATCH"]),
        Route("/api/agents/{id}", delete_agent, methods=["DELETE"]),
        Route("/api/agents/{id}/run", run_agent, methods=["POST"]),
        Route("/api/agents/{id}/cancel", cancel_agent, methods=["POST"]),
        Route("/api/agents/{id}/runs", list_runs, methods=["GET"]),
        Route("/api/agents/{id}/runs/{run_id}", get_run, methods=["GET"]),
        Route("/api/agents/{id}/stats", agent_stats, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={
            ServiceError: on_service_error,
            HTTPException: on_http_error,
            Exception: on_unexpected,
        },
    )
    app.add_middleware(BearerAuthMiddleware, authenticator=authenticator)
    return app


async def _sse(bus: EventBus, request: Request, agent_id: str | None) -> AsyncIterator[bytes]:
    """Server-sent events: ``id``, ``event`` (the type) and ``data`` (the JSON event)."""
    async with bus.subscribe() as sub:
        yield b": connected\n\n"
        while True:
            try:
                event = await asyncio.wait_for(sub.get(), SSE_HEARTBEAT_SECONDS)
            except TimeoutError:
                if await request.is_disconnected():
                    return
                yield b": keep-alive\n\n"
                continue
            if event is None:
                return
            if agent_id is not None and event.get("agentId") not in (agent_id, None):
                continue
            payload = json.dumps(event, separators=(",", ":"))
            yield f"id: {event['id']}\nevent: {event['type']}\ndata: {payload}\n\n".encode()
            if event["type"] == "overflow":
                return
