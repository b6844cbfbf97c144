"""Customer states kept beside their events, so a decision reads one small document.

The store keeps each customer's state (features/state.py) as a snapshot of the
version their events were at. Ingestion folds the new events into it when they come
after everything folded so far, and folds the whole history again when they do not
(an event arriving late), when events were trimmed, or when the catalogue the state
depends on changed. Snapshots are saved compare-and-set on the version, so replicas
sharing a store never keep one that misses an event. A decision about the past
(before the customer's latest event) folds the history up to then, and keeps nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

import msgspec
import structlog

from engine.catalogue import Catalogue
from engine.errors import StoreUnavailable
from engine.events import Event
from engine.features.state import CustomerState, basis, fold
from engine.features.timeline import timeline
from engine.privacy import customer_ref
from engine.store.base import IngestCode, Ingested, Snapshot, Store

log = structlog.get_logger(__name__)


class CustomerStates:
    def __init__(self, store: Store) -> None:
        self.store = store

    def as_of(self, customer_id: str, as_of: datetime, catalogue: Catalogue) -> CustomerState:
        """The customer's state folded from their events up to `as_of`."""
        snapshot = self.store.load_snapshot(customer_id)
        state = _kept_state(snapshot, catalogue) if snapshot.current else None
        if state is None:
            state = self._fold_all(customer_id, catalogue)
        if state.latest_at is not None and state.latest_at > as_of:
            return fold(timeline(self.store.load_customer(customer_id).events, as_of), catalogue)
        return state

    def ingested(self, events: Sequence[Event], ingested: Ingested, catalogue: Catalogue) -> None:
        """Bring the states of the customers an ingestion changed up to date."""
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
                    state = _kept_state(snapshot, catalogue) if snapshot.kept_version == change.before else None
                new = timeline(accepted[customer_id])
                if state is not None and not change.trimmed and (not new or state.follows(new[0])):
                    self.store.save_snapshot(customer_id, change.after, fold(new, catalogue, state).encode().decode())
                else:
                    self._fold_all(customer_id, catalogue)
            except StoreUnavailable as exc:  # the events are stored: the next decision folds them
                log.warning("state_not_updated", customer=customer_ref(customer_id), error=str(exc))

    def _fold_all(self, customer_id: str, catalogue: Catalogue) -> CustomerState:
        history = self.store.load_customer(customer_id)
        state = fold(timeline(history.events), catalogue)
        self.store.save_snapshot(customer_id, history.version, state.encode().decode())
        return state


def _kept_state(snapshot: Snapshot, catalogue: Catalogue) -> CustomerState | None:
    """The snapshot's state, if it is one of this catalogue and of the current layout."""
    if snapshot.body is None:
        return None
    try:
        state = CustomerState.decode(snapshot.body)
    except msgspec.DecodeError:  # another layout, or damaged: fold it again
        return None
    return state if state.basis == basis(catalogue) else None
