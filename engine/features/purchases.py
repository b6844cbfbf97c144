"""Facts from what the customer bought: consumables, product categories and follow-on purchases."""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict
from collections.abc import Collection, Iterable
from datetime import datetime

from engine.catalogue import Catalogue, Product
from engine.features.timeline import Bought, days, purchases_of, spent_on, within


def consumables(bought: list[Bought], as_of: datetime) -> Iterable[dict[str, object]]:
    by_product: dict[str, list[Bought]] = defaultdict(list)
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
            "days_since_purchase": days(last.event.occurred_at, as_of),
        }
        days_per_unit, source = _days_per_unit(purchases, product)
        if days_per_unit is not None:
            fields["days_per_unit"] = days_per_unit
            fields["cadence_source"] = source
            fields["days_until_runout"] = round(days_per_unit * last.quantity - days(last.event.occurred_at, as_of), 2)
        yield fields


def _days_per_unit(purchases: list[Bought], product: Product) -> tuple[float | None, str]:
    """The customer's own cadence when they bought at least twice, else the catalogue's."""
    gaps = [
        days(earlier.event.occurred_at, later.event.occurred_at) / earlier.quantity
        for earlier, later in itertools.pairwise(purchases)
        if later.event.occurred_at > earlier.event.occurred_at
    ]
    if gaps:
        return round(statistics.median(gaps), 2), "customer"
    if product.consumption_period_days is not None:
        return float(product.consumption_period_days), "catalogue"
    return None, ""


def categories(bought: list[Bought], wanted: Collection[str], as_of: datetime) -> Iterable[dict[str, object]]:
    """One field set per category bought in, and per wanted category even if never bought in."""
    by_category: dict[str, list[Bought]] = {name: [] for name in wanted}
    for b in bought:
        if b.category:
            by_category.setdefault(b.category, []).append(b)
    for name, lines in by_category.items():
        recent = [b for b in lines if within(b.event, as_of, 365)]
        fields: dict[str, object] = {
            "name": name,
            "purchase_count": purchases_of(lines),
            "quantity": sum(b.quantity for b in lines),
            "total_spent": spent_on(lines),
            "purchases_last_365_days": purchases_of(recent),
            "spent_last_365_days": spent_on(recent),
        }
        if lines:
            fields["days_since_last_purchase"] = days(lines[-1].event.occurred_at, as_of)
        yield fields


def follow_ons(bought: list[Bought], catalogue: Catalogue, as_of: datetime) -> Iterable[dict[str, object]]:
    for follow_on in catalogue.follow_ons:
        triggers = [b for b in bought if b.category == follow_on.after]
        if not triggers:
            continue
        since = triggers[-1].event.occurred_at
        days_since = days(since, as_of)
        yield {
            "after_category": follow_on.after,
            "then_category": follow_on.then,
            "days_since_after": days_since,
            "typical_after_days": follow_on.typical_after_days,
            "days_until_typical": round(follow_on.typical_after_days - days_since, 2),
            "then_purchases": sum(1 for b in bought if b.category == follow_on.then and b.event.occurred_at >= since),
        }
