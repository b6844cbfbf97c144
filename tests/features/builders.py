"""Events and facts for feature tests: a fixed decision time, events dated in days before it."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from engine.catalogue import Catalogue
from engine.events import Event, LineItem, Payload, Purchase
from engine.features.derive import Touch, derive_facts
from engine.ruleset.loader import load_rule_set
from tests.conftest import RULES

AS_OF = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)  # a daylight-saving change in Europe; UTC is unaffected
CATALOGUE: Catalogue = load_rule_set(RULES).catalogue
_ids = itertools.count()


def event(days_ago: float, payload: Payload, customer: str = "c") -> Event:
    return Event(
        event_id=f"e{next(_ids)}", customer_id=customer, occurred_at=AS_OF - timedelta(days=days_ago), payload=payload
    )


def bought(days_ago: float, product: str, quantity: float = 1, price: float = 10, category: str = "") -> Event:
    item = LineItem(product_id=product, category=category, quantity=quantity, unit_price=price)
    return event(days_ago, Purchase(items=[item]))


def facts(*events: Event, as_of: datetime = AS_OF) -> dict[str, dict]:
    return {
        f["subject"] + ":" + str(i): f
        for i, f in enumerate(derive_facts(events, CATALOGUE, as_of, Touch("pos", "till-3", {"store": "s1"})))
    }


def of(derived: dict[str, dict], subject: str) -> list[dict]:
    return [f[subject] for f in derived.values() if f["subject"] == subject]


def customer(*events: Event, as_of: datetime = AS_OF) -> dict:
    return next(iter(facts(*events, as_of=as_of).values()))["customer"]
