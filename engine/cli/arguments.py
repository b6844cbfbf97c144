"""Argument types the commands share."""

from __future__ import annotations

import argparse
from datetime import datetime

from engine.moments import parse_moment


def moment(text: str) -> datetime:
    """An ISO 8601 date or time; UTC when it names no zone."""
    try:
        return parse_moment(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 date or time") from None
