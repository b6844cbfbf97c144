"""Argument types the commands share."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime


def moment(text: str) -> datetime:
    """An ISO 8601 date or time; UTC when it names no zone."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 date or time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
