"""Totals per UTC day: features over "the last N days" at a cost that does not grow with history.

A window of N days as of a moment is the N UTC days ending with that moment's day,
so it is summed from at most N daily totals, however many events fell in it. Events
are folded in time order and every later decision is at or after the latest of them,
so days no window can reach again are forgotten as later events arrive.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

import msgspec

LONGEST_WINDOW_DAYS = 365
# Forgetting runs once this many more days than a window's worth are held, so its cost per event is constant.
_SLACK_DAYS = 31
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

K = TypeVar("K")
V = TypeVar("V")


def day_of(moment: datetime) -> int:
    """The UTC day number of a moment (days since 1970-01-01)."""
    return (moment - _EPOCH).days


def first_day(as_of: datetime, window_days: int) -> int:
    """The first day of the `window_days` days ending with the day of `as_of`."""
    return day_of(as_of) - window_days + 1


def forget_unreachable(items: dict[K, V], day: Callable[[K, V], int], latest: datetime, window_days: int) -> None:
    """Drop the items dated before any window of `window_days` as of `latest` or later can reach."""
    if len(items) <= window_days + _SLACK_DAYS:
        return
    oldest_kept = first_day(latest, window_days)
    for key in [k for k, v in items.items() if day(k, v) < oldest_kept]:
        del items[key]


class DailyTotals(msgspec.Struct):
    """Running totals per UTC day with an event, `count` and `amount` (money spent, say), oldest first."""

    days: list[int] = msgspec.field(default_factory=list)
    counts: list[float] = msgspec.field(default_factory=list)
    amounts: list[float] = msgspec.field(default_factory=list)

    def add(self, at: datetime, count: float = 1.0, amount: float = 0.0, keep_days: int = LONGEST_WINDOW_DAYS) -> None:
        """Add to the day of `at`, no earlier than any day added before; keep what windows of `keep_days` need."""
        day = day_of(at)
        if self.days and self.days[-1] == day:
            self.counts[-1] += count
            self.amounts[-1] += amount
        else:
            self.days.append(day)
            self.counts.append(count)
            self.amounts.append(amount)
        if len(self.days) > keep_days + _SLACK_DAYS:
            kept = bisect.bisect_left(self.days, first_day(at, keep_days))
            del self.days[:kept], self.counts[:kept], self.amounts[:kept]

    def within(self, as_of: datetime, window_days: int) -> tuple[float, float]:
        """(count, amount) over the `window_days` days ending with the day of `as_of`."""
        start = bisect.bisect_left(self.days, first_day(as_of, window_days))
        end = bisect.bisect_right(self.days, day_of(as_of))
        return sum(self.counts[start:end]), sum(self.amounts[start:end])
