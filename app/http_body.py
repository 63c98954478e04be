"""Request bodies: JSON only, at most 1 MiB, read without ever holding more.

Two places, one rule each:

* :class:`BodyLimits`, an ASGI middleware, decides from the headers alone,
  before a byte of the body is read: ``Content-Length`` over the limit is 413,
  a body that does not say it is JSON is 415.
* :func:`read_json` streams the body and stops at the first chunk past the
  limit (a chunked upload has no ``Content-Length``), then decodes it: bad
  UTF-8, bad JSON, nesting deeper than the parser allows and lone UTF-16
  surrogates (``"\\ud800"``, which no database or encoder accepts) are 400.

The unread rest of a refused body is discarded by the server as it arrives;
it is never buffered.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from app.errors import PayloadTooLarge, ServiceError, UnsupportedMediaType, ValidationError
from app.http_errors import service_error_response

MAX_BODY_BYTES = 1_048_576
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# Decoding a body this large moves off the event loop.
_THREAD_DECODE_BYTES = 64 * 1024
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = "contains a lone UTF-16 surrogate escape (such as \\ud800), which is not Unicode text"


HOOKS_PREFIX = "/hooks/"
"""Inbound webhooks: signed, not authenticated by token, any content type."""


def too_large() -> PayloadTooLarge:
    return PayloadTooLarge(f"Request body is larger than {MAX_BODY_BYTES} bytes (1 MiB)")


def is_json_media_type(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def body_header_problem(method: str, headers: Headers, *, json_only: bool = True) -> ServiceError | None:
    """What is wrong with a request's body, judged from its headers; None if nothing.

    ``json_only``: a body must be JSON (not so for inbound webhooks, whose senders choose)."""
    if method not in BODY_METHODS:
        return None
    length_header = headers.get("content-length")
    try:
        length = int(length_header) if length_header is not None else None
    except ValueError:
        return ServiceError("Content-Length is not a number")
    if length is not None and length > MAX_BODY_BYTES:
        return too_large()
    has_body = bool(length) or "transfer-encoding" in headers
    if json_only and has_body and not is_json_media_type(headers.get("content-type")):
        return UnsupportedMediaType("Request body must be JSON, sent with Content-Type: application/json")
    return None


class BodyLimits:
    """Refuses, from the headers alone, a body too large (413) or not JSON (415)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            json_only = not scope["path"].startswith(HOOKS_PREFIX)
            problem = body_header_problem(scope["method"], Headers(scope=scope), json_only=json_only)
            if problem is not None:
                await service_error_response(problem)(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def read_json(request: Request) -> Any:
    """The request's JSON body; raises ServiceError (400) or PayloadTooLarge (413)."""
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY_BYTES:
            raise too_large()
    if len(raw) > _THREAD_DECODE_BYTES:
        return await run_in_threadpool(decode_json, bytes(raw))
    return decode_json(bytes(raw))


async def read_body(request: Request) -> bytes:
    """The request's raw body (at most MAX_BODY_BYTES, else PayloadTooLarge)."""
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY_BYTES:
            raise too_large()
    return bytes(raw)


async def read_optional_json(request: Request, absent: Any) -> Any:
    """The request's JSON body, or ``absent`` when it has none (an empty body)."""
    raw = await read_body(request)
    if not raw:  # (spaces alone are not an empty body, nor JSON: a 400)
        return absent
    if len(raw) > _THREAD_DECODE_BYTES:
        return await run_in_threadpool(decode_json, bytes(raw))
    return decode_json(bytes(raw))


def decode_json(raw: bytes) -> Any:
    if not raw.strip():
        raise ServiceError("Request body must be a JSON object")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ServiceError(f"Request body is not UTF-8 text (bad byte at offset {exc.start})") from None
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise ServiceError("Request body is not valid JSON: nested too deeply") from None
    except ValueError as exc:
        raise ServiceError(f"Request body is not valid JSON: {exc}") from None
    if _SURROGATE_ESCAPE.search(raw):
        _refuse_lone_surrogates(value)
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _refuse_lone_surrogates(value: Any) -> None:
    if isinstance(value, dict):
        fields = {
            key: _LONE_SURROGATE
            for key, item in value.items()
            if _is_text(key) and not all(_is_text(s) for s in _strings(item))
        }
        if fields:
            raise ValidationError(fields)
    if not all(_is_text(s) for s in _strings(value)):
        raise ServiceError(f"Request body {_LONE_SURROGATE}")


def _strings(value: Any) -> Iterator[str]:
    """Every string in a decoded JSON value, keys included (iterative: no depth limit)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
