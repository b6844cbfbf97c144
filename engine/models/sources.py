"""Where training histories come from: a store (read in parallel), or histories in memory.

From a store, the decisions contact outcomes answer date those contacts (the response
model describes a customer at the moment of contact); histories in memory, and outcomes
whose decision the store no longer holds, date a contact by its first outcome.

A store is read customer by customer through the Store interface, in chunks of
customers spread over worker processes, each worker with its own connection. The
customers are taken in sorted order and the chunks' examples joined in that order,
so the rows, and the models, are the same whatever the store and the worker count.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from multiprocessing import get_context

from engine.catalogue import Catalogue
from engine.events import ContactOutcome, Event
from engine.models.dataset import ExampleBuilder, Examples, TrainingPeriod
from engine.models.features import FeatureSchema
from engine.store import Store, open_store

CHUNK_CUSTOMERS = 1000
Progress = Callable[[int, int], None]


def _ignore(done: int, total: int) -> None:
    pass


@dataclass
class Built:
    """Every model's examples, and what they were built from."""

    examples: dict[str, Examples]
    customers: int
    events: int
    first_event: datetime | None
    last_event: datetime | None

    def summary(self) -> dict[str, object]:
        return {
            "customers": self.customers,
            "events": self.events,
            "first_event": self.first_event.isoformat() if self.first_event else None,
            "last_event": self.last_event.isoformat() if self.last_event else None,
        }


def from_histories(
    histories: Iterable[Sequence[Event]],
    catalogue: Catalogue,
    period: TrainingPeriod,
    schemas: dict[str, FeatureSchema],
) -> Built:
    """Examples from customers' histories held in memory, one sequence of events per customer."""
    builder = ExampleBuilder(catalogue, period, schemas)
    for events in histories:
        builder.add_customer(events)
    return _built(builder)


def history_end(store: Store) -> datetime | None:
    """The moment of the latest event in the store: the default end of the training period."""
    latest = None
    for customer_id in store.customer_ids():
        events = store.load_customer(customer_id).events
        if events and (latest is None or events[-1].occurred_at > latest):
            latest = events[-1].occurred_at
    return latest


def from_store(
    location: str,
    max_events: int,
    catalogue: Catalogue,
    period: TrainingPeriod,
    schemas: dict[str, FeatureSchema],
    *,
    workers: int = 1,
    on_progress: Progress = _ignore,
) -> Built:
    """Examples from every customer of a store, `workers` processes at a time."""
    store = open_store(location, max_events)
    try:
        ids = sorted(store.customer_ids())
        chunks = [ids[i : i + CHUNK_CUSTOMERS] for i in range(0, len(ids), CHUNK_CUSTOMERS)]
        on_progress(0, len(ids))
        if workers <= 1:
            parts = []
            for chunk in chunks:
                parts.append(_examples_of(store, chunk, catalogue, period, schemas))
                on_progress(sum(p.customers for p in parts), len(ids))
            return _joined(parts, schemas)
    finally:
        store.close()
    context = get_context("spawn")
    init = (location, max_events, catalogue, period, schemas)
    parts = []
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker, initargs=init) as pool:
        for part in pool.map(_worker_chunk, chunks):
            parts.append(part)
            on_progress(sum(p.customers for p in parts), len(ids))
    return _joined(parts, schemas)


def _examples_of(
    store: Store, ids: Sequence[str], catalogue: Catalogue, period: TrainingPeriod, schemas: dict[str, FeatureSchema]
) -> Built:
    builder = ExampleBuilder(catalogue, period, schemas)
    for customer_id in ids:
        events = store.load_customer(customer_id).events
        builder.add_customer(events, decision_times(store, customer_id, events))
    return _built(builder)


def decision_times(store: Store, customer_id: str, events: Sequence[Event]) -> dict[str, datetime]:
    """When each decision the customer's contact outcomes answer was made, for those the store still holds."""
    answered = {
        e.payload.decision_id for e in events if isinstance(e.payload, ContactOutcome) and e.payload.decision_id
    }
    if not answered:
        return {}
    held = sorted(answered.intersection(store.customer_decision_ids(customer_id)))
    return {d.decision_id: d.as_of for d in map(store.find_decision, held) if d is not None}


def _built(builder: ExampleBuilder) -> Built:
    return Built(builder.examples(), builder.customers, builder.events, builder.first_event, builder.last_event)


def _joined(parts: list[Built], schemas: dict[str, FeatureSchema]) -> Built:
    firsts = [p.first_event for p in parts if p.first_event]
    lasts = [p.last_event for p in parts if p.last_event]
    return Built(
        {
            name: Examples.concatenate([p.examples[name] for p in parts], len(schema.features))
            for name, schema in schemas.items()
        },
        sum(p.customers for p in parts),
        sum(p.events for p in parts),
        min(firsts) if firsts else None,
        max(lasts) if lasts else None,
    )


# A worker process's store connection and training set-up, made once per process.
_worker: tuple[Store, Catalogue, TrainingPeriod, dict[str, FeatureSchema]] | None = None


def _start_worker(
    location: str, max_events: int, catalogue: Catalogue, period: TrainingPeriod, schemas: dict[str, FeatureSchema]
) -> None:
    global _worker
    _worker = (open_store(location, max_events), catalogue, period, schemas)


def _worker_chunk(ids: Sequence[str]) -> Built:
    assert _worker is not None, "the pool's initializer sets the worker up"
    store, catalogue, period, schemas = _worker
    return _examples_of(store, ids, catalogue, period, schemas)
