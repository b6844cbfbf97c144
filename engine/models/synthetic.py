"""Generated customer histories with known signals, for tests, the benchmark and the sample models.

Each customer buys one to three consumable categories on a steady cadence of their
own, until they churn (a third do, at a random moment), and is contacted every few
weeks on email, SMS or push. What a model can learn, and a base rate or a
frequency heuristic cannot:

- next purchase: a purchase is due when the days since the last one near the
  customer's own gap (recency against frequency);
- churn: a churned customer's silence is long for their cadence, and many complained
  in the weeks before leaving;
- response: the channels differ, and each customer has a hidden taste for replying
  that their past response rates only hint at; churned customers rarely reply.

Same `until`, seed and customer number, same events: each customer has a random
generator of their own, so a population can be generated in chunks.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from datetime import datetime, timedelta

from engine.events import Complaint, ContactOutcome, Event, LineItem, ProfileUpdate, Purchase
from engine.vocabulary import Channel, Outcome

HISTORY_DAYS = 730
# Products of the sample catalogue (rules/catalogue.yaml), which gives their categories:
# (product id, price, typical days between purchases).
CONSUMABLES = (
    ("coffee-beans-1kg", 16.0, 30),
    ("ink-305-black", 17.5, 60),
    ("water-filter-3pack", 24.0, 90),
)
ONE_OFFS = (("stroller-city-go", 329.0), ("tent-trail-2p", 149.0), ("printer-deskjet-2720", 79.0))
# Log-odds of a reply per channel, before the customer's own taste.
CHANNEL_BASE = {Channel.EMAIL: -1.6, Channel.SMS: -0.9, Channel.PUSH: -2.2}
CHURN_SHARE = 0.35


def population(until: datetime, customers: int, seed: int = 7, first: int = 0) -> Iterator[list[Event]]:
    """The histories of customers `first` to `first + customers - 1`, each up to `until`."""
    for number in range(first, first + customers):
        yield customer_history(until, number, seed)


def customer_history(until: datetime, number: int, seed: int = 7) -> list[Event]:
    rng = random.Random(seed * 1_000_003 + number)
    customer = f"cust-{number:07d}"
    events: list[Event] = []

    def add(day: float, payload: object) -> None:
        if day <= HISTORY_DAYS:
            moment = until - timedelta(days=HISTORY_DAYS - day)
            events.append(
                Event(event_id=f"{customer}-{len(events)}", customer_id=customer, occurred_at=moment, payload=payload)
            )

    joined = rng.uniform(0, 300)
    # Days from the start of the history; beyond its end for those who stay.
    churned = rng.uniform(joined + 60, HISTORY_DAYS + 250) if rng.random() < CHURN_SHARE else math.inf
    add(joined, ProfileUpdate(first_name="Sam", consent_granted=[Channel.EMAIL, Channel.SMS, Channel.PUSH]))
    for product, price, cadence in rng.sample(CONSUMABLES, rng.choice((1, 1, 2, 2, 3))):
        gap = cadence * math.exp(rng.gauss(0, 0.35))
        day = joined + rng.uniform(0, gap)
        while day < min(churned, HISTORY_DAYS):
            quantity = rng.choice((1, 1, 1, 2))
            item = LineItem(product_id=product, quantity=quantity, unit_price=price)
            add(day, Purchase(items=[item], channel=Channel.WEB if rng.random() < 0.4 else Channel.POS))
            day += gap * quantity * rng.uniform(0.85, 1.15)
    if rng.random() < 0.2:
        product, price = rng.choice(ONE_OFFS)
        item = LineItem(product_id=product, quantity=1, unit_price=price)
        add(rng.uniform(joined, min(churned, HISTORY_DAYS)), Purchase(items=[item]))
    if churned < HISTORY_DAYS and rng.random() < 0.5:
        add(churned - rng.uniform(5, 40), Complaint(complaint_id=f"{customer}-k", state="opened", topic="delivery"))
    taste = rng.gauss(0, 1.2)
    day = joined + rng.uniform(0, 40)
    contact = 0
    while day < HISTORY_DAYS:
        channel = rng.choice(list(CHANNEL_BASE))
        odds = CHANNEL_BASE[channel] + taste + (-1.5 if day > churned else 0.5)
        replied = rng.random() < 1 / (1 + math.exp(-odds))
        outcome = Outcome.ACCEPTED if replied else rng.choice((Outcome.DELIVERED, Outcome.OPENED, Outcome.DISMISSED))
        add(day, ContactOutcome(decision_id=f"{customer}-d{contact}", action_id="a0", outcome=outcome, channel=channel))
        contact += 1
        day += rng.uniform(25, 55)
    return events
