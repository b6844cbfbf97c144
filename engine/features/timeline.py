"""A customer's events as one timeline, and the arithmetic of days every feature shares."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from engine.events import Event

SECONDS_PER_DAY = 86_400.0


def timeline(events: Iterable[Event], as_of: datetime | None = None) -> list[Event]:
    """The events up to `as_of` (all if None) in `(occurred_at, event_id)` order, each event id once.

    The order is total, so same-moment events, arrival order and repeated delivery
    never change what is derived from it.
    """
    kept_events = events if as_of is None else (e for e in events if e.occurred_at <= as_of)
    ordered = sorted(kept_events, key=lambda e: (e.occurred_at, e.event_id))
    kept: dict[str, Event] = {}
    for event in ordered:
        kept.setdefault(event.event_id, event)
    return list(kept.values())


def days(since: datetime, as_of: datetime) -> float:
    return round((as_of - since).total_seconds() / SECONDS_PER_DAY, 2)
