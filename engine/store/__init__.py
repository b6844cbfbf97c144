"""State stores behind one interface; `open_store` picks one from configuration."""

from __future__ import annotations

from pathlib import Path

from engine.store.base import Store
from engine.store.sqlite import SqliteStore

__all__ = ["Store", "open_store"]


def open_store(location: Path | str) -> Store:
    """The embedded SQLite store at a file path."""
    return SqliteStore(location)
