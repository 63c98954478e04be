"""Errors the service raises; the API turns them into the contract's JSON shape."""

from __future__ import annotations


class ServiceError(Exception):
    """An error a client caused, with the HTTP status that says so."""

    status_code = 400

    def __init__(self, message: str, data: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data
        self.headers: dict[str, str] = {}


class ValidationError(ServiceError):
    """Bad input: ``data`` maps each bad field to what is wrong with it."""

    def __init__(self, data: dict[str, str], message: str | None = None) -> None:
        fields = ", ".join(sorted(data))
        super().__init__(message or f"Invalid fields: {fields}", data)


class NotFound(ServiceError):
    status_code = 404


class Conflict(ServiceError):
    """The request is valid but the server's state refuses it now (a spend cap reached)."""

    status_code = 409


class Unavailable(ServiceError):
    status_code = 503


class PayloadTooLarge(ServiceError):
    status_code = 413


class UnsupportedMediaType(ServiceError):
    status_code = 415


class TooManyRequests(ServiceError):
    """Throttled: ``Retry-After`` says in how many seconds to try again."""

    status_code = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.headers["Retry-After"] = str(retry_after)


class ConfigError(Exception):
    """The server's configuration is wrong (an environment variable, a key): one clear line."""
