"""Facts as of a moment: pure functions of the events, the catalogue and the time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine.catalogue import Catalogue
from engine.events import Complaint, Event, LineItem, ProfileUpdate, Purchase, ServiceVisit
from engine.features.derive import Touch, derive_facts
from engine.ruleset.loader import load_rule_set
from tests.conftest import RULES

AS_OF = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)  # a daylight-saving change in Europe; UTC is unaffected
CATALOGUE: Catalogue = load_rule_set(RULES).catalogue
_n = iter(range(10**6))


def _event(days_ago: float, payload, customer: str = "c") -> Event:
    return Event(
        event_id=f"e{next(_n)}", customer_id=customer, occurred_at=AS_OF - timedelta(days=days_ago), payload=payload
    )


def _bought(days_ago: float, product: str, quantity: float = 1, price: float = 10) -> Event:
    return _event(days_ago, Purchase(items=[LineItem(product_id=product, quantity=quantity, unit_price=price)]))


def _facts(*events: Event, as_of: datetime = AS_OF) -> dict[str, dict]:
    return {
        f["subject"] + ":" + str(i): f
        for i, f in enumerate(derive_facts(events, CATALOGUE, as_of, Touch("pos", "till-3", {"store": "s1"})))
    }


def _of(facts: dict[str, dict], subject: str) -> list[dict]:
    return [f[subject] for f in facts.values() if f["subject"] == subject]


def test_an_unknown_customer_has_only_a_customer_fact():
    [fact] = _facts().values()

    assert fact["subject"] == "customer"
    assert fact["customer"]["purchase_count"] == 0
    assert "days_since_last_purchase" not in fact["customer"]
    assert fact["touchpoint"] == {"channel": "pos", "name": "till-3"}
    assert fact["context"] == {"store": "s1"}


def test_an_asset_counts_days_until_service_from_purchase_or_last_visit():
    purchase = _bought(400, "boiler-ecotherm-30")
    never_serviced = _of(_facts(purchase), "asset")[0]
    serviced = _of(_facts(purchase, _event(30, ServiceVisit(product_id="boiler-ecotherm-30"))), "asset")[0]

    assert never_serviced["days_until_service"] == -35
    assert never_serviced["service_interval_days"] == 365
    assert never_serviced["age_days"] == 400
    assert serviced["days_until_service"] == 335
    assert serviced["service_count"] == 1


def test_an_asset_without_interval_has_no_due_date():
    [printer] = _of(_facts(_bought(10, "printer-deskjet-2720")), "asset")

    assert "days_until_service" not in printer
    assert printer["category"] == "printer"


def test_a_consumable_bought_once_uses_the_catalogue_period_times_quantity():
    [ink] = _of(_facts(_bought(50, "ink-305-black", quantity=2)), "consumable")

    assert (ink["days_per_unit"], ink["cadence_source"]) == (60, "catalogue")
    assert ink["days_until_runout"] == 70  # 2 x 60 - 50


def test_a_consumable_bought_repeatedly_uses_the_customers_median_cadence_per_unit():
    history = [
        _bought(200, "coffee-beans-1kg", quantity=2),
        _bought(160, "coffee-beans-1kg"),
        _bought(140, "coffee-beans-1kg"),
        _bought(100, "coffee-beans-1kg"),
    ]

    [coffee] = _of(_facts(*history), "consumable")

    # gaps per unit: 40/2 = 20, 20/1 = 20, 40/1 = 40 -> median 20
    assert (coffee["days_per_unit"], coffee["cadence_source"]) == (20, "customer")
    assert coffee["days_until_runout"] == -80


def test_a_follow_on_counts_what_was_bought_since_the_trigger():
    facts = _facts(_bought(250, "stroller-city-go"), _bought(300, "car-seat-isize"))
    [follow_on] = _of(facts, "follow_on")

    assert follow_on["then_purchases"] == 0  # the car seat came before the stroller
    assert follow_on["days_until_typical"] == 20
    assert follow_on["days_since_after"] == 250


def test_events_after_as_of_are_ignored():
    facts = _facts(_bought(10, "boiler-ecotherm-30"), as_of=AS_OF - timedelta(days=11))

    assert _of(facts, "asset") == []


def test_out_of_order_events_give_the_same_facts():
    events = [
        _bought(200, "coffee-beans-1kg"),
        _bought(170, "coffee-beans-1kg"),
        _bought(100, "coffee-beans-1kg"),
        _bought(400, "boiler-ecotherm-30"),
    ]

    assert _facts(*events) == _facts(*reversed(events))


def test_customer_fields_follow_complaints_profile_and_spend():
    events = [
        _bought(10, "ink-305-black", quantity=2, price=17.5),
        _event(9, Complaint(complaint_id="k1", state="opened")),
        _event(8, Complaint(complaint_id="k2", state="opened")),
        _event(7, Complaint(complaint_id="k1", state="resolved")),
        _event(6, ProfileUpdate(first_name="Ada")),
        _event(5, ProfileUpdate(language="fr")),
    ]

    customer = next(iter(_facts(*events).values()))["customer"]

    assert customer == {
        "purchase_count": 1,
        "total_spent": 35.0,
        "open_complaints": 1,
        "first_name": "Ada",
        "language": "fr",
        "days_since_last_purchase": 10,
    }
