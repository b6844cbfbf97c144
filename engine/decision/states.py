"""Customer states kept beside their events, so a decision reads one small document.

The store keeps each customer's state (features/state.py) as a snapshot of the
version their events were at. Ingestion folds the new events into it when they come
after everything folded so far, and folds the history again when they do not (an
event arriving late), or when the catalogue the state depends on changed. Snapshots
are saved compare-and-set on the version, so replicas sharing a store never keep one
that misses an event.

Retention is compaction: once a customer holds more than `max_events_per_customer`
events (and 1% slack, so it runs in batches), the oldest are folded into their
"base" state and deleted, in one compare-and-set. Folding the history again starts
from the base, so compacted events still count, as the catalogue was when they
were compacted. An event arriving older than the compacted ones cannot be folded in
order: it is acknowledged and dropped at the next compaction. A decision about the
past (before the customer's latest event) folds the history up to then and keeps
nothing; before the compacted events, it is refused.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

import msgspec
import structlog

from engine.catalogue import Catalogue
from engine.errors import HistoryCompacted, StoreUnavailable
from engine.events import Event
from engine.features.state import CustomerState, basis, fold
from engine.features.timeline import timeline
from engine.privacy import customer_ref
from engine.store.base import CustomerHistory, IngestCode, Ingested, Store

log = structlog.get_logger(__name__)


class CustomerStates:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.max_events = store.max_events_per_customer
        self._compact_above = self.max_events + self.max_events // 100

    def as_of(self, customer_id: str, as_of: datetime, catalogue: Catalogue) -> CustomerState:
        """The customer's state folded from their events up to `as_of`."""
        snapshot = self.store.load_snapshot(customer_id)
        state = _kept_state(snapshot.body, catalogue) if snapshot.current else None
        history = None
        if state is None:
            history = self.store.load_customer(customer_id)
            state = self._keep(history, catalogue)
        if state.latest_at is not None and state.latest_at > as_of:
            return _fold_until(history or self.store.load_customer(customer_id), as_of, catalogue)
        return state

    def ingested(self, events: Sequence[Event], ingested: Ingested, catalogue: Catalogue) -> None:
        """Bring the states of the customers an ingestion changed up to date, and compact their histories."""
        accepted: dict[str, list[Event]] = defaultdict(list)
        for event, code in zip(events, ingested.codes, strict=True):
            if code is IngestCode.ACCEPTED:
                accepted[event.customer_id].append(event)
        for customer_id, change in ingested.changes.items():
            try:
                if change.before == 0:  # their first events
                    state: CustomerState | None = fold([], catalogue)
                else:
                    snapshot = self.store.load_snapshot(customer_id)
                    state = _kept_state(snapshot.body, catalogue) if snapshot.kept_version == change.before else None
                new = timeline(accepted[customer_id])
                if state is not None and state.follows(new[0]):
                    self.store.save_snapshot(customer_id, change.after, fold(new, catalogue, state).encode().decode())
                else:
                    self._fold_all(customer_id, catalogue)
                self.compact_if_over_cap(customer_id, change.held, catalogue)
            except StoreUnavailable as exc:  # the events are stored: the next decision folds them
                log.warning("state_not_updated", customer=customer_ref(customer_id), error=str(exc))

    def over_cap(self, held: int) -> bool:
        """Whether a customer holding `held` events is due for compaction: past the cap and its slack."""
        return held > self._compact_above

    def compact_if_over_cap(self, customer_id: str, held: int, catalogue: Catalogue) -> None:
        """Compact a customer's history down to the cap if they hold `held` events, more than the cap and its slack."""
        if not self.over_cap(held):
            return
        oldest = self.store.load_customer(customer_id, oldest=held - self.max_events)
        base = _folded(oldest, catalogue)
        if self.store.compact(customer_id, oldest.version, len(oldest.events), base.encode().decode()):
            log.info("history_compacted", customer=customer_ref(customer_id), events=len(oldest.events))

    def _fold_all(self, customer_id: str, catalogue: Catalogue) -> CustomerState:
        return self._keep(self.store.load_customer(customer_id), catalogue)

    def _keep(self, history: CustomerHistory, catalogue: Catalogue) -> CustomerState:
        """Fold a whole history, keep the state as a snapshot of its version, and compact past the cap."""
        state = _folded(history, catalogue)
        self.store.save_snapshot(history.customer_id, history.version, state.encode().decode())
        self.compact_if_over_cap(history.customer_id, len(history.events), catalogue)
        return state


def _fold_until(history: CustomerHistory, as_of: datetime, catalogue: Catalogue) -> CustomerState:
    """The state of a decision about the past: the history up to `as_of`, kept nowhere."""
    base = _base(history, catalogue)
    if base.last is not None and base.last[0] > as_of:
        raise HistoryCompacted(as_of.isoformat(), base.last[0].isoformat())
    return fold([e for e in timeline(history.events, as_of) if base.follows(e)], catalogue, base)


def _folded(history: CustomerHistory, catalogue: Catalogue) -> CustomerState:
    """The base state with the events held folded in; those older than the base are dropped."""
    base = _base(history, catalogue)
    return fold([e for e in timeline(history.events) if base.follows(e)], catalogue, base)


def _base(history: CustomerHistory, catalogue: Catalogue) -> CustomerState:
    """The state of the compacted events, an empty one if none."""
    if history.base is None:
        return CustomerState(basis(catalogue))
    state = _kept_state(history.base, catalogue, any_catalogue=True)
    if state is None:
        log.warning("compacted_state_unreadable", customer=customer_ref(history.customer_id))
        return CustomerState(basis(catalogue))
    return state


def _kept_state(body: str | None, catalogue: Catalogue, any_catalogue: bool = False) -> CustomerState | None:
    """A kept state, if it is of the current layout and (unless `any_catalogue`) of this catalogue."""
    if body is None:
        return None
    try:
        state = CustomerState.decode(body)
    except msgspec.DecodeError:  # another layout, or damaged
        return None
    return state if any_catalogue or state.basis == basis(catalogue) else None
