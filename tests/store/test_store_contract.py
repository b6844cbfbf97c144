"""The contract every store implementation keeps; a new store joins the `store` fixture."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.events import Event, LineItem, Purchase, Review
from engine.store.base import IngestCode, Store, StoredDecision, StoredOutcome
from engine.store.sqlite import SqliteStore
from engine.vocabulary import Outcome

T0 = datetime(2026, 1, 1, tzinfo=UTC)


STORES: dict[str, Callable[[Path], Store]] = {"sqlite": lambda folder: SqliteStore(folder / "contract.db")}


@pytest.fixture(params=sorted(STORES))
def reopen(request, tmp_path: Path) -> Callable[[], Store]:
    """Opens the store under test on the same data each time it is called."""
    return lambda: STORES[request.param](tmp_path)


@pytest.fixture
def store(reopen: Callable[[], Store]) -> Iterator[Store]:
    opened = reopen()
    yield opened
    opened.close()


def _purchase(event_id: str, customer: str = "c1", day: int = 0) -> Event:
    return Event(
        event_id=event_id,
        customer_id=customer,
        occurred_at=T0 + timedelta(days=day),
        payload=Purchase(items=[LineItem(product_id="p", quantity=1, unit_price=2.5)]),
    )


def _decision(decision_id: str = "d1", customer: str = "c1") -> StoredDecision:
    return StoredDecision(decision_id, customer, T0, "v1", "", {"a1": {"rule_id": "r"}})


def test_ingest_reports_accepted_then_duplicate(store):
    assert store.ingest([_purchase("e1"), _purchase("e2")]) == [IngestCode.ACCEPTED, IngestCode.ACCEPTED]
    assert store.ingest([_purchase("e2"), _purchase("e3")]) == [IngestCode.DUPLICATE, IngestCode.ACCEPTED]
    assert [e.event_id for e in store.load_customer("c1").events] == ["e1", "e2", "e3"]


def test_a_duplicate_id_keeps_the_first_event(store):
    store.ingest([_purchase("e1", day=1)])
    store.ingest([_purchase("e1", day=5)])

    [event] = store.load_customer("c1").events
    assert event.occurred_at == T0 + timedelta(days=1)


def test_events_load_in_time_order_whatever_the_arrival_order(store):
    store.ingest([_purchase("late", day=9), _purchase("early", day=1), _purchase("middle", day=4)])

    assert [e.event_id for e in store.load_customer("c1").events] == ["early", "middle", "late"]


def test_events_round_trip_exactly(store):
    event = Event(
        event_id="r1",
        customer_id="c1",
        occurred_at=T0 + timedelta(microseconds=7),
        payload=Review(rating=4, text="ok ✓"),
    )
    store.ingest([event])

    assert store.load_customer("c1").events == (event,)


def test_an_unknown_customer_has_an_empty_state(store):
    state = store.load_customer("nobody")

    assert (state.customer_id, state.events) == ("nobody", ())


def test_customers_are_listed_once_each_in_a_stable_order(store):
    store.ingest([_purchase(f"e{n}", customer=f"c{n % 700:04d}") for n in range(1400)])

    listed = list(store.customer_ids())

    assert listed == sorted({f"c{n:04d}" for n in range(700)})
    assert store.count_customers() == 700


def test_decisions_round_trip(store):
    store.save_decision(_decision())

    found = store.find_decision("d1")

    assert found == _decision()
    assert store.find_decision("missing") is None


def test_outcomes_are_kept_once_per_decision_action_and_outcome(store):
    store.save_decision(_decision())
    accepted = StoredOutcome("d1", "a1", Outcome.ACCEPTED, T0, 0.0)
    converted = StoredOutcome("d1", "a1", Outcome.CONVERTED, T0 + timedelta(hours=1), 99.5)

    store.record_outcome(accepted)
    store.record_outcome(accepted)
    store.record_outcome(converted)

    assert store.outcomes("d1") == [accepted, converted]


def test_concurrent_writers_lose_nothing(store):
    def write(worker: int) -> None:
        for n in range(50):
            store.ingest([_purchase(f"w{worker}-{n}", customer=f"c{worker}")])

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(len(store.load_customer(f"c{w}").events) for w in range(4)) == 200


def test_a_decision_is_readable_as_soon_as_it_is_saved(store):
    for n in range(200):
        store.save_decision(_decision(f"d{n}"))
        assert store.find_decision(f"d{n}") == _decision(f"d{n}")


def test_an_outcome_can_follow_its_decision_at_once(store):
    store.save_decision(_decision("fresh"))
    outcome = StoredOutcome("fresh", "a1", Outcome.OPENED, T0)

    store.record_outcome(outcome)

    assert store.outcomes("fresh") == [outcome]


def test_what_was_written_survives_reopening(reopen):
    first = reopen()
    first.ingest([_purchase("e1")])
    first.save_decision(_decision())
    first.record_outcome(StoredOutcome("d1", "a1", Outcome.ACCEPTED, T0))
    first.close()

    again = reopen()
    try:
        assert [e.event_id for e in again.load_customer("c1").events] == ["e1"]
        assert again.find_decision("d1") == _decision()
        assert [o.outcome for o in again.outcomes("d1")] == [Outcome.ACCEPTED]
    finally:
        again.close()
