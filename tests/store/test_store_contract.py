"""The contract every store implementation keeps; a new store joins `STORES`.

Redis runs on the shared server at 127.0.0.1:6379, under a key prefix of its own
per test, deleted afterwards.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis

from engine.events import ContactMade, Event, LineItem, Purchase, Review
from engine.store.base import (
    CustomerChange,
    CustomerHistory,
    IngestCode,
    Snapshot,
    Store,
    StoredDecision,
    StoredOutcome,
)
from engine.store.redis import RedisStore
from engine.store.sqlite import SqliteStore
from engine.store.timed import TimedStore
from engine.vocabulary import Channel, Outcome

T0 = datetime(2026, 1, 1, tzinfo=UTC)
REDIS_URL = "redis://127.0.0.1:6379/0"
ACCEPTED, DUPLICATE = IngestCode.ACCEPTED, IngestCode.DUPLICATE

# Opens the store on the same data at each call, with the store's options as keywords.
Opener = Callable[..., Store]


@contextmanager
def _sqlite(folder: Path) -> Iterator[Opener]:
    yield lambda **options: SqliteStore(folder / "contract.db", **options)


@contextmanager
def redis_keyspace() -> Iterator[str]:
    """A key prefix of a test's own on the shared Redis server; its keys are deleted afterwards."""
    prefix = f"forestall-test-{uuid.uuid4().hex}"
    yield prefix
    with redis.Redis.from_url(REDIS_URL) as client:
        for key in client.scan_iter(f"{prefix}:*", count=1000):
            client.delete(key)


@contextmanager
def _redis(folder: Path) -> Iterator[Opener]:
    with redis_keyspace() as prefix:
        yield lambda **options: RedisStore(REDIS_URL, key_prefix=prefix, **options)


@contextmanager
def _timed(folder: Path) -> Iterator[Opener]:
    """The store wrapped in the operators' timing (engine/store/timed.py): it keeps the contract."""
    timed: list[str] = []
    yield lambda **options: TimedStore(SqliteStore(folder / "contract.db", **options), lambda op, _: timed.append(op))
    assert timed, "the wrapper timed no call"


STORES: dict[str, Callable[[Path], AbstractContextManager[Opener]]] = {
    "sqlite": _sqlite,
    "redis": _redis,
    "timed-sqlite": _timed,
}


@pytest.fixture(params=sorted(STORES))
def reopen(request, tmp_path: Path) -> Iterator[Opener]:
    """Opens the store under test on the same data each time it is called."""
    with STORES[request.param](tmp_path) as opener:
        yield opener


@pytest.fixture
def store(reopen: Opener) -> Iterator[Store]:
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


def _decision(decision_id: str = "d1", customer: str = "c1", day: int = 0) -> StoredDecision:
    return StoredDecision(decision_id, customer, T0 + timedelta(days=day), "v1", "", {"a1": {"rule_id": "r"}})


def _ids(store: Store, customer: str = "c1") -> list[str]:
    return [e.event_id for e in store.load_customer(customer).events]


def test_ingest_reports_accepted_then_duplicate(store):
    assert store.ingest([_purchase("e1"), _purchase("e2")]) == [ACCEPTED, ACCEPTED]
    assert store.ingest([_purchase("e2"), _purchase("e3")]) == [DUPLICATE, ACCEPTED]
    assert _ids(store) == ["e1", "e2", "e3"]


def test_a_duplicate_id_keeps_the_first_event(store):
    store.ingest([_purchase("e1", day=1)])
    store.ingest([_purchase("e1", day=5)])

    [event] = store.load_customer("c1").events
    assert event.occurred_at == T0 + timedelta(days=1)


def test_event_ids_are_unique_per_customer_not_across_customers(store):
    codes = store.ingest([_purchase("pos-1", customer="ann"), _purchase("pos-1", customer="bob")])

    assert codes == [ACCEPTED, ACCEPTED]
    assert _ids(store, "ann") == _ids(store, "bob") == ["pos-1"]


def test_a_batch_across_customers_gets_one_code_per_event_in_order(store):
    store.ingest([_purchase("e1", customer="bob")])

    codes = store.ingest(
        [
            _purchase("e1", customer="ann"),
            _purchase("e1", customer="bob"),
            _purchase("e2", customer="ann"),
            _purchase("e1", customer="ann"),
            _purchase("e2", customer="bob"),
        ]
    )

    assert codes == [ACCEPTED, DUPLICATE, ACCEPTED, DUPLICATE, ACCEPTED]


def test_events_load_in_time_order_whatever_the_arrival_order(store):
    store.ingest([_purchase("late", day=9), _purchase("early", day=1), _purchase("middle", day=4)])

    assert _ids(store) == ["early", "middle", "late"]


def test_events_at_the_same_moment_load_in_event_id_order(store):
    store.ingest([_purchase("b"), _purchase("c"), _purchase("a")])

    assert _ids(store) == ["a", "b", "c"]


def test_a_long_history_loads_whole_and_in_order(store):
    events = [_purchase(f"e{n:04d}", day=n) for n in range(2500)]
    for start in range(0, len(events), 1000):
        store.ingest(events[start : start + 1000][::-1])

    assert store.load_customer("c1").events == tuple(events)


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


# ---- versions and snapshots ----------------------------------------------------------------------


def test_each_ingestion_that_changes_a_customer_bumps_their_version_once(store):
    assert store.load_customer("c1").version == 0

    first = store.ingest_changes([_purchase("e1"), _purchase("e2"), _purchase("b1", customer="bob")])
    again = store.ingest_changes([_purchase("e2"), _purchase("e3")])
    repeat = store.ingest_changes([_purchase("e3")])

    assert first.changes == {"c1": CustomerChange(0, 1, 2), "bob": CustomerChange(0, 1, 1)}
    assert again.changes == {"c1": CustomerChange(1, 2, 3)}  # versions before and after, events held
    assert (repeat.codes, repeat.changes) == ([DUPLICATE], {})  # nothing changed
    assert store.load_customer("c1").version == 2


def test_a_snapshot_is_kept_only_at_the_customers_current_version(store):
    assert store.load_snapshot("c1") == Snapshot(0, None, None)
    store.ingest([_purchase("e1")])

    assert store.save_snapshot("c1", 1, '{"n": 1}')
    assert store.load_snapshot("c1") == Snapshot(1, 1, '{"n": 1}')
    assert store.load_snapshot("c1").current

    store.ingest([_purchase("e2")])  # the snapshot misses e2 now
    assert not store.load_snapshot("c1").current
    assert not store.save_snapshot("c1", 1, '{"n": 1, "late": true}')  # derived before e2: refused
    assert store.load_snapshot("c1") == Snapshot(2, 1, '{"n": 1}')
    assert not store.save_snapshot("nobody", 0, "{}")


def test_forgetting_a_customer_erases_their_derived_state_and_version(store):
    store.ingest([_purchase("e1"), _purchase("e2", day=1)])
    store.compact("c1", 1, 1, '{"spend": 2.5}')
    store.save_snapshot("c1", 2, '{"spend": 5.0}')

    assert store.export_customer("c1")["derived_state"] == {"state": {"spend": 5.0}, "compacted": {"spend": 2.5}}
    assert store.forget_customer("c1") == 1  # the event held; derived state is not counted
    assert store.load_snapshot("c1") == Snapshot()
    assert store.load_customer("c1") == CustomerHistory("c1", (), 0, None)
    assert store.export_customer("c1")["derived_state"] is None


# ---- compaction ------------------------------------------------------------------------------


def test_loading_the_oldest_events_only(store):
    store.ingest([_purchase(f"e{day}", day=day) for day in (3, 1, 2, 0)])

    oldest = store.load_customer("c1", oldest=2)

    assert ([e.event_id for e in oldest.events], oldest.version, oldest.base) == (["e0", "e1"], 1, None)


def test_compaction_deletes_the_oldest_events_and_keeps_their_state_in_one_step(store):
    store.ingest([_purchase(f"e{day}", day=day) for day in range(5)])
    store.save_snapshot("c1", 1, '{"all": 5}')

    assert store.compact("c1", 1, 2, '{"first": 2}')

    history = store.load_customer("c1")
    assert [e.event_id for e in history.events] == ["e2", "e3", "e4"]
    assert (history.version, history.base) == (2, '{"first": 2}')
    assert store.load_snapshot("c1") == Snapshot(2, 2, '{"all": 5}')  # the state is unchanged: still current
    assert store.ingest_changes([_purchase("e5", day=5)]).changes == {"c1": CustomerChange(2, 3, 4)}


def test_compaction_is_refused_when_events_arrived_since_the_caller_read(store):
    store.ingest([_purchase(f"e{day}", day=day) for day in range(3)])
    read = store.load_customer("c1", oldest=2)
    store.ingest([_purchase("late", day=-1)])  # now the oldest: compacting two would drop it unfolded

    assert not store.compact("c1", read.version, 2, '{"first": 2}')
    assert not store.compact("nobody", 0, 1, "{}")
    assert _ids(store) == ["late", "e0", "e1", "e2"]
    assert store.load_customer("c1").base is None


def test_a_snapshot_not_current_before_a_compaction_is_not_current_after(store):
    store.ingest([_purchase("e1"), _purchase("e2", day=1)])
    store.save_snapshot("c1", 1, "{}")
    store.ingest([_purchase("e3", day=2)])

    store.compact("c1", 2, 1, "{}")

    assert not store.load_snapshot("c1").current


# ---- decisions and outcomes ------------------------------------------------------------------


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


def test_outcomes_are_listed_in_the_order_they_happened(store):
    store.save_decision(_decision())
    later = StoredOutcome("d1", "a1", Outcome.CONVERTED, T0 + timedelta(days=2), 10.0)
    earlier = StoredOutcome("d1", "a1", Outcome.OPENED, T0 + timedelta(days=1))

    store.record_outcome(later)
    store.record_outcome(earlier)

    assert store.outcomes("d1") == [earlier, later]


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


def test_a_customers_decisions_are_listed_as_soon_as_they_are_saved(store):
    store.save_decision(_decision("d1", customer="ann"))
    store.save_decision(_decision("d2", customer="bob"))
    store.save_decision(_decision("d3", customer="ann"))

    assert sorted(store.customer_decision_ids("ann")) == ["d1", "d3"]
    assert store.customer_decision_ids("nobody") == []


def test_what_was_written_survives_reopening(reopen):
    first = reopen()
    first.ingest([_purchase("e1")])
    first.save_decision(_decision())
    first.record_outcome(StoredOutcome("d1", "a1", Outcome.ACCEPTED, T0))
    first.close()

    again = reopen()
    try:
        assert _ids(again) == ["e1"]
        assert again.find_decision("d1") == _decision()
        assert [o.outcome for o in again.outcomes("d1")] == [Outcome.ACCEPTED]
    finally:
        again.close()


# ---- customer data rights --------------------------------------------------------------------


def _customer_with_history(store: Store, customer: str) -> None:
    store.ingest([_purchase(f"{customer}-e1", customer, day=1), _purchase(f"{customer}-e2", customer, day=2)])
    store.save_decision(_decision(f"{customer}-d2", customer, day=3))
    store.save_decision(_decision(f"{customer}-d1", customer, day=2))
    store.record_outcome(StoredOutcome(f"{customer}-d1", "a1", Outcome.OPENED, T0 + timedelta(days=2)))
    store.record_outcome(StoredOutcome(f"{customer}-d1", "a1", Outcome.CONVERTED, T0 + timedelta(days=3), 12.5))


def test_an_export_holds_every_event_decision_and_outcome_of_the_customer(store):
    _customer_with_history(store, "ann")
    _customer_with_history(store, "bob")

    export: dict[str, Any] = store.export_customer("ann")

    assert export["customer_id"] == "ann"
    assert [e["event_id"] for e in export["events"]] == ["ann-e1", "ann-e2"]
    assert export["events"][0] == _purchase("ann-e1", "ann", day=1).model_dump(mode="json")
    assert [d["decision_id"] for d in export["decisions"]] == ["ann-d1", "ann-d2"]  # in time order
    first = export["decisions"][0]
    assert (first["customer_id"], first["as_of"], first["actions"]) == (
        "ann",
        "2026-01-03T00:00:00+00:00",
        {"a1": {"rule_id": "r"}},
    )
    assert [(o["outcome"], o["amount"]) for o in first["outcomes"]] == [("opened", 0.0), ("converted", 12.5)]
    assert export["decisions"][1]["outcomes"] == []


def test_an_unknown_customer_exports_empty(store):
    assert store.export_customer("nobody") == {
        "customer_id": "nobody",
        "events": [],
        "derived_state": None,
        "decisions": [],
    }


def test_forgetting_erases_everything_held_on_the_customer_and_counts_it(store):
    _customer_with_history(store, "ann")
    _customer_with_history(store, "bob")

    erased = store.forget_customer("ann")

    assert erased == 2 + 2 + 2  # events, decisions, outcomes
    assert store.export_customer("ann") == {"customer_id": "ann", "events": [], "derived_state": None, "decisions": []}
    assert store.find_decision("ann-d1") is None
    assert store.outcomes("ann-d1") == []
    assert list(store.customer_ids()) == ["bob"]
    assert store.count_customers() == 1
    assert store.forget_customer("ann") == 0


def test_forgetting_leaves_other_customers_whole(store):
    _customer_with_history(store, "ann")
    _customer_with_history(store, "bob")
    before = store.export_customer("bob")

    store.forget_customer("ann")

    assert store.export_customer("bob") == before


def test_a_decision_saved_just_before_forgetting_is_forgotten_too(store):
    store.ingest([_purchase("e1", "ann")])
    store.save_decision(_decision("d-last", "ann"))

    assert store.forget_customer("ann") == 2
    assert store.find_decision("d-last") is None


def test_a_forgotten_customer_can_start_again(store):
    store.ingest([_purchase("e1", "ann")])
    store.forget_customer("ann")

    assert store.ingest([_purchase("e1", "ann")]) == [ACCEPTED]
    assert list(store.customer_ids()) == ["ann"]


def test_slots_are_taken_up_to_their_limit_by_concurrent_takers_on_two_stores(reopen):
    stores = [reopen(), reopen()]
    taken: list[bool] = []

    def take(store: Store) -> None:
        for _ in range(25):
            taken.append(store.take_slot("capacity:call_centre:2026-06-01", 30))

    threads = [threading.Thread(target=take, args=(s,)) for s in stores for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert (taken.count(True), taken.count(False)) == (30, 70)
    assert [s.slots_taken("capacity:call_centre:2026-06-01") for s in stores] == [30, 30]
    assert stores[0].slots_taken("capacity:call_centre:2026-06-02") == 0
    assert stores[1].take_slot("capacity:call_centre:2026-06-02", 0) is False  # a channel closed for the day
    for store in stores:
        store.close()


def test_contacts_ingested_without_waiting_on_disk_are_read_back_at_once(reopen):
    store = reopen()
    made = Event(
        event_id="contact:d1:a1",
        customer_id="c1",
        occurred_at=T0,
        payload=ContactMade(channel=Channel.SMS, decision_id="d1", action_id="a1"),
    )

    assert store.ingest_changes([made], durable=False).codes == [ACCEPTED]
    store.close()

    reopened = reopen()
    assert reopened.load_customer("c1").events == (made,)
    reopened.close()
