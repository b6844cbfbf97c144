"""Totals per UTC day: features over "the last N days" at a cost that does not grow with history.

A window of N days as of a moment is the N UTC days ending with that moment's day,
so it is summed from at most N daily totals, however many events fell in it.
Days no window can reach again are forgotten as later events arrive.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

import msgspec

LONGEST_WINDOW_DAYS = 365
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

K = TypeVar("K")
V = TypeVar("V")


def day_of(moment: datetime) -> int:
    """The UTC day number of a moment (days since 1970-01-01)."""
    return (moment - _EPOCH).days


def first_day(as_of: datetime, window_days: int) -> int:
    """The first day of the `window_days` days ending with the day of `as_of`."""
    return day_of(as_of) - window_days + 1


def forget_unreachable(items: dict[K, V], day: Callable[[K, V], int], latest: datetime) -> None:
    """Drop the items dated before any window as of `latest` or later can reach.

    Called as events are folded in time order, so every later decision is at or after
    `latest`. Only when the items have doubled past a window's worth, so that the
    sweep costs a constant per item kept.
    """
    if len(items) <= 2 * LONGEST_WINDOW_DAYS:
        return
    oldest_kept = first_day(latest, LONGEST_WINDOW_DAYS)
    for key in [k for k, v in items.items() if day(k, v) < oldest_kept]:
        del items[key]


class DailyTotals(msgspec.Struct):
    """Running totals per UTC day: `count` and `amount` (money spent, say)."""

    days: dict[int, list[float]] = msgspec.field(default_factory=dict)

    def add(self, at: datetime, count: float = 1.0, amount: float = 0.0) -> None:
        totals = self.days.setdefault(day_of(at), [0.0, 0.0])
        totals[0] += count
        totals[1] += amount
        forget_unreachable(self.days, lambda day, _: day, at)

    def within(self, as_of: datetime, window_days: int) -> tuple[float, float]:
        """(count, amount) over the `window_days` days ending with the day of `as_of`."""
        start, end = first_day(as_of, window_days), day_of(as_of)
        count = amount = 0.0
        for day, (day_count, day_amount) in self.days.items():
            if start <= day <= end:
                count += day_count
                amount += day_amount
        return count, amount
