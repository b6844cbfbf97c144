"""Turn rule matches into ranked actions, each with the reason it was proposed."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import timedelta

from engine.decision.types import Action, DecideRequest, Reason
from engine.features.derive import Fact
from engine.ruleset.compiler import CompiledRule
from engine.ruleset.loader import RuleSet
from engine.ruleset.matcher import Match
from engine.vocabulary import Channel

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


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


def choose_channel(allowed: Iterable[Channel], touchpoint: Channel | None, propensity: Mapping[str, float]) -> Channel:
    """The channel the customer is on now when the rule allows it; else the one they are likeliest
    to respond on, when the response model serves; else the rule's first choice."""
    allowed = list(allowed)
    if touchpoint in allowed:
        return touchpoint
    if propensity:  # max keeps the first of equals: the rule's order breaks ties
        return max(allowed, key=lambda channel: propensity.get(channel.value, 0.0))
    return allowed[0]


def propose(
    ruleset: RuleSet,
    facts: Mapping[str, Fact],
    matches: Iterable[Match],
    request: DecideRequest,
    propensity: Mapping[str, float] | None = None,
) -> list[Action]:
    """One action per match, ranked best first by priority x value (x the propensity to respond on
    its channel, when the response model serves); an offer is proposed at most once for the same
    subject (the best-ranked rule proposing it wins)."""
    propensity = propensity or {}
    candidates = sorted(
        (
            (
                m.fact_ids[0],
                _action(ruleset.by_id[m.rule_id], ruleset, _joined(m, facts), m.fact_ids[0], request, propensity),
            )
            for m in matches
        ),
        key=lambda candidate: (-candidate[1].score, candidate[1].reason.rule_id, candidate[1].action_id),
    )
    kept: dict[tuple[str, str], Action] = {}
    for subject_fact, action in candidates:
        kept.setdefault((action.offer_id, subject_fact), action)
    return list(kept.values())


def _joined(match: Match, facts: Mapping[str, Fact]) -> Fact:
    """The primary fact, with the subject fields of a joined second fact beside its own."""
    primary, *others = (facts[fact_id] for fact_id in match.fact_ids)
    joined = dict(primary)
    for other in others:
        subject = str(other["subject"])
        joined[subject] = other[subject]
    return joined


def _action(
    compiled: CompiledRule,
    ruleset: RuleSet,
    fact: Fact,
    fact_id: str,
    request: DecideRequest,
    propensity: Mapping[str, float],
) -> Action:
    rule, then = compiled.rule, compiled.rule.then
    offer = ruleset.catalogue.offer(then.offer)
    assert offer is not None, "the loader checks every offer exists"
    text, parameters = render(offer.template, fact)
    channel = choose_channel(then.channels, request.channel, propensity)
    score, explanation = _score(float(then.priority), float(then.value), channel, propensity)
    return Action(
        action_id=f"{rule.id}:{fact_id}",
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


def _score(priority: float, value: float, channel: Channel, propensity: Mapping[str, float]) -> tuple[float, str]:
    """The action's score, and how it was computed, in words."""
    terms = f"priority {_text(priority)} x value {_text(value)}"
    if not propensity:
        score = priority * value
        return score, f"{terms} = {_text(score)} (no response model serving: ranked by rule priority and value)"
    likelihood = propensity.get(channel.value, 0.0)
    score = round(priority * value * likelihood, 6)
    return score, f"{terms} x response on {channel.value} {_text(likelihood)} (response model) = {_text(score)}"
