"""How errors become HTTP answers: the contract's JSON shape, never a trace.

``{"statusCode": 404, "statusMessage": "Not Found", "message": "Agent not found"}``,
with ``"data": {field: problem}`` for validation errors. Expected endings (a
client that went away mid-request) are logged in one line, not as errors.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from app.errors import ServiceError

log = logging.getLogger("cronagents.api")


def error_response(
    status: int, message: str, data: dict[str, str] | None = None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    body: dict[str, Any] = {
        "statusCode": status,
        "statusMessage": HTTPStatus(status).phrase,
        "message": message,
    }
    if data is not None:
        body["data"] = data
    return JSONResponse(body, status_code=status, headers=headers)


def service_error_response(exc: ServiceError) -> JSONResponse:
    return error_response(exc.status_code, exc.message, exc.data, exc.headers or None)


async def on_service_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    return service_error_response(exc)


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, exc.detail)
    return error_response(exc.status_code, message, headers=exc.headers)


async def on_client_disconnect(request: Request, exc: Exception) -> Response:
    """The client went away before its request was read: nobody is left to answer."""
    log.info("client %s went away during %s %s", _client(request), request.method, request.url.path)
    return Response(status_code=400)


async def on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "Internal server error")


EXCEPTION_HANDLERS = {
    ServiceError: on_service_error,
    HTTPException: on_http_error,
    ClientDisconnect: on_client_disconnect,
    Exception: on_unexpected,
}


def _client(request: Request) -> str:
    return request.client.host if request.client else "?"
