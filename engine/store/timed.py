"""A store that times each call to another one, for the operators' store latency histogram.

It wraps any Store and reports `(operation, seconds)` to a callback; the stores themselves
know nothing of metrics. `customer_ids` is a stream read as a sweep goes, so it is not timed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from engine.events import Event
from engine.store.base import CustomerHistory, Ingested, Snapshot, Store, StoredDecision, StoredOutcome

Result = TypeVar("Result")
#: Told the operation's name and how long it took, in seconds.
Observe = Callable[[str, float], None]


class TimedStore(Store):
    def __init__(self, inner: Store, observe: Observe) -> None:
        self.inner = inner
        self._observe = observe
        self.kind = inner.kind
        self.location = inner.location
        # Not part of the Store interface, but every store has it and engine/decision/states.py reads it.
        self.max_events_per_customer: int = inner.max_events_per_customer  # type: ignore[attr-defined]

    def _timed(self, operation: str, call: Callable[..., Result], *args: Any) -> Result:
        start = time.perf_counter()
        try:
            return call(*args)
        finally:
            self._observe(operation, time.perf_counter() - start)

    def ingest_changes(self, events: Sequence[Event], durable: bool = True) -> Ingested:
        return self._timed("ingest_changes", self.inner.ingest_changes, events, durable)

    def load_customer(self, customer_id: str, oldest: int | None = None) -> CustomerHistory:
        return self._timed("load_customer", self.inner.load_customer, customer_id, oldest)

    def compact(self, customer_id: str, version: int, count: int, base: str) -> bool:
        return self._timed("compact", self.inner.compact, customer_id, version, count, base)

    def load_snapshot(self, customer_id: str) -> Snapshot:
        return self._timed("load_snapshot", self.inner.load_snapshot, customer_id)

    def save_snapshot(self, customer_id: str, version: int, body: str) -> bool:
        return self._timed("save_snapshot", self.inner.save_snapshot, customer_id, version, body)

    def customer_ids(self) -> Iterator[str]:
        return self.inner.customer_ids()

    def count_customers(self) -> int:
        return self._timed("count_customers", self.inner.count_customers)

    def take_slot(self, counter: str, limit: int) -> bool:
        return self._timed("take_slot", self.inner.take_slot, counter, limit)

    def slots_taken(self, counter: str) -> int:
        return self._timed("slots_taken", self.inner.slots_taken, counter)

    def save_decision(self, decision: StoredDecision) -> None:
        self._timed("save_decision", self.inner.save_decision, decision)

    def find_decision(self, decision_id: str) -> StoredDecision | None:
        return self._timed("find_decision", self.inner.find_decision, decision_id)

    def customer_decision_ids(self, customer_id: str) -> list[str]:
        return self._timed("customer_decision_ids", self.inner.customer_decision_ids, customer_id)

    def record_outcome(self, outcome: StoredOutcome) -> None:
        self._timed("record_outcome", self.inner.record_outcome, outcome)

    def outcomes(self, decision_id: str) -> list[StoredOutcome]:
        return self._timed("outcomes", self.inner.outcomes, decision_id)

    def export_customer(self, customer_id: str) -> dict[str, Any]:
        return self._timed("export_customer", self.inner.export_customer, customer_id)

    def forget_customer(self, customer_id: str) -> int:
        return self._timed("forget_customer", self.inner.forget_customer, customer_id)

    def close(self) -> None:
        self.inner.close()
