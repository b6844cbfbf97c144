"""Arbitration: from the ranked candidate actions, those the policy lets out now.

After the rules proposed and the score ranked (proposals.py): offers outside their
validity window, or that the caller says are unavailable, are left out; then, best
first, at most `per_subject` actions about one asset, consumable, category or
follow-on, and `per_family` of one family; then the top `limit`. A customer in the
control group of a family has that family's actions decided but held out: kept with
the decision, not returned.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from engine.decision.types import Action, DecideRequest
from engine.policy import Policy


@dataclass(frozen=True)
class Arbitrated:
    returned: tuple[Action, ...]  # best first
    held_out: tuple[Action, ...]  # the control group's: decided, logged, not returned


def arbitrate(candidates: Sequence[Action], policy: Policy, request: DecideRequest, limit: int) -> Arbitrated:
    unavailable = _unavailable(policy, request)
    per_subject: Counter[str] = Counter()
    per_family: Counter[str] = Counter()
    returned: list[Action] = []
    held_out: list[Action] = []
    for action in candidates:
        if action.offer_id in unavailable or not _in_window(policy, action.offer_id, request.as_of):
            continue
        subject = action.action_id.split(":", 1)[1]
        if subject != "customer" and per_subject[subject] >= policy.diversity.per_subject:
            continue
        cap = policy.diversity.per_family
        if cap is not None and per_family[action.family] >= cap:
            continue
        if len(returned) + len(held_out) >= limit:
            break
        per_subject[subject] += 1
        per_family[action.family] += 1
        held = policy.control.holds_out(request.customer_id, action.family)
        (held_out if held else returned).append(action)
    return Arbitrated(tuple(returned), tuple(held_out))


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
