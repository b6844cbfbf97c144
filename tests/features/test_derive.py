"""Facts as of a moment: pure functions of the events, the catalogue and the time."""

from __future__ import annotations

from datetime import timedelta

from engine.events import Complaint, ContactMade, ProfileUpdate, Review, ServiceVisit
from engine.vocabulary import Channel
from tests.features.builders import AS_OF, bought, customer, event, facts, of


def test_an_unknown_customer_has_only_a_customer_fact():
    [fact] = facts().values()

    assert fact["subject"] == "customer"
    assert fact["customer"]["purchase_count"] == 0
    assert "days_since_last_purchase" not in fact["customer"]
    assert fact["touchpoint"] == {"channel": "pos", "name": "till-3"}
    assert fact["context"] == {"store": "s1"}


def test_an_asset_counts_days_until_service_from_purchase_or_last_visit():
    purchase = bought(400, "boiler-ecotherm-30")
    never_serviced = of(facts(purchase), "asset")[0]
    serviced = of(facts(purchase, event(30, ServiceVisit(product_id="boiler-ecotherm-30"))), "asset")[0]

    assert never_serviced["days_until_service"] == -35
    assert never_serviced["service_interval_days"] == 365
    assert never_serviced["age_days"] == 400
    assert serviced["days_until_service"] == 335
    assert serviced["service_count"] == 1


def test_an_asset_without_interval_has_no_due_date():
    [printer] = of(facts(bought(10, "printer-deskjet-2720")), "asset")

    assert "days_until_service" not in printer
    assert printer["category"] == "printer"


def test_a_consumable_bought_once_uses_the_catalogue_period_times_quantity():
    [ink] = of(facts(bought(50, "ink-305-black", quantity=2)), "consumable")

    assert (ink["days_per_unit"], ink["cadence_source"]) == (60, "catalogue")
    assert ink["days_until_runout"] == 70  # 2 x 60 - 50


def test_a_consumable_bought_repeatedly_uses_the_customers_median_cadence_per_unit():
    history = [
        bought(200, "coffee-beans-1kg", quantity=2),
        bought(160, "coffee-beans-1kg"),
        bought(140, "coffee-beans-1kg"),
        bought(100, "coffee-beans-1kg"),
    ]

    [coffee] = of(facts(*history), "consumable")

    # gaps per unit: 40/2 = 20, 20/1 = 20, 40/1 = 40 -> median 20
    assert (coffee["days_per_unit"], coffee["cadence_source"]) == (20, "customer")
    assert coffee["days_until_runout"] == -80


def test_a_follow_on_counts_what_was_bought_since_the_trigger():
    derived = facts(bought(250, "stroller-city-go"), bought(300, "car-seat-isize"))
    [follow_on] = of(derived, "follow_on")

    assert follow_on["then_purchases"] == 0  # the car seat came before the stroller
    assert follow_on["days_until_typical"] == 20
    assert follow_on["days_since_after"] == 250


def test_events_after_as_of_are_ignored():
    derived = facts(bought(10, "boiler-ecotherm-30"), as_of=AS_OF - timedelta(days=11))

    assert of(derived, "asset") == []


def test_out_of_order_events_give_the_same_facts():
    events = [
        bought(200, "coffee-beans-1kg"),
        bought(170, "coffee-beans-1kg"),
        bought(100, "coffee-beans-1kg"),
        bought(400, "boiler-ecotherm-30"),
    ]

    assert facts(*events) == facts(*reversed(events))


def test_customer_fields_follow_complaints_profile_and_spend():
    events = [
        bought(10, "ink-305-black", quantity=2, price=17.5),
        event(9, Complaint(complaint_id="k1", state="opened")),
        event(8, Complaint(complaint_id="k2", state="opened")),
        event(7, Complaint(complaint_id="k1", state="resolved")),
        event(6, ProfileUpdate(first_name="Ada")),
        event(5, ProfileUpdate(language="fr")),
    ]

    # Every customer field a rule can read, and none other.
    assert customer(*events) == {
        "purchase_count": 1,
        "total_spent": 35.0,
        "days_since_last_purchase": 10,
        "purchases_last_365_days": 1,
        "spent_last_365_days": 35.0,
        "average_purchase_value": 35.0,
        "review_count": 0,
        "negative_reviews_last_90_days": 0,
        "open_complaints": 1,
        "complaints_last_90_days": 2,
        "days_since_last_complaint": 8,
        "delayed_orders": 0,
        "contacts_last_30_days": 0,
        "first_name": "Ada",
        "language": "fr",
        "time_zone": "",
        "preferred_channel": "",
        "status": "",
    }


def test_every_fact_carries_the_latest_event_with_its_id_and_a_contact_made_is_not_it():
    review = event(3, Review(rating=1, text="It arrived broken", product_id="tent-trail-2p"))
    sent = event(1, ContactMade(channel=Channel.EMAIL, action_id="unhappy-reviewer-call:customer@x"))

    derived = facts(bought(10, "boiler-ecotherm-30"), review, sent)

    assert {f["subject"] for f in derived.values()} == {"customer", "asset", "category"}
    assert all(
        f["event"]
        == {
            "kind": "review",
            "days_ago": 3,
            "id": review.event_id,
            "product_id": "tent-trail-2p",
            "category": "tent",
            "rating": 1,
            "text": "It arrived broken",
        }
        for f in derived.values()
    )
