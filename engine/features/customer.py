"""The customer's own facts: spend, reviews, complaints, orders, contacts, profile and consent.

Each part is state folded from the customer's events in time order (`apply`) and read
as of a decision time no earlier than the latest event folded (`fields`).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

import msgspec

from engine.events import Complaint, ContactMade, ContactOutcome, Event, OrderStatus, ProfileUpdate, Review
from engine.features.timeline import days
from engine.features.windows import DailyTotals, day_of, first_day, forget_unreachable
from engine.vocabulary import Channel, Outcome

NEGATIVE_RATING = 2  # a review rated this or lower is negative
RESPONSES = frozenset({Outcome.ACCEPTED, Outcome.CONVERTED})
# What tells when a customer reads and answers: the hours to send at.
ATTENTIVE = frozenset({Outcome.OPENED, Outcome.ACCEPTED, Outcome.CONVERTED})
KEPT_PER_CHANNEL = 50  # the latest contacts kept per channel: the most a frequency cap may allow
KEPT_RESPONSE_TIMES = 20
SENT_MEMORY_DAYS = 365  # the longest cooldown


class Spend(msgspec.Struct):
    """Recency, frequency and monetary value."""

    purchases: int = 0
    spent: float = 0.0
    last_at: datetime | None = None
    daily: DailyTotals = msgspec.field(default_factory=DailyTotals)

    def apply(self, at: datetime, amount: float) -> None:
        self.purchases += 1
        self.spent += amount
        self.last_at = at
        self.daily.add(at, 1, amount)

    def fields(self, as_of: datetime) -> dict[str, object]:
        recent, recent_spent = self.daily.within(as_of, 365)
        fields: dict[str, object] = {
            "purchase_count": self.purchases,
            "total_spent": round(self.spent, 2),
            "purchases_last_365_days": int(recent),
            "spent_last_365_days": round(recent_spent, 2),
        }
        if self.last_at is not None:
            fields["days_since_last_purchase"] = days(self.last_at, as_of)
            fields["average_purchase_value"] = round(self.spent / self.purchases, 2)
        return fields


class Reviews(msgspec.Struct):
    count: int = 0
    rating_sum: int = 0
    last_rating: int = 0
    last_at: datetime | None = None
    negative: DailyTotals = msgspec.field(default_factory=DailyTotals)

    def apply(self, event: Event, review: Review) -> None:
        self.count += 1
        self.rating_sum += review.rating
        self.last_rating = review.rating
        self.last_at = event.occurred_at
        if review.rating <= NEGATIVE_RATING:
            self.negative.add(event.occurred_at, keep_days=90)

    def fields(self, as_of: datetime) -> dict[str, object]:
        fields: dict[str, object] = {
            "review_count": self.count,
            "negative_reviews_last_90_days": int(self.negative.within(as_of, 90)[0]),
        }
        if self.last_at is not None:
            fields["average_rating"] = round(self.rating_sum / self.count, 2)
            fields["last_rating"] = self.last_rating
            fields["days_since_last_review"] = days(self.last_at, as_of)
        return fields


class Complaints(msgspec.Struct):
    open_ids: list[str] = msgspec.field(default_factory=list)
    # UTC day -> the ids of the complaints opened that day
    opened: dict[int, list[str]] = msgspec.field(default_factory=dict)
    last_opened_at: datetime | None = None

    def apply(self, event: Event, complaint: Complaint) -> None:
        """A complaint is open when the latest word on its id is "opened"."""
        if complaint.complaint_id in self.open_ids:
            self.open_ids.remove(complaint.complaint_id)
        if complaint.state == "opened":
            self.open_ids.append(complaint.complaint_id)
            self.opened.setdefault(day_of(event.occurred_at), []).append(complaint.complaint_id)
            forget_unreachable(self.opened, lambda day, _: day, event.occurred_at, 90)
            self.last_opened_at = event.occurred_at

    def about_contact(self, event: Event) -> None:
        """A complaint made by answering a contact: counted and suppressing like one opened, never open."""
        self.opened.setdefault(day_of(event.occurred_at), []).append(f"contact {event.event_id}")
        forget_unreachable(self.opened, lambda day, _: day, event.occurred_at, 90)
        self.last_opened_at = event.occurred_at

    def fields(self, as_of: datetime) -> dict[str, object]:
        start = first_day(as_of, 90)
        recent = {c for day, ids in self.opened.items() if day >= start for c in ids}
        fields: dict[str, object] = {"open_complaints": len(self.open_ids), "complaints_last_90_days": len(recent)}
        if self.last_opened_at is not None:
            fields["days_since_last_complaint"] = days(self.last_opened_at, as_of)
        return fields


class Orders(msgspec.Struct):
    delayed_ids: list[str] = msgspec.field(default_factory=list)
    last_delivered_at: datetime | None = None

    def apply(self, event: Event, status: OrderStatus) -> None:
        """An order is delayed while the latest word on it is "delayed"."""
        if status.order_id in self.delayed_ids:
            self.delayed_ids.remove(status.order_id)
        if status.state == "delayed":
            self.delayed_ids.append(status.order_id)
        elif status.state == "delivered":
            self.last_delivered_at = event.occurred_at

    def fields(self, as_of: datetime) -> dict[str, object]:
        fields: dict[str, object] = {"delayed_orders": len(self.delayed_ids)}
        if self.last_delivered_at is not None:
            fields["days_since_last_delivery"] = days(self.last_delivered_at, as_of)
        return fields


class Contact(msgspec.Struct, array_like=True):
    day: int  # of its first outcome
    channel: str = ""  # the first that an outcome report names
    responded: bool = False


class Contacts(msgspec.Struct):
    """Contacts and response rates per channel.

    A contact is one action (decision id and action id) with at least one outcome,
    dated by its first outcome; an outcome that names no action is a contact of its own.
    A contact is remembered for a year after its first outcome.
    """

    by_action: dict[str, Contact] = msgspec.field(default_factory=dict)
    # action id (rule and subject) -> when the customer last dismissed it, for a year
    dismissed: dict[str, datetime] = msgspec.field(default_factory=dict)

    def apply(self, event: Event, outcome: ContactOutcome) -> None:
        action = (
            f"{outcome.decision_id} {outcome.action_id}"
            if outcome.decision_id or outcome.action_id
            else f"event {event.event_id}"
        )
        contact = self.by_action.get(action)
        if contact is None:
            contact = self.by_action[action] = Contact(day_of(event.occurred_at))
            forget_unreachable(self.by_action, lambda _, c: c.day, event.occurred_at, 365)
        if not contact.channel and outcome.channel:
            contact.channel = outcome.channel.value
        contact.responded = contact.responded or outcome.outcome in RESPONSES
        if outcome.outcome is Outcome.DISMISSED and outcome.action_id:
            self.dismissed[outcome.action_id] = event.occurred_at
            forget_unreachable(self.dismissed, lambda _, at: day_of(at), event.occurred_at, 365)

    def days_since_dismissed(self, action_id: str, as_of: datetime) -> float | None:
        dismissed = self.dismissed.get(action_id)
        return None if dismissed is None else days(dismissed, as_of)

    def fields(self, as_of: datetime) -> dict[str, object]:
        month, year = first_day(as_of, 30), first_day(as_of, 365)
        responses: dict[str, list[bool]] = {}
        for contact in self.by_action.values():
            if contact.channel and contact.day >= year:
                responses.setdefault(contact.channel, []).append(contact.responded)
        fields: dict[str, object] = {"contacts_last_30_days": sum(1 for c in self.by_action.values() if c.day >= month)}
        for name, responded in sorted(responses.items()):
            fields[f"{name}_response_rate"] = round(sum(responded) / len(responded), 2)
        return fields


class ContactHistory(msgspec.Struct):
    """What was sent to the customer, and when they answered: for caps, cooldowns and send times.

    A contact made is an action a decision returned or held out, or one a calling system
    reported (events.ContactMade), dated by its decision. Kept: the latest contacts per
    channel, when each action and family was last sent (for a year), and the latest
    moments the customer opened, accepted or converted.
    """

    by_channel: dict[str, list[datetime]] = msgspec.field(default_factory=dict)  # oldest first
    action_sent: dict[str, datetime] = msgspec.field(default_factory=dict)
    family_sent: dict[str, datetime] = msgspec.field(default_factory=dict)
    attentive_at: list[datetime] = msgspec.field(default_factory=list)  # oldest first

    def made(self, event: Event, contact: ContactMade) -> None:
        at = event.occurred_at
        sent = self.by_channel.setdefault(contact.channel.value, [])
        sent.append(at)
        del sent[:-KEPT_PER_CHANNEL]
        if contact.action_id:
            self.action_sent[contact.action_id] = at
            forget_unreachable(self.action_sent, lambda _, sent_at: day_of(sent_at), at, SENT_MEMORY_DAYS)
        if contact.family is not None:
            self.family_sent[contact.family.value] = at

    def answered(self, event: Event, outcome: ContactOutcome) -> None:
        if outcome.outcome in ATTENTIVE:
            self.attentive_at.append(event.occurred_at)
            del self.attentive_at[:-KEPT_RESPONSE_TIMES]

    def count(self, channels: Collection[str], since: datetime) -> int:
        """Contacts made on these channels after `since`."""
        return sum(1 for channel in channels for at in self.by_channel.get(channel, ()) if at > since)


class Profile(msgspec.Struct):
    """The latest word on each profile field and on each channel's consent."""

    said: dict[str, str | int] = msgspec.field(
        default_factory=lambda: {
            "first_name": "",
            "language": "",
            "time_zone": "",
            "preferred_channel": "",
            "status": "",
        }
    )

    def apply(self, update: ProfileUpdate) -> None:
        said = {
            "first_name": update.first_name,
            "language": update.language,
            "time_zone": update.time_zone,
            "preferred_channel": update.preferred_channel.value if update.preferred_channel else "",
            "status": update.status,
        }
        self.said.update((name, value) for name, value in said.items() if value)
        self.said.update((f"{channel.value}_consent", 1) for channel in update.consent_granted)
        # Applied last, so an update that both grants and withdraws a channel withdraws it.
        self.said.update((f"{channel.value}_consent", 0) for channel in update.consent_withdrawn)

    def unsubscribed(self, channel: Channel) -> None:
        self.said[f"{channel.value}_consent"] = 0

    def fields(self) -> dict[str, object]:
        return dict(self.said)
