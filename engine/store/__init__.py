"""State stores behind one interface; `open_store` picks one from configuration."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from engine.errors import StoreUnavailable
from engine.store.base import DEFAULT_MAX_EVENTS_PER_CUSTOMER, Store
from engine.store.redis import RedisStore
from engine.store.sqlite import SqliteStore

__all__ = ["Store", "open_store", "store_file"]

REDIS_SCHEMES = ("redis", "rediss")


def store_file(location: Path | str) -> Path | None:
    """The file of an embedded store location; None for a URL."""
    return None if "://" in str(location) else Path(location)


def open_store(location: Path | str, max_events_per_customer: int = DEFAULT_MAX_EVENTS_PER_CUSTOMER) -> Store:
    """Redis for a `redis://host:port/db` or `rediss://` URL, the embedded SQLite store for a file path."""
    path = store_file(location)
    if path is not None:
        return SqliteStore(path, max_events_per_customer)
    scheme = urlsplit(str(location)).scheme
    if scheme not in REDIS_SCHEMES:
        raise StoreUnavailable(f"store {scheme}://...: unknown scheme; use a file path, redis:// or rediss://")
    return RedisStore.from_url(str(location), max_events_per_customer)
