"""A dozen hand-written customers; tests/metrics/test_compute.py works out their every metric by hand.

Windows, for the period [2026-03-01, 2026-04-01) and 365 days:
  start window (K_start)   [2025-03-01, 2026-03-01)
  end window (K_end, satisfaction)  [2025-04-01, 2026-04-01)
  base window (K_total)    [min(2026-03-01, 2025-04-01), 2026-04-01) = [2025-04-01, 2026-04-01)
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from engine.events import (
    Complaint,
    ContactOutcome,
    Event,
    LineItem,
    OrderStatus,
    Payload,
    Purchase,
    Review,
)
from engine.metrics.compute import CustomerRecord, DecisionRecord
from engine.store.base import Store, StoredDecision, StoredOutcome
from engine.vocabulary import Outcome

_ids = itertools.count()


def day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def event(customer: str, at: str, payload: Payload) -> Event:
    return Event(event_id=f"e{next(_ids):03d}", customer_id=customer, occurred_at=day(at), payload=payload)


def bought(customer: str, at: str, *lines: tuple[float, float], order: str = "") -> Event:
    """A purchase of (quantity, unit price) lines."""
    items = [LineItem(product_id=f"p{n}", quantity=q, unit_price=p) for n, (q, p) in enumerate(lines)]
    return event(customer, at, Purchase(order_id=order, items=items))


def reviewed(customer: str, at: str, rating: int) -> Event:
    return event(customer, at, Review(rating=rating))


def reported(customer: str, at: str, decision_id: str, what: Outcome, amount: float = 0.0) -> Event:
    """A contact_outcome event on action a1 of a decision: the route beside RecordOutcome."""
    return event(customer, at, ContactOutcome(decision_id=decision_id, action_id="a1", outcome=what, amount=amount))


def action(family: str, channel: str, rule: str) -> dict[str, object]:
    return {"offer_id": "o", "family": family, "channel": channel, "score": 1.0, "rule_id": rule, "matched_facts": {}}


def decision(customer: str, decision_id: str, at: str, actions: dict[str, dict[str, object]]) -> StoredDecision:
    return StoredDecision(decision_id, customer, day(at), "rules-v1", "", actions)


def outcome(decision_id: str, action_id: str, what: Outcome, at: str, amount: float = 0.0) -> StoredOutcome:
    return StoredOutcome(decision_id, action_id, what, day(at), amount)


D1 = decision(
    "c09",
    "d1",
    "2026-03-05",
    {"a1": action("maintenance_due", "email", "r-boiler"), "a2": action("replenishment", "sms", "r-ink")},
)
D2 = decision("c09", "d2", "2026-02-20", {"a1": action("planned_purchase", "email", "r-seat")})
D3 = decision(
    "c10",
    "d3",
    "2026-03-25",
    {"a1": action("maintenance_due", "sms", "r-boiler"), "a2": action("planned_purchase", "pos", "r-seat")},
)
D4 = decision("c10", "d4", "2026-03-28", {})

CUSTOMERS: tuple[CustomerRecord, ...] = (
    # loyal: active at start (2025-06-10) and end; an order of 1x80 + 2x10 = 100 in March, and a review of 5
    CustomerRecord(
        "c01",
        (
            bought("c01", "2025-06-10", (2, 50)),
            bought("c01", "2026-03-05", (1, 80), (2, 10)),
            reviewed("c01", "2026-03-06", 5),
        ),
    ),
    # lapsing: bought 2025-03-15, in the start window only; not in the base (nothing since 2025-04-01)
    CustomerRecord("c02", (bought("c02", "2025-03-15", (1, 30)),)),
    # new: a first order of 200 in March, and a review of 4
    CustomerRecord("c03", (bought("c03", "2026-03-10", (1, 200), order="B"), reviewed("c03", "2026-03-11", 4))),
    # won back: bought in 2024, then 60 in March: new at the end, though not a first purchase
    CustomerRecord("c04", (bought("c04", "2024-12-01", (1, 40)), bought("c04", "2026-03-20", (3, 20)))),
    # unhappy: active throughout, reviews 2, two complaints opened in March (one resolved: still one complaint)
    CustomerRecord(
        "c05",
        (
            bought("c05", "2025-09-01", (1, 90)),
            reviewed("c05", "2026-03-02", 2),
            event("c05", "2026-03-03", Complaint(complaint_id="k1", state="opened")),
            event("c05", "2026-03-15", Complaint(complaint_id="k1", state="resolved")),
            event("c05", "2026-03-20", Complaint(complaint_id="k2", state="opened")),
        ),
    ),
    # changed their mind: rated 5, then 3 in February; their latest rating is 3: not satisfied
    CustomerRecord(
        "c06",
        (
            bought("c06", "2025-10-01", (1, 50)),
            reviewed("c06", "2025-11-01", 5),
            reviewed("c06", "2026-02-01", 3),
        ),
    ),
    # an old happy review (2025-02-01, before the end window): not satisfied; the purchase keeps them active
    CustomerRecord("c07", (reviewed("c07", "2025-02-01", 5), bought("c07", "2025-05-01", (1, 20)))),
    # order C cancelled in March: not counted; order D cancelled only after the period end: counted (40)
    CustomerRecord(
        "c08",
        (
            bought("c08", "2026-03-12", (1, 500), order="C"),
            event("c08", "2026-03-13", OrderStatus(order_id="C", state="cancelled")),
            bought("c08", "2026-03-14", (2, 20), order="D"),
            event("c08", "2026-03-15", OrderStatus(order_id="D", state="delayed")),
            event("c08", "2026-04-05", OrderStatus(order_id="D", state="cancelled")),
        ),
    ),
    # decisions: d1 in March, its a1 converted for 120 by both routes (counted once), a2 dismissed;
    # d2 in February, accepted
    CustomerRecord(
        "c09",
        (
            bought("c09", "2025-07-01", (1, 70)),
            reported("c09", "2026-03-07", "d1", Outcome.CONVERTED, 120),
        ),
        (
            DecisionRecord(
                D2,
                (outcome("d2", "a1", Outcome.ACCEPTED, "2026-02-21"),),
            ),
            DecisionRecord(
                D1,
                (
                    outcome("d1", "a1", Outcome.DELIVERED, "2026-03-05"),
                    outcome("d1", "a1", Outcome.CONVERTED, "2026-03-07", 120),
                    outcome("d1", "a2", Outcome.DELIVERED, "2026-03-05"),
                    outcome("d1", "a2", Outcome.DISMISSED, "2026-03-06"),
                ),
            ),
        ),
    ),
    # decisions: d3's a1 accepted by a contact_outcome event only, a2 never heard of; d4 has no actions;
    # an outcome naming an unknown decision is ignored. A first order of 150 in March: new.
    CustomerRecord(
        "c10",
        (
            reported("c10", "2026-03-25", "d3", Outcome.ACCEPTED),
            reported("c10", "2026-03-25", "d-x", Outcome.CONVERTED, 9),
            bought("c10", "2026-03-26", (1, 150)),
        ),
        (DecisionRecord(D3), DecisionRecord(D4)),
    ),
    # reviews only: 4, then 1 a day later; their latest is 1: not satisfied
    CustomerRecord("c11", (reviewed("c11", "2026-03-08", 4), reviewed("c11", "2026-03-09", 1))),
    # long gone: a purchase in 2023; in no window
    CustomerRecord("c12", (bought("c12", "2023-01-01", (1, 10)),)),
)


def fill(store: Store) -> Store:
    """The store, holding the data set: events, decisions and the outcomes recorded against them."""
    store.ingest([event for customer in CUSTOMERS for event in customer.events])
    for customer in CUSTOMERS:
        for record in customer.decisions:
            store.save_decision(record.decision)
            for outcome in record.outcomes:
                store.record_outcome(outcome)
    return store
