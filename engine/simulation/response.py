"""How a simulated customer answers an action Forestall showed them.

The chance of accepting rises with how well the action meets a real need of theirs
right now, with their taste for contact and their satisfaction, and falls with each
recent contact; an accepted offer for something they need converts most of the time.
A contact that meets no need, or one too many, is dismissed, complained about or
unsubscribed from more often.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from engine.decision.types import Action
from engine.simulation.behaviour import Behaviour
from engine.simulation.customer import Customer, Grievance, Item, need_named
from engine.vocabulary import Outcome


@dataclass(frozen=True)
class Response:
    outcome: Outcome
    need: float  # how well timed the action was for the need it addressed, 0 to 1
    item: Item | None  # what it helped with, if anything


def _chance(log_odds: float) -> float:
    return 1 / (1 + math.exp(-log_odds))


def respond(
    customer: Customer, action: Action, day: int, satisfaction: float, behaviour: Behaviour, rng: random.Random
) -> Response:
    """Draw the customer's answer to `action` on `day`, and count it as a contact."""
    need, item = customer.need(need_named(action.reason.matched_facts), day)
    fatigue = customer.contacted(day, behaviour.fatigue_days)
    customer.contacts.append(day)
    log_odds = (
        behaviour.channel_log_odds.get(action.channel, -2.0)
        + customer.taste
        + behaviour.need_log_odds * need
        + behaviour.satisfaction_log_odds * (satisfaction - behaviour.satisfaction_mean)
        - behaviour.fatigue_log_odds * fatigue
    )
    if rng.random() < _chance(log_odds):
        purchasable = item is not None and need > 0 and not isinstance(item, Grievance)
        converted = purchasable and rng.random() < behaviour.conversion_share
        return Response(Outcome.CONVERTED if converted else Outcome.ACCEPTED, need, item)
    annoyance = behaviour.fatigue_log_odds * fatigue + 2 * (1 - need)
    if rng.random() < _chance(behaviour.complaint_log_odds + annoyance):
        return Response(Outcome.COMPLAINED, need, item)
    if rng.random() < _chance(behaviour.unsubscribe_log_odds + annoyance):
        return Response(Outcome.UNSUBSCRIBED, need, item)
    if rng.random() < behaviour.dismiss_share:
        return Response(Outcome.DISMISSED, need, item)
    return Response(rng.choice((Outcome.DELIVERED, Outcome.OPENED)), need, item)
