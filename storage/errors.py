"""The errors of the storage layer, whichever backend raised them."""

from __future__ import annotations


class StorageError(Exception):
    """A storage operation could not be carried out (bad file, locked too long, server unreachable)."""
