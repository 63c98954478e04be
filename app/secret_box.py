"""Secrets at rest: channel signing secrets and Slack URLs are stored encrypted (Fernet).

The key comes from ``CRONAGENTS_SECRET_KEY`` (a Fernet key: 32 bytes,
url-safe base64, as ``python -c "from cryptography.fernet import Fernet;
print(Fernet.generate_key().decode())"`` prints), or from the file
``<data dir>/secret.key``, created 0600 on first use. Servers that share a
database must share the key (set the variable on each). A stored value that
cannot be decrypted (another key) reads as :class:`SecretUnreadable`, never
as garbage; it is never logged.

``cryptography`` (the Python Cryptographic Authority's package) is used
rather than hand-made crypto: Fernet is AES-128-CBC with HMAC-SHA256 and a
timestamp, authenticated, with key rotation through ``MultiFernet``.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from app import config
from storage.files import PRIVATE_FILE, private_dir

KEY_ENV = "CRONAGENTS_SECRET_KEY"
KEY_FILE = "secret.key"


class SecretUnreadable(Exception):
    """A stored secret was encrypted with another key."""


class SecretBox:
    """Encrypts and decrypts short secrets with one key, loaded by :meth:`load` (off the loop)."""

    def __init__(self, key: bytes | None = None, key_file: Path | None = None) -> None:
        self._key_file = key_file
        self._fernet: Fernet | None = Fernet(key) if key is not None else None

    async def load(self) -> SecretBox:
        """Read (or make) the key: ``CRONAGENTS_SECRET_KEY``, else the key file."""
        if self._fernet is None:
            self._fernet = Fernet(await asyncio.to_thread(read_key, self._key_file))
        return self

    def _box(self) -> Fernet:
        if self._fernet is None:
            raise RuntimeError("the secret key is not loaded (SecretBox.load)")
        return self._fernet

    def seal(self, secret: str) -> str:
        return self._box().encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._box().decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise SecretUnreadable(
                f"a stored secret cannot be decrypted with this key (is {KEY_ENV} the one it was "
                "stored with?)"
            ) from None


def read_key(key_file: Path | None = None) -> bytes:
    """The key of ``CRONAGENTS_SECRET_KEY``, else of the key file (made, 0600, if missing). Blocking."""
    env = os.environ.get(KEY_ENV)
    if env:
        try:
            Fernet(env.encode())
        except ValueError as exc:
            raise ValueError(f"{KEY_ENV} is not a Fernet key (32 bytes, url-safe base64)") from exc
        return env.encode()
    path = key_file or config.data_dir() / KEY_FILE
    if not path.exists():
        private_dir(path.parent)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(Fernet.generate_key())
    return path.read_bytes().strip()
