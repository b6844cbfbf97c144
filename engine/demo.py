"""Sample customers with histories, dated relative to `now`, for the demo and the benchmark.

A few named customers show each proactivation family; a seeded random population
makes the sweep and the benchmark realistic. Same `now` and seed, same events.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from datetime import datetime, timedelta

from engine.events import Event, LineItem, ProfileUpdate, Purchase, ServiceVisit
from engine.simulation.market import PRICES

# (customer id, what the demo shows)
SHOWCASE = {
    "demo-boiler": "maintenance due: boiler bought 350 days ago, yearly service",
    "demo-ink": "replenishment: ink bought every ~55 days, the last 55 days ago",
    "demo-stroller": "planned purchase: stroller bought 250 days ago, no car seat yet",
    "demo-coffee": "replenishment: coffee bought every 4 weeks, the last 26 days ago",
    "demo-quiet": "nothing due: boiler bought 100 days ago",
}


def _purchase(customer: str, event_id: str, at: datetime, *products: str, quantity: float = 1) -> Event:
    items = [LineItem(product_id=p, quantity=quantity, unit_price=PRICES[p]) for p in products]
    return Event(event_id=event_id, customer_id=customer, occurred_at=at, payload=Purchase(items=items))


def _profile(customer: str, at: datetime, first_name: str) -> Event:
    return Event(
        event_id=f"{customer}-profile",
        customer_id=customer,
        occurred_at=at,
        payload=ProfileUpdate(first_name=first_name, language="en", time_zone="Europe/London"),
    )


def showcase_events(now: datetime) -> list[Event]:
    def ago(days: float) -> datetime:
        return now - timedelta(days=days)

    return [
        _profile("demo-boiler", ago(400), "Ada"),
        _purchase("demo-boiler", "demo-boiler-1", ago(350), "boiler-ecotherm-30"),
        _profile("demo-ink", ago(500), "Grace"),
        _purchase("demo-ink", "demo-ink-1", ago(400), "printer-deskjet-2720", "ink-305-black"),
        _purchase("demo-ink", "demo-ink-2", ago(345), "ink-305-black"),
        _purchase("demo-ink", "demo-ink-3", ago(290), "ink-305-black"),
        _purchase("demo-ink", "demo-ink-4", ago(235), "ink-305-black", quantity=2),
        _purchase("demo-ink", "demo-ink-5", ago(125), "ink-305-black"),
        _purchase("demo-ink", "demo-ink-6", ago(55), "ink-305-black"),
        _purchase("demo-stroller", "demo-stroller-1", ago(250), "stroller-city-go"),
        _profile("demo-coffee", ago(200), "Linus"),
        *[_purchase("demo-coffee", f"demo-coffee-{n}", ago(26 + 28 * n), "coffee-beans-1kg") for n in range(5)],
        _purchase("demo-quiet", "demo-quiet-1", ago(100), "boiler-ecotherm-30"),
    ]


def population_events(now: datetime, customers: int, seed: int = 7) -> Iterator[Event]:
    """A random population: assets, consumables on a cadence, follow-on purchases, service visits."""
    rng = random.Random(seed)
    for n in range(customers):
        customer = f"cust-{n:06d}"
        numbers = itertools.count(1)

        def event_id(customer: str = customer, numbers: Iterator[int] = numbers) -> str:
            return f"{customer}-{next(numbers)}"

        if rng.random() < 0.4:
            product = rng.choice(["boiler-ecotherm-30", "heat-pump-aw8"])
            bought = rng.uniform(30, 1500)
            yield _purchase(customer, event_id(), now - timedelta(days=bought), product)
            for visit in range(int(bought // 365)):
                at = now - timedelta(days=bought - 365 * (visit + 1) + rng.uniform(-20, 20))
                if at < now:
                    payload = ServiceVisit(product_id=product)
                    yield Event(event_id=event_id(), customer_id=customer, occurred_at=at, payload=payload)
        if rng.random() < 0.5:
            product = rng.choice(["ink-305-black", "coffee-beans-1kg", "water-filter-3pack"])
            cadence = rng.uniform(20, 100)
            start = rng.uniform(cadence, 700)
            day = start
            while day > 0:
                yield _purchase(customer, event_id(), now - timedelta(days=day), product)
                day -= cadence * rng.uniform(0.8, 1.2)
        if rng.random() < 0.2:
            product = rng.choice(["stroller-city-go", "tent-trail-2p"])
            yield _purchase(customer, event_id(), now - timedelta(days=rng.uniform(1, 400)), product)
