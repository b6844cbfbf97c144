"""The simulation's virtual calendar: day numbers, moments in a day, and the tasks due each day."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar

Task = TypeVar("Task")

# A day's parts, in UTC hours: customers answer messages in the morning and shop in the afternoon,
# so that a customer's events reach Forestall in time order within a day; decisions come after both.
MORNING = (7.0, 12.0)
AFTERNOON = (12.0, 20.0)
SWEEP_HOUR = 20.5


@dataclass(frozen=True)
class Clock:
    """Day 0 starts at `start`; days before it are negative."""

    start: datetime

    def at(self, day: float, hour: float = 0.0) -> datetime:
        return self.start + timedelta(days=day, hours=hour)

    def day_of(self, moment: datetime) -> int:
        return (moment - self.start) // timedelta(days=1)


class Agenda(Generic[Task]):
    """Tasks filed under the day they are due; a day's tasks come back in the order they were filed."""

    def __init__(self) -> None:
        self._by_day: defaultdict[int, list[Task]] = defaultdict(list)

    def add(self, day: int, task: Task) -> None:
        self._by_day[day].append(task)

    def take(self, day: int) -> list[Task]:
        return self._by_day.pop(day, [])
