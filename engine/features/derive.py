"""Derive a customer's facts as of a moment, from their events and the catalogue.

Pure functions of (events, catalogue, as_of): events after `as_of` are ignored,
so a replay on a virtual clock sees exactly what the customer had then.
"""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from engine.catalogue import Catalogue, Product
from engine.events import Complaint, Event, OrderStatus, ProfileUpdate, Purchase, Review, ServiceVisit
from engine.features.fields import SUBJECTS

SECONDS_PER_DAY = 86_400.0

Fact = dict[str, object]


@dataclass(frozen=True)
class Touch:
    """Where the decision is asked from: a channel (or None for outbound), a free name, the caller's context."""

    channel: str | None
    name: str = ""
    context: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Scope:
    """What to derive: facts about these subjects, and category facts for these categories
    even when the customer never bought in them (a rule may ask "has not bought ink")."""

    subjects: Collection[str] = SUBJECTS
    categories: Collection[str] = ()


def _days(since: datetime, as_of: datetime) -> float:
    return round((as_of - since).total_seconds() / SECONDS_PER_DAY, 2)


@dataclass(frozen=True)
class _Bought:
    event: Event
    line: int
    product_id: str
    category: str
    quantity: float
    unit_price: float
    product: Product | None


def derive_facts(
    events: Iterable[Event],
    catalogue: Catalogue,
    as_of: datetime,
    touch: Touch,
    scores: Mapping[str, float] | None = None,
    scope: Scope | None = None,
) -> list[Fact]:
    """One fact per subject in scope (the customer, each asset, consumable, category
    and follow-on), each carrying the shared fields: there is no use deriving what no rule reads."""
    scope = scope or Scope()
    history = sorted((e for e in events if e.occurred_at <= as_of), key=lambda e: (e.occurred_at, e.event_id))
    bought = list(_purchased_lines(history, catalogue))
    shared = {
        "customer": _customer_fields(history, as_of),
        "event": _latest_event_fields(history, catalogue, as_of),
        "touchpoint": {"channel": touch.channel or "outbound", "name": touch.name},
        "context": dict(touch.context),
        "score": dict(scores or {}),
    }
    facts: list[Fact] = []
    if "customer" in scope.subjects:
        facts.append({"id": "customer", "subject": "customer", **shared})
    if "asset" in scope.subjects:
        facts += [_fact("asset", f"asset:{f['id']}", f, shared) for f in _assets(bought, history, as_of)]
    if "consumable" in scope.subjects:
        facts += [_fact("consumable", f"consumable:{f['product_id']}", f, shared) for f in _consumables(bought, as_of)]
    if "category" in scope.subjects:
        facts += [
            _fact("category", f"category:{f['name']}", f, shared) for f in _categories(bought, scope.categories, as_of)
        ]
    if "follow_on" in scope.subjects:
        facts += [
            _fact("follow_on", f"follow_on:{f['after_category']}>{f['then_category']}", f, shared)
            for f in _follow_ons(bought, catalogue, as_of)
        ]
    return facts


def _fact(subject: str, fact_id: str, fields: dict[str, object], shared: dict[str, object]) -> Fact:
    return {"id": fact_id, "subject": subject, **shared, subject: fields}


def _purchased_lines(history: list[Event], catalogue: Catalogue) -> Iterable[_Bought]:
    for event in history:
        if isinstance(event.payload, Purchase):
            for line, item in enumerate(event.payload.items):
                product = catalogue.product(item.product_id)
                category = item.category or (product.category if product else "")
                yield _Bought(event, line, item.product_id, category, item.quantity, item.unit_price, product)


def _customer_fields(history: list[Event], as_of: datetime) -> dict[str, object]:
    purchases = [e for e in history if isinstance(e.payload, Purchase)]
    fields: dict[str, object] = {
        "purchase_count": len(purchases),
        "total_spent": round(
            sum(i.quantity * i.unit_price for e in purchases for i in e.payload.items),  # type: ignore[union-attr]
            2,
        ),
        "open_complaints": _open_complaints(history),
        "first_name": "",
        "language": "",
    }
    if purchases:
        fields["days_since_last_purchase"] = _days(purchases[-1].occurred_at, as_of)
    for event in history:
        if isinstance(event.payload, ProfileUpdate):
            fields["first_name"] = event.payload.first_name or fields["first_name"]
            fields["language"] = event.payload.language or fields["language"]
    return fields


def _latest_event_fields(history: list[Event], catalogue: Catalogue, as_of: datetime) -> dict[str, object]:
    if not history:
        return {}
    latest = history[-1]
    payload = latest.payload
    fields: dict[str, object] = {"kind": payload.kind, "days_ago": _days(latest.occurred_at, as_of)}
    product_id = getattr(payload, "product_id", "") or (
        payload.items[0].product_id if isinstance(payload, Purchase) else ""
    )
    if product_id:
        product = catalogue.product(product_id)
        fields["product_id"] = product_id
        fields["category"] = product.category if product else ""
    if isinstance(payload, Review):
        fields["rating"] = payload.rating
        fields["text"] = payload.text
    if isinstance(payload, Complaint | OrderStatus):
        fields["state"] = payload.state
    return fields


def _open_complaints(history: list[Event]) -> int:
    state: dict[str, str] = {}
    for event in history:
        if isinstance(event.payload, Complaint):
            state[event.payload.complaint_id] = event.payload.state
    return sum(1 for s in state.values() if s == "opened")


def _assets(bought: list[_Bought], history: list[Event], as_of: datetime) -> Iterable[dict[str, object]]:
    visits = [e for e in history if isinstance(e.payload, ServiceVisit)]
    for b in bought:
        if b.product is None or b.product.kind != "asset":
            continue
        asset_id = f"{b.event.event_id}/{b.line}"
        serviced = [
            v.occurred_at
            for v in visits
            if v.occurred_at >= b.event.occurred_at
            and (v.payload.asset_id == asset_id if v.payload.asset_id else v.payload.product_id == b.product_id)  # type: ignore[union-attr]
        ]
        last_service = serviced[-1] if serviced else b.event.occurred_at
        fields: dict[str, object] = {
            "id": asset_id,
            "product_id": b.product_id,
            "name": b.product.name,
            "category": b.category,
            "age_days": _days(b.event.occurred_at, as_of),
            "service_count": len(serviced),
            "days_since_service": _days(last_service, as_of),
        }
        if b.product.service_interval_days is not None:
            fields["service_interval_days"] = b.product.service_interval_days
            fields["days_until_service"] = round(b.product.service_interval_days - _days(last_service, as_of), 2)
        yield fields


def _consumables(bought: list[_Bought], as_of: datetime) -> Iterable[dict[str, object]]:
    by_product: dict[str, list[_Bought]] = defaultdict(list)
    for b in bought:
        if b.product is not None and b.product.kind == "consumable":
            by_product[b.product_id].append(b)
    for product_id, purchases in by_product.items():
        last = purchases[-1]
        product = last.product
        assert product is not None
        fields: dict[str, object] = {
            "product_id": product_id,
            "name": product.name,
            "category": last.category,
            "purchase_count": len(purchases),
            "last_quantity": last.quantity,
            "days_since_purchase": _days(last.event.occurred_at, as_of),
        }
        days_per_unit, source = _days_per_unit(purchases, product)
        if days_per_unit is not None:
            fields["days_per_unit"] = days_per_unit
            fields["cadence_source"] = source
            fields["days_until_runout"] = round(days_per_unit * last.quantity - _days(last.event.occurred_at, as_of), 2)
        yield fields


def _days_per_unit(purchases: list[_Bought], product: Product) -> tuple[float | None, str]:
    """The customer's own cadence when they bought at least twice, else the catalogue's."""
    gaps = [
        _days(earlier.event.occurred_at, later.event.occurred_at) / earlier.quantity
        for earlier, later in itertools.pairwise(purchases)
        if later.event.occurred_at > earlier.event.occurred_at
    ]
    if gaps:
        return round(statistics.median(gaps), 2), "customer"
    if product.consumption_period_days is not None:
        return float(product.consumption_period_days), "catalogue"
    return None, ""


def _categories(bought: list[_Bought], wanted: Collection[str], as_of: datetime) -> Iterable[dict[str, object]]:
    by_category: dict[str, list[_Bought]] = {name: [] for name in wanted}
    for b in bought:
        if b.category:
            by_category.setdefault(b.category, []).append(b)
    for name, purchases in by_category.items():
        fields: dict[str, object] = {
            "name": name,
            "purchase_count": len({b.event.event_id for b in purchases}),
            "quantity": sum(b.quantity for b in purchases),
            "total_spent": round(sum(b.quantity * b.unit_price for b in purchases), 2),
        }
        if purchases:
            fields["days_since_last_purchase"] = _days(purchases[-1].event.occurred_at, as_of)
        yield fields


def _follow_ons(bought: list[_Bought], catalogue: Catalogue, as_of: datetime) -> Iterable[dict[str, object]]:
    for follow_on in catalogue.follow_ons:
        triggers = [b for b in bought if b.category == follow_on.after]
        if not triggers:
            continue
        since = triggers[-1].event.occurred_at
        days_since = _days(since, as_of)
        yield {
            "after_category": follow_on.after,
            "then_category": follow_on.then,
            "days_since_after": days_since,
            "typical_after_days": follow_on.typical_after_days,
            "days_until_typical": round(follow_on.typical_after_days - days_since, 2),
            "then_purchases": sum(1 for b in bought if b.category == follow_on.then and b.event.occurred_at >= since),
        }
