"""A customer's state: everything their facts are read from, folded from their events in time order.

The fold is the one implementation of every feature: the facts as of a moment are
read from the state folded from the events up to that moment. Folding one more event
costs the same whatever came before it, and the state's size is bounded by what the
customer owns, buys and has open, not by the length of their history; so a state
kept beside the events (engine/decision/states.py) makes a decision's cost
independent of history length.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import msgspec

from engine.catalogue import Catalogue
from engine.events import (
    Complaint,
    ContactMade,
    ContactOutcome,
    Event,
    OrderStatus,
    ProfileUpdate,
    Purchase,
    Review,
    ServiceVisit,
    UsageReading,
)
from engine.features.assets import Asset, Assets
from engine.features.customer import Complaints, ContactHistory, Contacts, Orders, Profile, Reviews, Spend
from engine.features.purchases import Category, Consumable, FollowOnState, follow_ons_bought
from engine.vocabulary import Outcome

# Bump when the state's layout or a feature's fold changes: kept states of another format are folded again.
# 2: dismissals per action; 3: contacts made, opt-outs and complaints by outcome; 4: the latest event's id.
STATE_FORMAT = 4


def basis(catalogue: Catalogue) -> str:
    """What a state depends on besides the events: its format and the catalogue it was folded with."""
    return f"{STATE_FORMAT}:{catalogue.digest}"


class CustomerState(msgspec.Struct):
    basis: str
    # (occurred_at, event_id) of the latest event folded: only later ones can be folded in
    last: tuple[datetime, str] | None = None
    # the latest event's fields but its age: kind, id, product_id, category, rating, text, state
    latest_event: dict[str, str | int] = msgspec.field(default_factory=dict)
    latest_event_at: datetime | None = None
    spend: Spend = msgspec.field(default_factory=Spend)
    reviews: Reviews = msgspec.field(default_factory=Reviews)
    complaints: Complaints = msgspec.field(default_factory=Complaints)
    orders: Orders = msgspec.field(default_factory=Orders)
    contacts: Contacts = msgspec.field(default_factory=Contacts)
    sent: ContactHistory = msgspec.field(default_factory=ContactHistory)
    profile: Profile = msgspec.field(default_factory=Profile)
    assets: Assets = msgspec.field(default_factory=Assets)
    consumables: dict[str, Consumable] = msgspec.field(default_factory=dict)
    categories: dict[str, Category] = msgspec.field(default_factory=dict)
    follow_ons: dict[str, FollowOnState] = msgspec.field(default_factory=dict)

    @classmethod
    def decode(cls, body: bytes | str) -> CustomerState:
        """A kept state; raises `msgspec.DecodeError` (a `ValueError`) on one that is damaged or of another layout."""
        return msgspec.json.decode(body, type=cls)

    def encode(self) -> bytes:
        return msgspec.json.encode(self)

    @property
    def latest_at(self) -> datetime | None:
        return self.last[0] if self.last else None

    def follows(self, event: Event) -> bool:
        """Whether the event comes after every event folded so far, so it can be folded in."""
        return self.last is None or (event.occurred_at, event.event_id) > self.last

    def apply(self, event: Event, catalogue: Catalogue) -> None:
        """Fold in one event that `follows` the state."""
        if not self.follows(event):
            raise ValueError(f"event {event.event_id} does not follow the state's latest event")
        self.last = (event.occurred_at, event.event_id)
        payload = event.payload
        if isinstance(payload, ContactMade):  # what Forestall did, not what the customer did: not their latest event
            self.sent.made(event, payload)
            return
        self.latest_event = _event_fields(event, catalogue)
        self.latest_event_at = event.occurred_at
        if isinstance(payload, Purchase):
            self._bought(event, payload, catalogue)
        elif isinstance(payload, ServiceVisit | UsageReading):
            self.assets.apply(event, payload, catalogue)
        elif isinstance(payload, Review):
            self.reviews.apply(event, payload)
        elif isinstance(payload, Complaint):
            self.complaints.apply(event, payload)
        elif isinstance(payload, OrderStatus):
            self.orders.apply(event, payload)
        elif isinstance(payload, ContactOutcome):
            self._answered(event, payload)
        elif isinstance(payload, ProfileUpdate):
            self.profile.apply(payload)

    def _answered(self, event: Event, outcome: ContactOutcome) -> None:
        self.contacts.apply(event, outcome)
        self.sent.answered(event, outcome)
        if outcome.outcome is Outcome.UNSUBSCRIBED and outcome.channel is not None:
            self.profile.unsubscribed(outcome.channel)  # an opt-out of the channel, as if consent were withdrawn
        elif outcome.outcome is Outcome.COMPLAINED:
            self.complaints.about_contact(event)

    def _bought(self, event: Event, purchase: Purchase, catalogue: Catalogue) -> None:
        at = event.occurred_at
        by_category: dict[str, list[float]] = {}  # category -> [lines, quantity, amount]
        for line, item in enumerate(purchase.items):
            product = catalogue.product(item.product_id)
            category = item.category or (product.category if product else "")
            if category:
                tally = by_category.setdefault(category, [0, 0.0, 0.0])
                tally[0] += 1
                tally[1] += item.quantity
                tally[2] += item.quantity * item.unit_price
            if product is not None and product.kind == "asset":
                self.assets.bought(Asset(f"{event.event_id}/{line}", item.product_id, category, at))
            elif product is not None and product.kind == "consumable":
                consumable = self.consumables.setdefault(
                    item.product_id, Consumable(item.product_id, category, at, item.quantity)
                )
                consumable.bought(at, category, item.quantity)
        self.spend.apply(at, sum(item.quantity * item.unit_price for item in purchase.items))
        for category, (lines, quantity, amount) in by_category.items():
            self.categories.setdefault(category, Category()).bought(at, int(lines), quantity, amount)
        lines_by_category = {category: int(tally[0]) for category, tally in by_category.items()}
        follow_ons_bought(self.follow_ons, self.categories, at, lines_by_category, catalogue)


def fold(history: Iterable[Event], catalogue: Catalogue, state: CustomerState | None = None) -> CustomerState:
    """Fold events, in timeline order and each after the state's latest, into a state (a new one if none).

    The state is then of this catalogue, though events folded before were read with another.
    """
    state = state or CustomerState(basis(catalogue))
    state.basis = basis(catalogue)
    for event in history:
        state.apply(event, catalogue)
    return state


def _event_fields(event: Event, catalogue: Catalogue) -> dict[str, str | int]:
    payload = event.payload
    fields: dict[str, str | int] = {"kind": payload.kind, "id": event.event_id}
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
