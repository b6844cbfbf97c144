"""Arbitration: from the ranked candidate actions, those the policy lets out now, and when.

After the rules proposed and the score ranked (proposals.py), on channels the contact
policy left open (contact_policy.closed_channels): offers outside their validity
window, or that the caller says are unavailable, are left out, and so is what the
customer's recent complaint or dismissal suppresses, and what is still cooling down;
then, best first, at most `per_subject` actions about one asset, consumable, category
or follow-on, and `per_family` of one family, within the frequency caps; then the top
`limit`. A customer in the control group of a family has that family's actions
decided but held out: kept with the decision, not returned. What goes out takes a
slot of its channel's daily capacity, and is timed (send_time.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from engine.decision.contact_policy import Capacity, Caps, capacity_day, cooling_down
from engine.decision.send_time import SendTimes
from engine.decision.types import Action, DecideRequest
from engine.features.state import CustomerState
from engine.features.timeline import days
from engine.policy import Policy
from engine.vocabulary import Channel, Family

# The same action on the best channel left once these are closed too (proposals.Proposer.rechannel).
Rechannel = Callable[[Action, Collection[Channel]], Action | None]


@dataclass(frozen=True)
class Arbitrated:
    returned: tuple[Action, ...]  # best first
    held_out: tuple[Action, ...]  # the control group's: decided, logged, not returned
    dropped: tuple[tuple[Action, str], ...] = ()  # each left out, with why, in words


def arbitrate(
    candidates: Sequence[Action],
    policy: Policy,
    request: DecideRequest,
    limit: int,
    state: CustomerState,
    capacity: Capacity,
    rechannel: Rechannel,
) -> Arbitrated:
    unavailable = _unavailable(policy, request)
    per_subject: Counter[str] = Counter()
    per_family: Counter[str] = Counter()
    sending: Counter[Channel] = Counter()
    returned: list[Action] = []
    held_out: list[Action] = []
    dropped: list[tuple[Action, str]] = []
    send_times = SendTimes(policy, request, state)
    caps = Caps(policy, state, request.as_of)
    for candidate in candidates:
        subject = candidate.fact_id
        action = send_times.timed(candidate)
        sent = action.channel != request.channel  # limits are on what Forestall sends
        why = _left_out(action, policy, request, state, unavailable, sent)
        if why is None and subject != "customer" and per_subject[subject] >= policy.diversity.per_subject:
            why = f"diversity: {policy.diversity.per_subject} action(s) about {subject} ranked higher"
        cap = policy.diversity.per_family
        if why is None and cap is not None and per_family[action.family] >= cap:
            why = f"diversity: {cap} action(s) of the family {action.family.value} ranked higher"
        if why is None and sent:
            action, why = _within_caps(action, caps.capped(sending), rechannel, send_times)
        if why is None and len(returned) + len(held_out) >= limit:
            why = f"beyond the {limit} best actions"
        held = policy.control.holds_out(request.customer_id, action.family)
        if why is None and sent and not held:
            why = _no_capacity(action, policy, capacity)
        if why is not None:
            dropped.append((action, why))
            continue
        per_subject[subject] += 1
        per_family[action.family] += 1
        sending[action.channel] += 1
        (held_out if held else returned).append(action)
    return Arbitrated(tuple(returned), tuple(held_out), tuple(dropped))


def _left_out(
    action: Action, policy: Policy, request: DecideRequest, state: CustomerState, unavailable: set[str], sent: bool
) -> str | None:
    """Why eligibility, suppression or a cooldown leaves the action out, in words; None if they do not."""
    if action.offer_id in unavailable:
        key = policy.eligibility.unavailable_offers_key
        return f"eligibility: the offer {action.offer_id} is unavailable (context {key})"
    if not _in_window(policy, action.offer_id, request.as_of):
        return f"eligibility: {request.as_of.date()} is outside the validity window of the offer {action.offer_id}"
    why = _suppressed(action, policy, state, request.as_of)
    if why is None and sent:
        why = cooling_down(action, policy, state, request.as_of)
    return why


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


def _within_caps(
    action: Action, capped: dict[Channel, str], rechannel: Rechannel, send_times: SendTimes
) -> tuple[Action, str | None]:
    """The action on a channel this decision's better-ranked actions left room on under the caps
    (`capped`: the channels they close, with why): its own, else the next its rule allows; why not,
    if none is left."""
    if action.channel not in capped:
        return action, None
    moved = rechannel(action, capped.keys())
    if moved is None:
        return action, capped[action.channel]
    return send_times.timed(moved), None


def _no_capacity(action: Action, policy: Policy, capacity: Capacity) -> str | None:
    """Take a slot of the channel's capacity on the day the action goes; why not, if none is left."""
    limit = policy.contact.capacity.get(action.channel)
    if limit is None:
        return None
    day = capacity_day(action.send_at, policy)
    if capacity.take(action.channel, day, limit):
        return None
    return f"capacity: the {limit} {action.channel.value} action(s) of {day} are taken"


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
