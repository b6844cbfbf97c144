"""The customer's own facts: spend, reviews, complaints, orders, contacts, profile and consent."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import datetime

from engine.events import Complaint, ContactOutcome, Event, OrderStatus, ProfileUpdate, Review
from engine.features.timeline import Bought, days, of_kind, purchases_of, spent_on, within
from engine.vocabulary import Outcome

NEGATIVE_RATING = 2  # a review rated this or lower is negative
RESPONSES = frozenset({Outcome.ACCEPTED, Outcome.CONVERTED})


def customer_fields(history: list[Event], bought: list[Bought], as_of: datetime) -> dict[str, object]:
    """Every `customer.*` field, from the customer's timeline up to `as_of` and the lines they bought."""
    return {
        **_purchase_fields(bought, as_of),
        **_review_fields(history, as_of),
        **_complaint_fields(history, as_of),
        **_order_fields(history, as_of),
        **_contact_fields(history, as_of),
        **_profile_fields(history),
    }


def _purchase_fields(bought: list[Bought], as_of: datetime) -> dict[str, object]:
    """Recency, frequency and monetary value."""
    recent = [b for b in bought if within(b.event, as_of, 365)]
    fields: dict[str, object] = {
        "purchase_count": purchases_of(bought),
        "total_spent": spent_on(bought),
        "purchases_last_365_days": purchases_of(recent),
        "spent_last_365_days": spent_on(recent),
    }
    if bought:
        fields["days_since_last_purchase"] = days(bought[-1].event.occurred_at, as_of)
        fields["average_purchase_value"] = round(sum(b.amount for b in bought) / purchases_of(bought), 2)
    return fields


def _review_fields(history: list[Event], as_of: datetime) -> dict[str, object]:
    reviews = of_kind(history, Review)
    fields: dict[str, object] = {
        "review_count": len(reviews),
        "negative_reviews_last_90_days": sum(
            1 for e, r in reviews if r.rating <= NEGATIVE_RATING and within(e, as_of, 90)
        ),
    }
    if reviews:
        latest, review = reviews[-1]
        fields["average_rating"] = round(statistics.fmean(r.rating for _, r in reviews), 2)
        fields["last_rating"] = review.rating
        fields["days_since_last_review"] = days(latest.occurred_at, as_of)
    return fields


def _complaint_fields(history: list[Event], as_of: datetime) -> dict[str, object]:
    complaints = of_kind(history, Complaint)
    # A complaint is open when the latest word on its id is "opened".
    latest_state = {c.complaint_id: c.state for _, c in complaints}
    openings = [(e, c) for e, c in complaints if c.state == "opened"]
    fields: dict[str, object] = {
        "open_complaints": sum(1 for state in latest_state.values() if state == "opened"),
        "complaints_last_90_days": len({c.complaint_id for e, c in openings if within(e, as_of, 90)}),
    }
    if openings:
        fields["days_since_last_complaint"] = days(openings[-1][0].occurred_at, as_of)
    return fields


def _order_fields(history: list[Event], as_of: datetime) -> dict[str, object]:
    statuses = of_kind(history, OrderStatus)
    latest_state = {s.order_id: s.state for _, s in statuses}
    deliveries = [e for e, s in statuses if s.state == "delivered"]
    fields: dict[str, object] = {"delayed_orders": sum(1 for state in latest_state.values() if state == "delayed")}
    if deliveries:
        fields["days_since_last_delivery"] = days(deliveries[-1].occurred_at, as_of)
    return fields


def _contact_fields(history: list[Event], as_of: datetime) -> dict[str, object]:
    """Contacts and response rates per channel.

    A contact is one action (decision id and action id) with at least one outcome,
    dated by its first outcome; an outcome that names no action is a contact of its own.
    """
    contacts: dict[tuple[str, str], list[tuple[Event, ContactOutcome]]] = defaultdict(list)
    for event, outcome in of_kind(history, ContactOutcome):
        action = (
            (outcome.decision_id, outcome.action_id)
            if outcome.decision_id or outcome.action_id
            else ("", event.event_id)
        )
        contacts[action].append((event, outcome))
    responses: dict[str, list[bool]] = defaultdict(list)
    for outcomes in contacts.values():
        # Only some outcome reports may name the channel: the first that does speaks for the contact.
        channel = next((o.channel for _, o in outcomes if o.channel), None)
        if channel and within(outcomes[0][0], as_of, 365):
            responses[channel.value].append(any(o.outcome in RESPONSES for _, o in outcomes))
    fields: dict[str, object] = {
        "contacts_last_30_days": sum(1 for outcomes in contacts.values() if within(outcomes[0][0], as_of, 30))
    }
    for name, responded in sorted(responses.items()):
        fields[f"{name}_response_rate"] = round(sum(responded) / len(responded), 2)
    return fields


def _profile_fields(history: list[Event]) -> dict[str, object]:
    """The latest word on each profile field and on each channel's consent."""
    fields: dict[str, object] = {"first_name": "", "language": "", "time_zone": "", "preferred_channel": ""}
    for _, update in of_kind(history, ProfileUpdate):
        said = {
            "first_name": update.first_name,
            "language": update.language,
            "time_zone": update.time_zone,
            "preferred_channel": update.preferred_channel.value if update.preferred_channel else "",
        }
        fields.update((name, value) for name, value in said.items() if value)
        fields.update((f"{channel.value}_consent", 1) for channel in update.consent_granted)
        # Applied last, so an update that both grants and withdraws a channel withdraws it.
        fields.update((f"{channel.value}_consent", 0) for channel in update.consent_withdrawn)
    return fields
