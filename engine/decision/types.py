"""The decision path's inputs and outputs, as plain values with no transport in them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from engine.vocabulary import Channel, Family


@dataclass(frozen=True)
class DecideRequest:
    customer_id: str
    as_of: datetime
    # None for an outbound decision (a sweep, a campaign) free to pick any channel.
    channel: Channel | None = None
    touchpoint: str = ""
    max_actions: int | None = None
    context: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Reason:
    rule_id: str
    rule_description: str
    matched_facts: dict[str, str]
    score_explanation: str
    # Why the action goes when it does (send_at), in words; set by arbitration.
    timing: str = ""


@dataclass(frozen=True)
class Action:
    # The rule and the fact it is about; for a rule that reads the latest event, that event too.
    action_id: str
    fact_id: str  # the fact the action is about: `customer`, `asset:<id>`, `consumable:<product>`...
    offer_id: str
    family: Family
    channel: Channel
    send_at: datetime
    valid_until: datetime
    score: float
    value: float
    title: str
    template_id: str
    text: str
    parameters: dict[str, str]
    reason: Reason


@dataclass(frozen=True)
class Decision:
    decision_id: str
    customer_id: str
    as_of: datetime
    ruleset_version: str
    # The models serving (`name=version,...`); empty while none is.
    model_version: str
    actions: tuple[Action, ...]
    # Whether the response model's propensities took part in the ranking; else rule priority and value did.
    ranked_by_model: bool = False
    # The customer is in the control group of these actions' families: decided and kept, not returned.
    held_out: tuple[Action, ...] = ()


@dataclass(frozen=True)
class DueAction:
    customer_id: str
    decision_id: str
    action: Action
