"""Arbitration: from the ranked candidate actions, those the policy lets out now, and when.

After the rules proposed and the score ranked (proposals.py): offers outside their
validity window, or that the caller says are unavailable, are left out, and so is
what the customer's recent complaint or dismissal suppresses; then, best first, at
most `per_subject` actions about one asset, consumable, category or follow-on, and
`per_family` of one family; then the top `limit`. A customer in the control group of
a family has that family's actions decided but held out: kept with the decision, not
returned. An action to send (not on the channel the customer is on now) that falls
in the quiet hours of the customer's time zone is sent when they end.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.decision.types import Action, DecideRequest
from engine.features.state import CustomerState
from engine.features.timeline import days
from engine.policy import Policy
from engine.vocabulary import Family


@dataclass(frozen=True)
class Arbitrated:
    returned: tuple[Action, ...]  # best first
    held_out: tuple[Action, ...]  # the control group's: decided, logged, not returned
    dropped: tuple[tuple[Action, str], ...] = ()  # each left out, with why, in words


def arbitrate(
    candidates: Sequence[Action], policy: Policy, request: DecideRequest, limit: int, state: CustomerState
) -> Arbitrated:
    unavailable = _unavailable(policy, request)
    per_subject: Counter[str] = Counter()
    per_family: Counter[str] = Counter()
    returned: list[Action] = []
    held_out: list[Action] = []
    dropped: list[tuple[Action, str]] = []
    for action in candidates:
        subject = action.action_id.split(":", 1)[1]
        why = _left_out(action, policy, request, state, unavailable)
        if why is None and subject != "customer" and per_subject[subject] >= policy.diversity.per_subject:
            why = f"diversity: {policy.diversity.per_subject} action(s) about {subject} ranked higher"
        cap = policy.diversity.per_family
        if why is None and cap is not None and per_family[action.family] >= cap:
            why = f"diversity: {cap} action(s) of the family {action.family.value} ranked higher"
        if why is None and len(returned) + len(held_out) >= limit:
            why = f"beyond the {limit} best actions"
        if why is not None:
            dropped.append((action, why))
            continue
        per_subject[subject] += 1
        per_family[action.family] += 1
        held = policy.control.holds_out(request.customer_id, action.family)
        (held_out if held else returned).append(_timed(action, policy, request, state))
    return Arbitrated(tuple(returned), tuple(held_out), tuple(dropped))


def _left_out(
    action: Action, policy: Policy, request: DecideRequest, state: CustomerState, unavailable: set[str]
) -> str | None:
    """Why eligibility or suppression leaves the action out, in words; None if they do not."""
    if action.offer_id in unavailable:
        key = policy.eligibility.unavailable_offers_key
        return f"eligibility: the offer {action.offer_id} is unavailable (context {key})"
    if not _in_window(policy, action.offer_id, request.as_of):
        return f"eligibility: {request.as_of.date()} is outside the validity window of the offer {action.offer_id}"
    return _suppressed(action, policy, state, request.as_of)


def _suppressed(action: Action, policy: Policy, state: CustomerState, as_of: datetime) -> str | None:
    """Within N days of a complaint (but problem prevention, which answers it), or of a dismissal of the action."""
    contact = policy.contact
    complained = state.complaints.last_opened_at
    if complained is not None and action.family is not Family.PROBLEM_PREVENTION:
        since = days(complained, as_of)
        if since < contact.suppress_after_complaint_days:
            return f"suppressed: a complaint {since:g} days ago ({contact.suppress_after_complaint_days:g} days)"
    dismissed = state.contacts.days_since_dismissed(action.action_id, as_of)
    if dismissed is not None and dismissed < contact.suppress_after_dismissal_days:
        return f"suppressed: dismissed {dismissed:g} days ago ({contact.suppress_after_dismissal_days:g} days)"
    return None


def _timed(action: Action, policy: Policy, request: DecideRequest, state: CustomerState) -> Action:
    """The action, sent when the quiet hours of the customer's time zone end if it falls in them."""
    quiet = policy.contact.quiet_hours
    if quiet is None or action.channel == request.channel:  # the customer is on this channel now
        return action
    local = action.send_at.astimezone(_zone(state, policy))
    if not quiet.contains(local.time().replace(tzinfo=None)):
        return action
    # Wall-clock arithmetic in the zone: the end of the quiet hours, today or tomorrow, across a DST change.
    end = local.replace(hour=quiet.end.hour, minute=quiet.end.minute, second=0, microsecond=0)
    if end <= local:
        end += timedelta(days=1)
    return replace(action, send_at=end.astimezone(UTC))


def _zone(state: CustomerState, policy: Policy) -> ZoneInfo:
    name = str(state.profile.said.get("time_zone") or policy.contact.default_time_zone)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):  # a profile's unknown zone: the policy's default
        return ZoneInfo(policy.contact.default_time_zone)


def _unavailable(policy: Policy, request: DecideRequest) -> set[str]:
    key = policy.eligibility.unavailable_offers_key
    listed = request.context.get(key, "") if key else ""
    return {offer.strip() for offer in listed.split(",") if offer.strip()}


def _in_window(policy: Policy, offer_id: str, as_of: datetime) -> bool:
    window = policy.offer_window(offer_id)
    if window is None:
        return True
    day = as_of.date()
    return (window.valid_from is None or window.valid_from <= day) and (
        window.valid_until is None or day <= window.valid_until
    )
