"""Out-of-order and repeated delivery change nothing: the facts derived from what a store
loaded after a shuffled, duplicated, batched delivery, and those read from the state kept
as it arrived, are those of the history in time order."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.decision.states import CustomerStates
from engine.events import (
    Complaint,
    ContactOutcome,
    Event,
    LineItem,
    OrderStatus,
    ProfileUpdate,
    Purchase,
    Review,
    ServiceVisit,
    UsageReading,
)
from engine.features.derive import Touch, derive_facts, facts_of
from engine.store.base import Store
from engine.vocabulary import Channel, Outcome
from tests.features.builders import AS_OF, CATALOGUE
from tests.store.test_store_contract import STORES

PRODUCTS = ["heat-pump-aw12", "boiler-ecotherm-30", "ink-305-black", "coffee-beans-1kg", "stroller-city-go", "x"]
channels = st.sampled_from(list(Channel))

payloads = st.one_of(
    st.builds(
        Purchase,
        items=st.lists(
            st.builds(
                LineItem,
                product_id=st.sampled_from(PRODUCTS),
                quantity=st.integers(1, 3),
                unit_price=st.sampled_from([0, 9.99, 120]),
            ),
            min_size=1,
            max_size=3,
        ),
    ),
    st.builds(ServiceVisit, product_id=st.sampled_from(PRODUCTS[:2])),
    st.builds(
        UsageReading, product_id=st.just("heat-pump-aw12"), meter=st.just("run_hours"), value=st.integers(0, 9000)
    ),
    st.builds(Review, rating=st.integers(1, 5)),
    st.builds(Complaint, complaint_id=st.sampled_from("ab"), state=st.sampled_from(["opened", "resolved"])),
    st.builds(OrderStatus, order_id=st.sampled_from("ab"), state=st.sampled_from(["delayed", "delivered"])),
    st.builds(
        ContactOutcome,
        decision_id=st.just("d"),
        action_id=st.sampled_from("ab"),
        outcome=st.sampled_from(list(Outcome)),
        channel=st.none() | channels,
    ),
    st.builds(
        ProfileUpdate,
        time_zone=st.sampled_from(["", "Europe/Paris", "Asia/Tokyo"]),
        consent_granted=st.lists(channels, max_size=2),
        consent_withdrawn=st.lists(channels, max_size=2),
    ),
)


@st.composite
def histories(draw: st.DrawFn) -> list[Event]:
    """Events of several kinds over about a year, many at the same moment as another."""
    moments = st.integers(0, 12).map(lambda n: AS_OF - timedelta(days=30 * n))
    drawn = draw(st.lists(st.tuples(moments, payloads), min_size=1, max_size=25))
    return [Event(event_id=f"e{i}", customer_id="c", occurred_at=at, payload=p) for i, (at, p) in enumerate(drawn)]


@st.composite
def deliveries(draw: st.DrawFn, history: list[Event]) -> list[list[Event]]:
    """The history shuffled, some events sent again, cut into batches of random sizes."""
    repeats = draw(st.lists(st.sampled_from(history), max_size=len(history)))
    sent = draw(st.permutations(history + repeats))
    cuts = sorted(draw(st.lists(st.integers(0, len(sent)), max_size=5)))
    return [sent[a:b] for a, b in itertools.pairwise([0, *cuts, len(sent)]) if a < b]


def _facts(events: list[Event] | tuple[Event, ...], as_of: datetime) -> list[dict[str, object]]:
    return derive_facts(events, CATALOGUE, as_of, Touch("web"))


@pytest.fixture(params=sorted(STORES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with STORES[request.param](tmp_path) as opener:
        opened = opener()
        yield opened
        opened.close()


_customers = itertools.count()


# One store serves every example: each example is a customer of its own.
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_shuffled_duplicated_batched_delivery_gives_the_facts_of_the_history_in_order(store: Store, data):
    history = data.draw(histories())
    as_of = data.draw(st.sampled_from([AS_OF, AS_OF - timedelta(days=150)]))
    customer_id = f"c{next(_customers)}"
    batches = data.draw(deliveries(history))

    states = CustomerStates(store)
    for batch in batches:
        sent = [e.model_copy(update={"customer_id": customer_id}) for e in batch]
        states.ingested(sent, store.ingest_changes(sent), CATALOGUE)
    loaded = store.load_customer(customer_id).events

    expected = _facts(history, as_of)
    assert _facts(loaded, as_of) == expected
    assert _facts([e for batch in batches for e in batch], as_of) == expected
    assert facts_of(states.as_of(customer_id, as_of, CATALOGUE), CATALOGUE, as_of, Touch("web")) == expected
