"""Bearer-token authentication of every ``/api`` request, with failures throttled.

A request without a token is told so (401). A token that is not an active
one is 401 too, and counts as a failure of the client's address: after
:data:`app.throttle.FAILURE_LIMIT` failures within the window the address is
answered 429 with ``Retry-After`` instead. A valid token is never throttled,
whatever its address did before.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Receive, Scope, Send

from app.auth import TokenAuthenticator, bearer_token, hash_token
from app.errors import ServiceError, TooManyRequests
from app.http_errors import service_error_response
from app.throttle import FailureThrottle

log = logging.getLogger("cronagents.api")

WWW_AUTHENTICATE = 'Bearer realm="cronagents"'


class Unauthorized(ServiceError):
    status_code = 401

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.headers["WWW-Authenticate"] = WWW_AUTHENTICATE


def needs_token(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


class BearerAuthMiddleware:
    """Every path under ``/api`` needs ``Authorization: Bearer <token>``; others pass.

    Puts the ``user`` and the token's ``token_hash`` in the request state.
    """

    def __init__(
        self, app: ASGIApp, authenticator: TokenAuthenticator, throttle: FailureThrottle | None = None
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        self.throttle = throttle if throttle is not None else FailureThrottle()  # (an empty one is falsy)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not needs_token(scope["path"]):
            await self.app(scope, receive, send)
            return
        header = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization"), None)
        token = bearer_token(header)
        digest = hash_token(token) if token is not None else None
        user = await self.authenticator.user_for_hash(digest) if digest is not None else None
        if user is None or digest is None:
            await service_error_response(self._refusal(scope, header))(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state["user"] = user
        state["token_hash"] = digest
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope, header: str | None) -> ServiceError:
        if header is None:
            return Unauthorized("Missing bearer token")
        client = scope.get("client")
        address = str(client[0]) if client else "unknown"
        retry_after = self.throttle.failed(address)
        if retry_after:
            log.debug("throttled failed authentication from %s for %d s", address, retry_after)
            return TooManyRequests(
                f"Too many failed authentications from {address}; retry in {retry_after} s", retry_after
            )
        return Unauthorized("Invalid or revoked token")
