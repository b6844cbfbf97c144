"""Category facts over the last 365 days, against hand-computed values."""

from __future__ import annotations

from engine.events import LineItem, Purchase
from engine.features.derive import Scope, Touch, derive_facts
from tests.features.builders import AS_OF, CATALOGUE, bought, event, facts, of


def test_a_category_counts_its_purchases_and_spend_in_the_last_365_days():
    basket = event(
        30,
        Purchase(
            items=[
                LineItem(product_id="ink-305-black", quantity=2, unit_price=15),
                LineItem(product_id="ink-305-black", quantity=1, unit_price=15),
                LineItem(product_id="coffee-beans-1kg", quantity=1, unit_price=12),
            ]
        ),
    )
    events = [basket, bought(200, "ink-305-black", price=14), bought(500, "ink-305-black", price=13)]

    [ink] = [c for c in of(facts(*events), "category") if c["name"] == "printer_ink"]

    assert (ink["purchase_count"], ink["purchases_last_365_days"]) == (3, 2)  # two lines of one basket: one purchase
    assert (ink["total_spent"], ink["spent_last_365_days"]) == (72, 59)


def test_a_category_never_bought_in_has_zero_counts_and_no_recency():
    derived = derive_facts(
        [bought(3, "tent-trail-2p")], CATALOGUE, AS_OF, Touch(None), scope=Scope(["category"], ["printer_ink"])
    )

    [ink] = [f["category"] for f in derived if f["category"]["name"] == "printer_ink"]

    assert ink == {
        "name": "printer_ink",
        "purchase_count": 0,
        "quantity": 0,
        "total_spent": 0,
        "purchases_last_365_days": 0,
        "spent_last_365_days": 0,
    }
