"""A customer's events as one timeline, and the arithmetic of days every feature shares."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from engine.catalogue import Catalogue, Product
from engine.events import Event, Purchase

SECONDS_PER_DAY = 86_400.0

P = TypeVar("P")


def timeline(events: Iterable[Event], as_of: datetime) -> list[Event]:
    """The events up to `as_of` in `(occurred_at, event_id)` order, each event id once.

    The order is total, so same-moment events, arrival order and repeated delivery
    never change what is derived from it.
    """
    ordered = sorted((e for e in events if e.occurred_at <= as_of), key=lambda e: (e.occurred_at, e.event_id))
    kept: dict[str, Event] = {}
    for event in ordered:
        kept.setdefault(event.event_id, event)
    return list(kept.values())


def of_kind(history: list[Event], kind: type[P]) -> list[tuple[Event, P]]:
    """The events whose payload is of one kind, each with its payload typed."""
    return [(e, e.payload) for e in history if isinstance(e.payload, kind)]


def days(since: datetime, as_of: datetime) -> float:
    return round((as_of - since).total_seconds() / SECONDS_PER_DAY, 2)


def within(event: Event, as_of: datetime, window_days: int) -> bool:
    """Whether the event lies in the `window_days` days up to `as_of` (its start excluded)."""
    return event.occurred_at > as_of - timedelta(days=window_days)


@dataclass(frozen=True)
class Bought:
    """One line item of a purchase, with its category resolved and its catalogue product, if any."""

    event: Event
    line: int
    product_id: str
    category: str
    quantity: float
    unit_price: float
    product: Product | None

    @property
    def amount(self) -> float:
        return self.quantity * self.unit_price


def purchased_lines(history: list[Event], catalogue: Catalogue) -> list[Bought]:
    bought = []
    for event in history:
        if isinstance(event.payload, Purchase):
            for line, item in enumerate(event.payload.items):
                product = catalogue.product(item.product_id)
                category = item.category or (product.category if product else "")
                bought.append(Bought(event, line, item.product_id, category, item.quantity, item.unit_price, product))
    return bought


def purchases_of(lines: list[Bought]) -> int:
    """Purchases, not lines: two lines of one basket are one purchase."""
    return len({b.event.event_id for b in lines})


def spent_on(lines: list[Bought]) -> float:
    return round(sum(b.amount for b in lines), 2)
