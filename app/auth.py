"""API tokens: made with ``secrets``, stored as SHA-256 hashes, compared in constant time.

A token is ``ca_`` + 43 URL-safe characters (256 bits). Its first 10
characters (the *prefix*) are kept in clear so ``token list`` and
``token revoke`` can name it; the rest never leaves the moment it is printed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from app.timeutil import now_ms
from storage.interface import Storage

TOKEN_PREFIX = "ca_"
PREFIX_LENGTH = 10


@dataclass(frozen=True)
class User:
    id: str
    name: str


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; None for any other value."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def new_id(kind: str) -> str:
    return f"{kind}_{secrets.token_hex(8)}"  # 64 bits: no collision at 10,000 runs a minute


async def create_token(store: Storage, user_name: str) -> tuple[User, str]:
    """Create the user if needed and a new token for them; returns the clear token once."""
    row = await store.tokens.get_or_create_user(new_id("usr"), user_name, now_ms())
    token = new_token()
    await store.tokens.insert(new_id("tok"), row["id"], hash_token(token), token[:PREFIX_LENGTH], now_ms())
    return User(row["id"], row["name"]), token


class TokenAuthenticator:
    """Checks bearer tokens against the active token hashes, kept in memory.

    The set is reloaded when this process changes tokens, and within a
    quarter of a second after another process (``cronagents token revoke``)
    changes the database file.
    """

    def __init__(self, store: Storage) -> None:
        self._store = store
        self._by_hash: dict[str, User] = {}
        self._generation = -1

    async def _refresh(self) -> None:
        generation = await self._store.refresh_generation()
        if generation != self._generation:
            rows = await self._store.tokens.active()
            self._by_hash = {r["token_hash"]: User(r["user_id"], r["user_name"]) for r in rows}
            self._generation = generation

    async def authenticate(self, authorization: str | None) -> User | None:
        token = bearer_token(authorization)
        return None if token is None else await self.user_for_hash(hash_token(token))

    async def user_for_hash(self, digest: str) -> User | None:
        """The user of the active token with this hash; None once it is revoked."""
        await self._refresh()
        # Compare against every active hash in constant time (no early exit,
        # no dict probe keyed by the secret-derived value).
        found: User | None = None
        for stored, user in self._by_hash.items():
            if hmac.compare_digest(stored, digest):
                found = user
        return found
