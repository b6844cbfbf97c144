"""Turn rule matches into ranked actions, each with the reason it was proposed."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import replace
from datetime import timedelta

from engine.decision.types import Action, DecideRequest, Reason
from engine.events import bounded_id
from engine.features.derive import Fact
from engine.policy import Policy
from engine.ruleset.compiler import CompiledRule
from engine.ruleset.loader import RuleSet
from engine.ruleset.matcher import Match
from engine.vocabulary import Channel, Family

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
# An event id an action id names as it is; any other is named by a digest, so action ids stay short.
_PLAIN_EVENT_ID = re.compile(r"^[A-Za-z0-9._-]{1,24}$")
_OCCASION_DIGEST_LENGTH = 10


def fact_value(fact: Mapping[str, object], dotted: str) -> object | None:
    value: object = fact
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _text(value: object) -> str:
    if isinstance(value, float):
        return f"{value:g}" if abs(value) < 1e15 else f"{value:.0f}"
    return "" if value is None else str(value)


def render(template: str, fact: Mapping[str, object]) -> tuple[str, dict[str, str]]:
    """Fill `{dotted.name}` placeholders from the fact; returns the text and the values used.

    Deliberately not str.format: a template is data and must not reach attributes.
    """
    used: dict[str, str] = {}

    def fill(found: re.Match[str]) -> str:
        used[found.group(1)] = _text(fact_value(fact, found.group(1)))
        return used[found.group(1)]

    return _PLACEHOLDER.sub(fill, template), used


def choose_channel(
    allowed: Iterable[Channel],
    touchpoint: Channel | None,
    propensity: Mapping[str, float],
    closed: Collection[Channel] = (),
    preferred: str = "",
) -> Channel | None:
    """The channel the customer is on now when the rule allows it; else, among the allowed channels
    that reach out and the contact policy left open (consent, caps, capacity), the one their profile
    prefers, else the one they are likeliest to respond on when the response model serves, else the
    rule's first choice; None if none is left."""
    allowed = list(allowed)
    if touchpoint in allowed:
        return touchpoint
    eligible = [channel for channel in allowed if channel.reaches_out and channel not in closed]
    if not eligible:
        return None
    chosen = next((channel for channel in eligible if channel.value == preferred), None)
    if chosen is not None:
        return chosen
    if propensity:  # max keeps the first of equals: the rule's order breaks ties
        return max(eligible, key=lambda channel: propensity.get(channel, 0.0))  # a Channel is its str value
    return eligible[0]


class Proposer:
    """The actions rules propose for one request, and the same action again on other channels."""

    def __init__(
        self,
        ruleset: RuleSet,
        facts: Mapping[str, Fact],
        request: DecideRequest,
        propensity: Mapping[str, float] | None = None,
    ) -> None:
        self.ruleset = ruleset
        self.facts = facts
        self.request = request
        self.propensity = propensity or {}
        self._closed: Collection[Channel] = ()
        self._matched: dict[str, tuple[CompiledRule, Fact, str]] = {}  # action id -> what proposed it

    def propose(self, matches: Iterable[Match], closed: Collection[Channel] = ()) -> list[Action]:
        """One action per match that has a channel open to go by, ranked best first by its score
        (priority x value, x the propensity to respond on its channel when the response model serves,
        x the policy's levers and context weights); an offer is proposed at most once for the same
        subject (the best-ranked rule proposing it wins)."""
        self._closed = closed
        candidates = []
        for match in matches:
            compiled, fact_id = self.ruleset.by_id[match.rule_id], match.fact_ids[0]
            fact = _joined(match, self.facts)
            action = self._action(compiled, fact, fact_id, closed)
            if action is not None:
                self._matched[action.action_id] = (compiled, fact, fact_id)
                candidates.append((fact_id, action))
        candidates.sort(key=lambda c: (-c[1].score, c[1].reason.rule_id, c[1].action_id))
        kept: dict[tuple[str, str], Action] = {}
        for subject_fact, action in candidates:
            kept.setdefault((action.offer_id, subject_fact), action)
        return list(kept.values())

    def rechannel(self, action: Action, closed: Collection[Channel]) -> Action | None:
        """The action on the best channel left once these are closed too, scored for it (and not yet
        timed); None if none is. Only what depends on the channel is worked out again."""
        compiled, fact, _ = self._matched[action.action_id]
        channel = self._channel(compiled, fact, {*self._closed, *closed})
        if channel is None:
            return None
        score, explanation = self._scored_on(compiled, channel)
        reason = replace(action.reason, score_explanation=explanation, timing="")
        return replace(action, channel=channel, send_at=self.request.as_of, score=score, reason=reason)

    def _channel(self, compiled: CompiledRule, fact: Fact, closed: Collection[Channel]) -> Channel | None:
        customer = fact.get("customer")
        preferred = str(customer.get("preferred_channel", "")) if isinstance(customer, Mapping) else ""
        return choose_channel(compiled.rule.then.channels, self.request.channel, self.propensity, closed, preferred)

    def _scored_on(self, compiled: CompiledRule, channel: Channel) -> tuple[float, str]:
        """The score of the rule's action on a channel, and how it was computed, in words."""
        rule, then, policy, propensity = compiled.rule, compiled.rule.then, self.ruleset.policy, self.propensity
        factors = [
            *_propensity_factor(channel, propensity),
            *_lever_factors(policy, rule.id, rule.family, then.offer),
            *(
                (f"context {w.key}={w.value}", w.weight)
                for w in policy.priority.context_weights
                if self.request.context.get(w.key) == w.value
            ),
        ]
        return _score(float(then.priority), float(then.value), factors, bool(propensity))

    def _action(self, compiled: CompiledRule, fact: Fact, fact_id: str, closed: Collection[Channel]) -> Action | None:
        """The action a rule proposes for a fact; None when no channel is left to send it by."""
        request = self.request
        rule, then = compiled.rule, compiled.rule.then
        offer = self.ruleset.catalogue.offer(then.offer)
        assert offer is not None, "the loader checks every offer exists"
        channel = self._channel(compiled, fact, closed)
        if channel is None:
            return None
        text, parameters = render(offer.template, fact)
        score, explanation = self._scored_on(compiled, channel)
        return Action(
            action_id=_action_id(compiled, fact, fact_id),
            fact_id=fact_id,
            offer_id=offer.id,
            family=rule.family,
            channel=channel,
            send_at=request.as_of,
            valid_until=request.as_of + timedelta(days=then.valid_for_days),
            score=score,
            value=float(then.value),
            title=offer.title,
            template_id=offer.id,
            text=text,
            parameters=parameters,
            reason=Reason(
                rule_id=rule.id,
                rule_description=rule.description,
                matched_facts={name: _text(fact_value(fact, name)) for name in compiled.fields},
                score_explanation=explanation,
            ),
        )


def _action_id(compiled: CompiledRule, fact: Fact, fact_id: str) -> str:
    """The rule and the fact the action is about (`rule:fact`), and for a rule whose conditions read the
    latest event, that event (`rule:fact@event`): cooldowns and dismissals hold per event, so each new
    occasion (a second delayed order) gets its own action while the same one is not sent again."""
    event_id = fact_value(fact, "event.id")
    if event_id is None or not any(name.startswith("event.") for name in compiled.fields):
        return bounded_id(compiled.rule.id, fact_id)
    return bounded_id(compiled.rule.id, f"{fact_id}@{_occasion(str(event_id))}")


def _occasion(event_id: str) -> str:
    """How an action id names an event: by its id when that is short and plain, else by a digest of it."""
    if _PLAIN_EVENT_ID.match(event_id):
        return event_id
    return hashlib.sha256(event_id.encode()).hexdigest()[:_OCCASION_DIGEST_LENGTH]


def _joined(match: Match, facts: Mapping[str, Fact]) -> Fact:
    """The primary fact, with the subject fields of a joined second fact beside its own."""
    primary, *others = (facts[fact_id] for fact_id in match.fact_ids)
    joined = dict(primary)
    for other in others:
        subject = str(other["subject"])
        joined[subject] = other[subject]
    return joined


def _propensity_factor(channel: Channel, propensity: Mapping[str, float]) -> list[tuple[str, float]]:
    if not propensity:
        return []
    return [(f"response on {channel.value}", propensity.get(channel.value, 0.0))]


def _lever_factors(policy: Policy, rule_id: str, family: Family, offer_id: str) -> list[tuple[str, float]]:
    levers = policy.priority.levers
    factors = [
        (f"lever rule {rule_id}", levers.rules.get(rule_id, 1.0)),
        (f"lever family {family.value}", levers.families.get(family, 1.0)),
        (f"lever offer {offer_id}", levers.offers.get(offer_id, 1.0)),
    ]
    return [(label, factor) for label, factor in factors if factor != 1.0]


def _score(priority: float, value: float, factors: list[tuple[str, float]], modelled: bool) -> tuple[float, str]:
    """The action's score, and how it was computed, term by term, in words."""
    score = priority * value
    for _, factor in factors:
        score *= factor
    score = round(score, 6)
    named = [f"{name} {_text(factor)}" for name, factor in factors]
    if modelled:  # the response model's term comes first
        named[0] += " (response model)"
    terms = " x ".join([f"priority {_text(priority)}", f"value {_text(value)}", *named])
    note = "" if modelled else " (no response model serving: ranked by rule priority and value)"
    return score, f"{terms} = {_text(score)}{note}"
