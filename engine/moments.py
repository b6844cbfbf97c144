"""Moments as people write them: an ISO 8601 date or time, UTC when it names no zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, tzinfo


def parse_moment(value: str | date, zone: tzinfo | None = UTC) -> datetime:
    """An ISO 8601 date or time, as text or as YAML reads one; a date is its midnight.
    In `zone` when it names none (None: left without one). Raises ValueError for text that is neither."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if not isinstance(moment, datetime):
        moment = datetime.combine(moment, time())
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)
