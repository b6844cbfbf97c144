"""When an action goes: now on the channel the customer is on; otherwise at the hour they have
most often answered at when the policy learns it, and never in the quiet hours of their
own time zone (an action due in them goes when they end).

Hours are wall-clock hours in the customer's zone, so a send time keeps its local hour
across a daylight-saving change.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.decision.types import Action, DecideRequest
from engine.features.state import CustomerState
from engine.policy import Policy


class SendTimes:
    """When one decision's actions go; the customer's zone and answering hour are worked out once."""

    def __init__(self, policy: Policy, request: DecideRequest, state: CustomerState) -> None:
        self.policy = policy
        self.request = request
        self.zone = customer_zone(state, policy)
        self.answering_hour = _answering_hour(state, policy, self.zone)

    def timed(self, action: Action) -> Action:
        """The action with its send time, and why it was chosen in words (`reason.timing`)."""
        if action.channel == self.request.channel:
            return _at(action, action.send_at, f"now: the customer is on {action.channel.value}")
        policy, zone, hour = self.policy, self.zone, self.answering_hour
        local = action.send_at.astimezone(zone)
        when, why = local, "now"
        if hour is not None and local.hour != hour:
            at_hour = _next_wall_clock(local, hour, 0)
            if at_hour - local <= timedelta(hours=policy.contact.send_time.max_delay_hours):
                when, why = at_hour, f"at {hour:02d}:00 {zone.key}, the hour they have most often answered at"
        quiet = policy.contact.quiet_hours
        if quiet is not None and quiet.contains(when.time().replace(tzinfo=None)):
            when = _next_wall_clock(when, quiet.end.hour, quiet.end.minute)
            why = f"at {quiet.end:%H:%M} {zone.key}, when the quiet hours end"
        return _at(action, when.astimezone(UTC), why)


def customer_zone(state: CustomerState, policy: Policy) -> ZoneInfo:
    """The customer's time zone, the policy's default if their profile gives none or an unknown one."""
    name = str(state.profile.said.get("time_zone") or policy.contact.default_time_zone)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(policy.contact.default_time_zone)


def _answering_hour(state: CustomerState, policy: Policy, zone: ZoneInfo) -> int | None:
    """The local hour, outside quiet hours, at which the customer has most often opened, accepted or
    converted, once they have often enough; the earliest of equals."""
    learnt = policy.contact.send_time
    answered = state.sent.attentive_at
    if not learnt.learn_from_responses or len(answered) < learnt.min_responses:
        return None
    quiet = policy.contact.quiet_hours
    hours = Counter(at.astimezone(zone).hour for at in answered)
    allowed = [(-n, h) for h, n in hours.items() if quiet is None or not quiet.contains(time(h))]
    return min(allowed)[1] if allowed else None


def _next_wall_clock(local: datetime, hour: int, minute: int) -> datetime:
    """The first moment at or after `local` whose wall clock reads hour:minute, today or tomorrow."""
    moment = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if moment < local:
        moment += timedelta(days=1)  # wall-clock arithmetic in the zone: across a DST change too
    return moment


def _at(action: Action, send_at: datetime, why: str) -> Action:
    return replace(action, send_at=send_at, reason=replace(action.reason, timing=why))
