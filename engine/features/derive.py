"""Derive a customer's facts as of a moment, from their events and the catalogue.

Pure functions of (events, catalogue, as_of): events after `as_of` are ignored,
so a replay on a virtual clock sees exactly what the customer had then. Each subject
family has its module (customer, assets, purchases); every field is defined in fields.py.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from engine.catalogue import Catalogue
from engine.events import Complaint, Event, OrderStatus, Purchase, Review
from engine.features.assets import assets
from engine.features.customer import customer_fields
from engine.features.fields import SUBJECTS
from engine.features.purchases import categories, consumables, follow_ons
from engine.features.timeline import days, purchased_lines, timeline

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
    # Per subject, the only product categories worth a fact (no rule can match another); any if absent.
    pinned: Mapping[str, Collection[str]] = field(default_factory=dict)

    def wants(self, subject: str, fields: Mapping[str, object]) -> bool:
        allowed = self.pinned.get(subject)
        return allowed is None or fields.get("name" if subject == "category" else "category") in allowed


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
    history = timeline(events, as_of)
    bought = purchased_lines(history, catalogue)
    shared = {
        "customer": customer_fields(history, bought, as_of),
        "event": _latest_event_fields(history, catalogue, as_of),
        "touchpoint": {"channel": touch.channel or "outbound", "name": touch.name},
        "context": dict(touch.context),
        "score": dict(scores or {}),
    }
    facts: list[Fact] = []
    if "customer" in scope.subjects:
        facts.append({"id": "customer", "subject": "customer", **shared})
    if "asset" in scope.subjects:
        facts += [
            _fact("asset", f"asset:{f['id']}", f, shared)
            for f in assets(bought, history, as_of)
            if scope.wants("asset", f)
        ]
    if "consumable" in scope.subjects:
        facts += [
            _fact("consumable", f"consumable:{f['product_id']}", f, shared)
            for f in consumables(bought, as_of)
            if scope.wants("consumable", f)
        ]
    if "category" in scope.subjects:
        facts += [
            _fact("category", f"category:{f['name']}", f, shared)
            for f in categories(bought, scope.categories, as_of)
            if scope.wants("category", f)
        ]
    if "follow_on" in scope.subjects:
        facts += [
            _fact("follow_on", f"follow_on:{f['after_category']}>{f['then_category']}", f, shared)
            for f in follow_ons(bought, catalogue, as_of)
        ]
    return facts


def _fact(subject: str, fact_id: str, fields: dict[str, object], shared: dict[str, object]) -> Fact:
    return {"id": fact_id, "subject": subject, **shared, subject: fields}


def _latest_event_fields(history: list[Event], catalogue: Catalogue, as_of: datetime) -> dict[str, object]:
    if not history:
        return {}
    latest = history[-1]
    payload = latest.payload
    fields: dict[str, object] = {"kind": payload.kind, "days_ago": days(latest.occurred_at, as_of)}
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
