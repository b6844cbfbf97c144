"""Customer states kept in the store: decisions read them instead of the history, they are
folded again whenever they could be wrong (late events, a new catalogue, damage, another
replica's ingestion), and histories are compacted into them past the cap."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from engine.catalogue import Catalogue
from engine.decision.states import CustomerStates
from engine.errors import HistoryCompacted
from engine.events import Event
from engine.features.derive import Touch, derive_facts, facts_of
from engine.store.base import CustomerHistory, IngestCode, Store
from engine.store.sqlite import SqliteStore
from tests.features.builders import AS_OF, CATALOGUE, bought
from tests.store.test_store_contract import STORES, Opener


class CountingStore(SqliteStore):
    """A SQLite store that counts how often a whole history is loaded (not the oldest events, to compact)."""

    histories_loaded = 0

    def load_customer(self, customer_id: str, oldest: int | None = None) -> CustomerHistory:
        self.histories_loaded += oldest is None
        return super().load_customer(customer_id, oldest)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CountingStore]:
    opened = CountingStore(tmp_path / "states.db")
    yield opened
    opened.close()


def _history(customer: str = "c", count: int = 30) -> list[Event]:
    products = ["coffee-beans-1kg", "ink-305-black", "boiler-ecotherm-30", "tent-trail-2p"]
    return [
        bought(days_ago, products[n % len(products)], price=n).model_copy(update={"customer_id": customer})
        for n, days_ago in enumerate(range(10 * count, 0, -10))
    ]


def _ingest(states: CustomerStates, store: Store, events: list[Event], catalogue: Catalogue = CATALOGUE) -> None:
    states.ingested(events, store.ingest_changes(events), catalogue)


def _facts(states: CustomerStates, customer: str = "c", catalogue: Catalogue = CATALOGUE, as_of=AS_OF):
    return facts_of(states.as_of(customer, as_of, catalogue), catalogue, as_of, Touch("web"))


def _expected(events: list[Event], catalogue: Catalogue = CATALOGUE, as_of=AS_OF):
    return derive_facts(events, catalogue, as_of, Touch("web"))


def test_events_in_time_order_are_folded_in_and_decisions_never_load_the_history(store):
    states = CustomerStates(store)
    history = _history()
    for event in history:
        _ingest(states, store, [event])

    facts = [_facts(states) for _ in range(5)]

    assert store.histories_loaded == 0
    assert facts == [_expected(history)] * 5


def test_a_late_event_folds_the_history_again(store):
    states = CustomerStates(store)
    history = _history()
    _ingest(states, store, history[1:])
    _ingest(states, store, history[:1])  # the oldest, last

    assert store.histories_loaded == 1
    assert _facts(states) == _expected(history)
    assert store.histories_loaded == 1


def test_a_decision_about_the_past_folds_the_history_up_to_then_and_keeps_nothing(store):
    states = CustomerStates(store)
    history = _history()
    _ingest(states, store, history)
    kept = store.load_snapshot("c")

    past = AS_OF - timedelta(days=100)
    assert _facts(states, as_of=past) == _expected(history, as_of=past)
    assert store.load_snapshot("c") == kept
    assert _facts(states) == _expected(history)


def test_a_new_catalogue_folds_the_history_again_with_it(store):
    states = CustomerStates(store)
    history = _history()
    _ingest(states, store, history)
    # Ink becomes an asset: its purchases are now assets, not consumables.
    products = [{**p, "kind": "asset"} if p["id"] == "ink-305-black" else p for p in CATALOGUE.model_dump()["products"]]
    changed = Catalogue.model_validate({**CATALOGUE.model_dump(), "products": products})

    assert _facts(states, catalogue=changed) == _expected(history, changed)
    assert store.histories_loaded == 1


def test_a_damaged_snapshot_is_folded_again_and_replaced(store):
    states = CustomerStates(store)
    history = _history()
    _ingest(states, store, history)
    version = store.load_snapshot("c").version
    store.save_snapshot("c", version, '{"basis": 7}')

    assert _facts(states) == _expected(history)
    assert store.load_snapshot("c").body != '{"basis": 7}'
    assert _facts(states) == _expected(history)
    assert store.histories_loaded == 1


def test_a_snapshot_kept_before_the_latest_event_had_an_id_is_folded_again(store):
    states = CustomerStates(store)
    history = _history()
    _ingest(states, store, history)
    kept = store.load_snapshot("c")
    # As format 3 kept it: its latest event has no id.
    older = json.loads(kept.body)
    older["basis"] = "3:" + older["basis"].partition(":")[2]
    del older["latest_event"]["id"]
    store.save_snapshot("c", kept.version, json.dumps(older))

    assert _facts(states) == _expected(history)
    assert _facts(states)[0]["event"]["id"] == history[-1].event_id
    assert store.histories_loaded == 1


def test_the_first_decision_after_a_bulk_import_folds_the_history_once(store):
    history = _history()
    store.ingest(history)  # as `forestall import` does: no state kept
    states = CustomerStates(store)

    assert _facts(states) == _expected(history)
    assert _facts(states) == _expected(history)
    assert store.histories_loaded == 1


@pytest.mark.parametrize("kind", sorted(STORES))
def test_replicas_ingesting_the_same_customer_in_turns_keep_a_state_that_misses_nothing(kind, tmp_path):
    history = _history(count=40)
    sent = random.Random(3).sample(history, len(history))
    with STORES[kind](tmp_path) as reopen:
        reopen: Opener
        stores = [reopen(), reopen()]
        replicas = [CustomerStates(s) for s in stores]
        try:
            for n in range(0, len(sent), 4):
                replica = n // 4 % 2
                _ingest(replicas[replica], stores[replica], sent[n : n + 4])

            assert stores[0].load_snapshot("c").current
            assert _facts(replicas[1]) == _facts(replicas[0]) == _expected(history)
        finally:
            for s in stores:
                s.close()


# ---- compaction ---------------------------------------------------------------------------------


@pytest.fixture
def capped(tmp_path: Path) -> Iterator[CountingStore]:
    opened = CountingStore(tmp_path / "capped.db", max_events_per_customer=5)
    yield opened
    opened.close()


def test_past_the_cap_the_oldest_events_are_compacted_and_still_count(capped):
    states = CustomerStates(capped)
    history = _history(count=12)
    for event in history:
        _ingest(states, capped, [event])

    assert [e.event_id for e in capped.load_customer("c").events] == [e.event_id for e in history[-5:]]
    assert _facts(states) == _expected(history)


def test_a_late_event_past_the_cap_is_folded_after_the_compacted_ones(capped):
    states = CustomerStates(capped)
    history = _history(count=12)
    for event in history[:6] + history[7:]:
        _ingest(states, capped, [event])
    _ingest(states, capped, [history[6]])  # older than the latest, newer than the compacted

    assert _facts(states) == _expected(history)


def test_an_event_older_than_the_compacted_ones_is_acknowledged_and_dropped(capped):
    states = CustomerStates(capped)
    history = _history(count=12)
    for event in history[1:]:
        _ingest(states, capped, [event])
    ancient = history[0]

    ingested = capped.ingest_changes([ancient])
    states.ingested([ancient], ingested, CATALOGUE)

    assert ingested.codes == [IngestCode.ACCEPTED]
    assert _facts(states) == _expected(history[1:])
    _ingest(states, capped, [bought(0, "tent-trail-2p").model_copy(update={"customer_id": "c"})])
    assert ancient.event_id not in [e.event_id for e in capped.load_customer("c").events]


def test_a_decision_about_the_past_after_the_compacted_events_is_exact_and_before_them_refused(capped):
    states = CustomerStates(capped)
    history = _history(count=12)  # every 10 days, the latest 10 days before AS_OF
    for event in history:
        _ingest(states, capped, [event])

    recent = AS_OF - timedelta(days=25)
    assert _facts(states, as_of=recent) == _expected(history, as_of=recent)
    with pytest.raises(HistoryCompacted, match="compacted"):
        _facts(states, as_of=AS_OF - timedelta(days=100))


def test_a_new_catalogue_refolds_the_held_events_onto_the_compacted_state(capped):
    states = CustomerStates(capped)
    history = _history(count=12)
    for event in history:
        _ingest(states, capped, [event])
    products = [{**p, "name": "Renamed"} for p in CATALOGUE.model_dump()["products"]]
    renamed = Catalogue.model_validate({**CATALOGUE.model_dump(), "products": products})

    assert _facts(states, catalogue=renamed) == _expected(history, renamed)
