"""Customer states kept in the store: decisions read them instead of the history, and they
are folded again whenever they could be wrong (late events, trimming, a new catalogue,
damage, another replica's ingestion)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from engine.catalogue import Catalogue
from engine.decision.states import CustomerStates
from engine.events import Event
from engine.features.derive import Touch, derive_facts, facts_of
from engine.store.base import CustomerHistory, Store
from engine.store.sqlite import SqliteStore
from tests.features.builders import AS_OF, CATALOGUE, bought
from tests.store.test_store_contract import STORES, Opener


class CountingStore(SqliteStore):
    """A SQLite store that counts how often a whole history is loaded."""

    histories_loaded = 0

    def load_customer(self, customer_id: str) -> CustomerHistory:
        self.histories_loaded += 1
        return super().load_customer(customer_id)


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
