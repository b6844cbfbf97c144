"""The contact policy's limits on what is sent to a customer: consent, frequency caps, each
channel's daily capacity, and cooldowns per action and family.

Contacts count from the customer's contact history (features/customer.ContactHistory):
every action a decision returned or held out, on any replica sharing the store, and
those calling systems report. Limits apply to what Forestall sends: never to the
channel the customer is on now, who came to us.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from engine.decision.types import Action, DecideRequest
from engine.features.state import CustomerState
from engine.features.timeline import days
from engine.policy import Policy
from engine.store.base import Store
from engine.vocabulary import Channel


class Capacity(Protocol):
    """Each channel's daily capacity, counted across every replica."""

    def taken(self, channel: Channel, day: date) -> int: ...

    def take(self, channel: Channel, day: date, limit: int) -> bool:
        """Take one of the day's `limit` slots; whether one was left."""


@dataclass(frozen=True)
class StoreCapacity:
    """Capacity counted in the store every replica shares."""

    store: Store

    def taken(self, channel: Channel, day: date) -> int:
        return self.store.slots_taken(_counter(channel, day))

    def take(self, channel: Channel, day: date, limit: int) -> bool:
        return self.store.take_slot(_counter(channel, day), limit)


@dataclass(frozen=True)
class LookingCapacity(StoreCapacity):
    """Capacity as it stands, taking nothing: for explaining a decision without making it."""

    def take(self, channel: Channel, day: date, limit: int) -> bool:
        return self.taken(channel, day) < limit


def _counter(channel: Channel, day: date) -> str:
    return f"capacity:{channel.value}:{day.isoformat()}"


def capacity_day(moment: datetime, policy: Policy) -> date:
    """The day whose capacity an action sent at `moment` takes: a day of the policy's default time zone."""
    return moment.astimezone(ZoneInfo(policy.contact.default_time_zone)).date()


def closed_channels(
    policy: Policy, state: CustomerState, request: DecideRequest, capacity: Capacity
) -> dict[Channel, str]:
    """The channels nothing may be sent on now, each with why, in words: an excluded account status,
    consent withdrawn (or unsubscribed), a frequency cap reached, or today's capacity taken. The channel
    the customer is on now is always open."""
    today = capacity_day(request.as_of, policy)
    capped = Caps(policy, state, request.as_of).capped(Counter())
    status = state.profile.said.get("status")
    closed: dict[Channel, str] = {}
    for channel in Channel:
        if channel == request.channel:
            continue
        if status in policy.eligibility.excluded_statuses:
            closed[channel] = f"eligibility: the customer's status is {status}"
        elif policy.eligibility.respect_consent and state.profile.said.get(f"{channel.value}_consent") == 0:
            closed[channel] = "consent withdrawn"
        elif channel in capped:
            closed[channel] = capped[channel]
        elif channel in policy.contact.capacity:
            limit = policy.contact.capacity[channel]
            if capacity.taken(channel, today) >= limit:
                closed[channel] = f"capacity: the {limit} {channel.value} action(s) of {today} are taken"
    return closed


class Caps:
    """The frequency caps as they stand for a customer at a moment: the contacts each counts, counted once."""

    def __init__(self, policy: Policy, state: CustomerState, as_of: datetime) -> None:
        self.counted = [
            (cap, state.sent.count([c.value for c in cap.channels], as_of - timedelta(days=cap.days)))
            for cap in policy.contact.caps
        ]

    def capped(self, sending: Counter[Channel]) -> dict[Channel, str]:
        """The channels a cap closes once this decision's better-ranked actions (`sending`) are counted, with why."""
        capped: dict[Channel, str] = {}
        for cap, made in self.counted:
            made += sum(sending[c] for c in cap.channels)
            if made < cap.at_most:
                continue
            on = "/".join(c.value for c in cap.channels)
            why = f"frequency cap: {made} {on} contact(s) in the last {cap.days:g} days (at most {cap.at_most})"
            for channel in cap.channels:
                capped.setdefault(channel, why)
        return capped


def cooling_down(action: Action, policy: Policy, state: CustomerState, as_of: datetime) -> str | None:
    """Why the action's own cooldown, or its family's, keeps it from being sent again yet."""
    cooldown = policy.contact.cooldown
    sent = state.sent.action_sent.get(action.action_id)
    if sent is not None and days(sent, as_of) < cooldown.action_days:
        return f"cooldown: sent {days(sent, as_of):g} days ago ({cooldown.action_days:g} days)"
    family_days = cooldown.families.get(action.family, 0)
    family_sent = state.sent.family_sent.get(action.family.value)
    if family_sent is not None and days(family_sent, as_of) < family_days:
        return (
            f"cooldown: an action of the family {action.family.value} was sent"
            f" {days(family_sent, as_of):g} days ago ({family_days:g} days)"
        )
    return None
