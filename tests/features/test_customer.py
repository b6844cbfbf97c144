"""The customer's facts, against hand-computed values: RFM, reviews, complaints, orders, contacts, profile."""

from __future__ import annotations

from engine.events import Complaint, ContactOutcome, LineItem, OrderStatus, ProfileUpdate, Purchase, Review
from engine.vocabulary import Channel, Outcome
from tests.features.builders import bought, customer, event


def _outcome(days_ago: float, action: str, outcome: Outcome, channel: Channel | None = Channel.EMAIL):
    return event(days_ago, ContactOutcome(decision_id="d1", action_id=action, outcome=outcome, channel=channel))


# ---- recency, frequency, monetary ---------------------------------------------------------------


def test_a_customer_without_events_has_counts_of_zero_and_nothing_that_needs_an_event():
    assert customer() == {
        "purchase_count": 0,
        "total_spent": 0,
        "purchases_last_365_days": 0,
        "spent_last_365_days": 0,
        "review_count": 0,
        "negative_reviews_last_90_days": 0,
        "open_complaints": 0,
        "complaints_last_90_days": 0,
        "delayed_orders": 0,
        "contacts_last_30_days": 0,
        "first_name": "",
        "language": "",
        "time_zone": "",
        "preferred_channel": "",
        "status": "",
    }


def test_spend_counts_purchases_not_lines_and_the_last_365_days_exclude_their_first_moment():
    basket = event(
        10,
        Purchase(
            items=[
                LineItem(product_id="coffee-beans-1kg", quantity=2, unit_price=12.5),
                LineItem(product_id="ink-305-black", quantity=1, unit_price=20),
            ]
        ),
    )
    events = [basket, bought(365, "tent-trail-2p", price=100), bought(364.5, "tent-trail-2p", price=30)]

    fields = customer(*events)

    assert fields["purchase_count"] == 3
    assert fields["total_spent"] == 175  # 2 x 12.5 + 20 + 100 + 30
    assert fields["purchases_last_365_days"] == 2  # the one exactly 365 days ago is out
    assert fields["spent_last_365_days"] == 75
    assert fields["average_purchase_value"] == 58.33  # 175 / 3
    assert fields["days_since_last_purchase"] == 10


def test_the_last_365_days_are_whole_utc_days_ending_with_the_decision_day():
    # AS_OF is 12:00 UTC: the window starts at 00:00 UTC 364 days before its day.
    fields = customer(bought(364.48, "tent-trail-2p", price=1), bought(364.52, "tent-trail-2p", price=10))

    assert (fields["purchases_last_365_days"], fields["spent_last_365_days"]) == (1, 1)


def test_a_customer_whose_purchases_are_all_older_than_a_year_has_no_recent_spend():
    fields = customer(bought(400, "tent-trail-2p", price=100))

    assert (fields["purchases_last_365_days"], fields["spent_last_365_days"]) == (0, 0)
    assert fields["average_purchase_value"] == 100


# ---- reviews ------------------------------------------------------------------------------------


def test_a_review_only_customer_has_review_facts_and_no_spend():
    events = [
        event(200, Review(rating=1)),
        event(80, Review(rating=2, product_id="tent-trail-2p")),
        event(30, Review(rating=5)),
        event(20, Review(rating=3, text="fine")),
    ]

    fields = customer(*events)

    assert fields["review_count"] == 4
    assert fields["average_rating"] == 2.75
    assert fields["last_rating"] == 3
    assert fields["days_since_last_review"] == 20
    assert fields["negative_reviews_last_90_days"] == 1  # the 1-star one is 200 days old
    assert fields["purchase_count"] == 0
    assert "average_purchase_value" not in fields


def test_without_reviews_there_is_no_rating():
    fields = customer(bought(1, "tent-trail-2p"))

    assert not {"average_rating", "last_rating", "days_since_last_review"} & fields.keys()


# ---- complaints ---------------------------------------------------------------------------------


def test_complaints_count_openings_per_id_over_90_days_and_open_ones_by_their_latest_state():
    events = [
        event(120, Complaint(complaint_id="old", state="opened")),
        event(60, Complaint(complaint_id="k1", state="opened")),
        event(50, Complaint(complaint_id="k1", state="resolved")),
        event(40, Complaint(complaint_id="k1", state="opened")),  # reopened: still one complaint
        event(30, Complaint(complaint_id="k2", state="opened")),
        event(10, Complaint(complaint_id="k2", state="resolved")),
    ]

    fields = customer(*events)

    assert fields["open_complaints"] == 2  # old and k1
    assert fields["complaints_last_90_days"] == 2  # k1 and k2
    assert fields["days_since_last_complaint"] == 30  # a resolution is not a complaint


def test_a_resolution_alone_is_not_a_complaint():
    fields = customer(event(5, Complaint(complaint_id="k", state="resolved")))

    assert (fields["open_complaints"], fields["complaints_last_90_days"]) == (0, 0)
    assert "days_since_last_complaint" not in fields


# ---- order status -------------------------------------------------------------------------------


def test_delayed_orders_are_those_whose_latest_status_is_delayed():
    events = [
        event(9, OrderStatus(order_id="o1", state="placed")),
        event(8, OrderStatus(order_id="o1", state="delayed")),
        event(7, OrderStatus(order_id="o2", state="delayed")),
        event(3, OrderStatus(order_id="o2", state="delivered")),
        event(2, OrderStatus(order_id="o3", state="delayed")),
        event(1, OrderStatus(order_id="o3", state="cancelled")),
    ]

    fields = customer(*events)

    assert fields["delayed_orders"] == 1  # o1
    assert fields["days_since_last_delivery"] == 3


def test_without_a_delivery_there_are_no_days_since_one():
    assert "days_since_last_delivery" not in customer(event(1, OrderStatus(order_id="o", state="shipped")))


# ---- contact outcomes ---------------------------------------------------------------------------


def test_response_rates_are_per_channel_over_contacts_with_a_first_outcome_in_the_last_365_days():
    events = [
        _outcome(20, "a1", Outcome.DELIVERED),
        _outcome(19, "a1", Outcome.ACCEPTED, channel=None),  # the contact's channel comes from its other outcome
        _outcome(15, "a2", Outcome.DELIVERED),
        _outcome(15, "a2", Outcome.OPENED),
        _outcome(10, "a3", Outcome.DELIVERED),
        _outcome(9, "a3", Outcome.CONVERTED),
        _outcome(400, "a4", Outcome.DELIVERED),  # first outcome over a year ago: not counted...
        _outcome(300, "a4", Outcome.CONVERTED),  # ...even though this one is recent
        _outcome(40, "s1", Outcome.DELIVERED, channel=Channel.SMS),
        _outcome(40, "s1", Outcome.DISMISSED, channel=Channel.SMS),
        _outcome(5, "c1", Outcome.ACCEPTED, channel=Channel.CALL_CENTRE),
    ]

    fields = customer(*events)

    assert fields["email_response_rate"] == 0.67  # a1, a3 of a1, a2, a3
    assert fields["sms_response_rate"] == 0
    assert fields["call_centre_response_rate"] == 1
    assert "push_response_rate" not in fields  # never contacted by push
    assert fields["contacts_last_30_days"] == 4  # a1, a2, a3, c1


def test_an_outcome_naming_no_action_is_a_contact_of_its_own_and_one_naming_no_channel_has_no_rate():
    events = [
        event(3, ContactOutcome(outcome=Outcome.DELIVERED, channel=Channel.SMS)),
        event(2, ContactOutcome(outcome=Outcome.CONVERTED, channel=Channel.SMS)),
        event(1, ContactOutcome(decision_id="d", action_id="x", outcome=Outcome.OPENED)),
    ]

    fields = customer(*events)

    assert fields["contacts_last_30_days"] == 3
    assert fields["sms_response_rate"] == 0.5
    assert not [name for name in fields if name.endswith("_response_rate") and name != "sms_response_rate"]


# ---- profile and consent ------------------------------------------------------------------------


def test_profile_fields_keep_the_latest_word_and_consent_the_latest_per_channel():
    events = [
        event(30, ProfileUpdate(time_zone="Europe/Paris", preferred_channel=Channel.EMAIL)),
        event(20, ProfileUpdate(consent_granted=[Channel.EMAIL, Channel.SMS])),
        event(10, ProfileUpdate(consent_withdrawn=[Channel.SMS], preferred_channel=Channel.SMS)),
        event(5, ProfileUpdate(first_name="Ada", consent_granted=[Channel.PUSH], consent_withdrawn=[Channel.PUSH])),
    ]

    fields = customer(*events)

    assert fields["time_zone"] == "Europe/Paris"  # later updates say nothing of it
    assert fields["preferred_channel"] == "sms"
    assert fields["email_consent"] == 1
    assert fields["sms_consent"] == 0
    assert fields["push_consent"] == 0  # granted and withdrawn at once: withdrawn
    assert "mail_consent" not in fields  # never said


def test_same_moment_profile_updates_are_read_in_event_id_order():
    granted = event(3, ProfileUpdate(consent_granted=[Channel.EMAIL])).model_copy(update={"event_id": "a"})
    withdrawn = granted.model_copy(
        update={"event_id": "b", "payload": ProfileUpdate(consent_withdrawn=[Channel.EMAIL])}
    )

    assert customer(withdrawn, granted)["email_consent"] == 0
    assert customer(granted.model_copy(update={"event_id": "c"}), withdrawn)["email_consent"] == 1
