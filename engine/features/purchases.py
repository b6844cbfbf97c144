"""Facts from what the customer bought: consumables, product categories and follow-on purchases."""

from __future__ import annotations

import statistics
from collections.abc import Collection, Iterable
from datetime import datetime

import msgspec

from engine.catalogue import Catalogue, FollowOn, Product
from engine.features.timeline import days
from engine.features.windows import DailyTotals

CADENCE_GAPS = 10  # the customer's own cadence is the median of their latest gaps between purchases


class Consumable(msgspec.Struct):
    product_id: str
    category: str
    last_at: datetime
    last_quantity: float
    purchase_count: int = 0
    # days between consecutive purchases per unit of the earlier one, the latest CADENCE_GAPS of them
    gaps: list[float] = msgspec.field(default_factory=list)

    def bought(self, at: datetime, category: str, quantity: float) -> None:
        if self.purchase_count and at > self.last_at:
            self.gaps = [*self.gaps, days(self.last_at, at) / self.last_quantity][-CADENCE_GAPS:]
        self.purchase_count += 1
        self.category, self.last_at, self.last_quantity = category, at, quantity

    def fields(self, product: Product, as_of: datetime) -> dict[str, object]:
        fields: dict[str, object] = {
            "product_id": self.product_id,
            "name": product.name,
            "category": self.category,
            "purchase_count": self.purchase_count,
            "last_quantity": self.last_quantity,
            "days_since_purchase": days(self.last_at, as_of),
        }
        days_per_unit, source = self._days_per_unit(product)
        if days_per_unit is not None:
            fields["days_per_unit"] = days_per_unit
            fields["cadence_source"] = source
            fields["days_until_runout"] = round(days_per_unit * self.last_quantity - days(self.last_at, as_of), 2)
        return fields

    def _days_per_unit(self, product: Product) -> tuple[float | None, str]:
        """The customer's own cadence when they bought at least twice, else the catalogue's."""
        if self.gaps:
            return round(statistics.median(self.gaps), 2), "customer"
        if product.consumption_period_days is not None:
            return float(product.consumption_period_days), "catalogue"
        return None, ""


class Category(msgspec.Struct):
    purchase_count: int = 0
    quantity: float = 0.0
    spent: float = 0.0
    last_at: datetime | None = None
    lines_at_last: int = 0  # lines bought at `last_at` (in one basket or several at the same moment)
    daily: DailyTotals = msgspec.field(default_factory=DailyTotals)

    def bought(self, at: datetime, lines: int, quantity: float, amount: float) -> None:
        """One purchase of `lines` line items in the category."""
        self.lines_at_last = self.lines_at_last + lines if at == self.last_at else lines
        self.purchase_count += 1
        self.quantity += quantity
        self.spent += amount
        self.last_at = at
        self.daily.add(at, 1, amount)

    def fields(self, name: str, as_of: datetime) -> dict[str, object]:
        recent, recent_spent = self.daily.within(as_of, 365)
        fields: dict[str, object] = {
            "name": name,
            "purchase_count": self.purchase_count,
            "quantity": self.quantity,
            "total_spent": round(self.spent, 2),
            "purchases_last_365_days": int(recent),
            "spent_last_365_days": round(recent_spent, 2),
        }
        if self.last_at is not None:
            fields["days_since_last_purchase"] = days(self.last_at, as_of)
        return fields


def category_fields(
    bought: dict[str, Category], wanted: Collection[str], as_of: datetime
) -> Iterable[dict[str, object]]:
    """One field set per category bought in, and per wanted category even if never bought in."""
    for name in dict.fromkeys([*wanted, *bought]):
        yield fields_of_category(bought, name, as_of)


def fields_of_category(bought: dict[str, Category], name: str, as_of: datetime) -> dict[str, object]:
    """A category's fields; one never bought in has no purchases."""
    return (bought.get(name) or Category()).fields(name, as_of)


class FollowOnState(msgspec.Struct, array_like=True):
    since: datetime  # the latest purchase in the `after` category
    then_purchases: int  # lines bought in the `then` category since


def follow_on_key(follow_on: FollowOn) -> str:
    return f"{follow_on.after}>{follow_on.then}"


def follow_ons_bought(
    state: dict[str, FollowOnState],
    categories: dict[str, Category],
    at: datetime,
    lines_by_category: dict[str, int],
    catalogue: Catalogue,
) -> None:
    """Update each follow-on for a purchase at `at` (categories already updated with it)."""
    for follow_on in catalogue.follow_ons:
        key = follow_on_key(follow_on)
        if follow_on.after in lines_by_category:
            then = categories.get(follow_on.then)
            same_moment = then.lines_at_last if then is not None and then.last_at == at else 0
            state[key] = FollowOnState(at, same_moment)
        elif follow_on.then in lines_by_category and key in state:
            state[key].then_purchases += lines_by_category[follow_on.then]


def follow_on_fields(
    state: dict[str, FollowOnState], catalogue: Catalogue, as_of: datetime
) -> Iterable[dict[str, object]]:
    for follow_on in catalogue.follow_ons:
        bought = state.get(follow_on_key(follow_on))
        if bought is None:
            continue
        days_since = days(bought.since, as_of)
        yield {
            "after_category": follow_on.after,
            "then_category": follow_on.then,
            "days_since_after": days_since,
            "typical_after_days": follow_on.typical_after_days,
            "days_until_typical": round(follow_on.typical_after_days - days_since, 2),
            "then_purchases": bought.then_purchases,
        }
