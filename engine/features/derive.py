"""Derive a customer's facts as of a moment, from their state and the catalogue.

Pure functions: the state is folded from the events up to `as_of` (state.py), so a
replay on a virtual clock sees exactly what the customer had then. Each subject
family has its module (customer, assets, purchases); every field is defined in fields.py.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from engine.catalogue import Catalogue
from engine.events import Event
from engine.features.fields import SUBJECTS
from engine.features.purchases import category_fields, follow_on_fields
from engine.features.state import CustomerState, fold
from engine.features.timeline import days, timeline

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
    """The facts as of `as_of` of a customer with these events (in any order, repeats included)."""
    return facts_of(fold(timeline(events, as_of), catalogue), catalogue, as_of, touch, scores, scope)


def facts_of(
    state: CustomerState,
    catalogue: Catalogue,
    as_of: datetime,
    touch: Touch,
    scores: Mapping[str, float] | None = None,
    scope: Scope | None = None,
) -> list[Fact]:
    """One fact per subject in scope (the customer, each asset, consumable, category
    and follow-on), each carrying the shared fields: there is no use deriving what no rule reads.

    `state` holds no event later than `as_of`.
    """
    scope = scope or Scope()
    shared = {
        "customer": {
            **state.spend.fields(as_of),
            **state.reviews.fields(as_of),
            **state.complaints.fields(as_of),
            **state.orders.fields(as_of),
            **state.contacts.fields(as_of),
            **state.profile.fields(),
        },
        "event": _latest_event_fields(state, as_of),
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
            for f in state.assets.fields(catalogue, as_of)
            if scope.wants("asset", f)
        ]
    if "consumable" in scope.subjects:
        facts += [
            _fact("consumable", f"consumable:{f['product_id']}", f, shared)
            for consumable in state.consumables.values()
            if (product := catalogue.product(consumable.product_id)) is not None
            and scope.wants("consumable", f := consumable.fields(product, as_of))
        ]
    if "category" in scope.subjects:
        facts += [
            _fact("category", f"category:{f['name']}", f, shared)
            for f in category_fields(state.categories, scope.categories, as_of)
            if scope.wants("category", f)
        ]
    if "follow_on" in scope.subjects:
        facts += [
            _fact("follow_on", f"follow_on:{f['after_category']}>{f['then_category']}", f, shared)
            for f in follow_on_fields(state.follow_ons, catalogue, as_of)
        ]
    return facts


def _fact(subject: str, fact_id: str, fields: dict[str, object], shared: dict[str, object]) -> Fact:
    return {"id": fact_id, "subject": subject, **shared, subject: fields}


def _latest_event_fields(state: CustomerState, as_of: datetime) -> dict[str, object]:
    latest_at = state.latest_event_at
    if latest_at is None:
        return {}
    kind, *rest = state.latest_event.items()
    return {kind[0]: kind[1], "days_ago": days(latest_at, as_of), **dict(rest)}
