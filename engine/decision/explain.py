"""Why a decision is what it is: every rule and candidate action, and what kept or dropped each.

For one customer at one moment: each action returned, with its score term by term;
each held out for the control group; each proposed and dropped, with the policy's
reason (eligibility, suppression, diversity, the top N); each rule that matched but
had no channel left; and each rule that did not match, with the first condition that
did not hold on each fact it read (or the kind of fact the customer lacks). In words
a business user reads (`text`), and as JSON (`document`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.decision.arbitration import Arbitrated
from engine.decision.proposals import fact_value
from engine.decision.types import Action, Decision
from engine.features.derive import Fact
from engine.features.state import CustomerState
from engine.ruleset.compiler import CompiledRule
from engine.ruleset.evaluate import holds
from engine.ruleset.loader import RuleSet
from engine.ruleset.matcher import Match
from engine.ruleset.schema import AllOf, AnyOf, Condition, Node, NotOf
from engine.vocabulary import Channel


@dataclass(frozen=True)
class Trace:
    """What the decision path saw and did, for one request."""

    decision: Decision
    state: CustomerState
    ruleset: RuleSet
    facts: Sequence[Fact]
    matches: tuple[Match, ...]
    proposed: tuple[Action, ...]
    arbitrated: Arbitrated
    failed_facts: int
    closed: Mapping[Channel, str]  # the channels the contact policy closed, with why


@dataclass(frozen=True)
class Considered:
    rule_id: str
    # The fact the rule is about ("customer", "asset:...") or "" when it matched none; an action of a rule
    # that reads the latest event names that event too, as its action id does ("customer@<event>").
    subject: str
    verdict: str  # returned, held out, dropped, no channel, not matched
    reason: str  # in words


@dataclass(frozen=True)
class Explanation:
    customer_id: str
    as_of: str
    ruleset_version: str
    model_version: str
    considered: tuple[Considered, ...]

    def document(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "as_of": self.as_of,
            "ruleset_version": self.ruleset_version,
            "model_version": self.model_version,
            "considered": [vars(c) for c in self.considered],
        }

    def json(self) -> str:
        return json.dumps(self.document(), indent=2, sort_keys=True) + "\n"

    def text(self) -> str:
        lines = [
            f"Customer {self.customer_id} as of {self.as_of} (rules {self.ruleset_version};"
            f" models {self.model_version or 'none'})"
        ]
        for verdict in ("returned", "held out", "dropped", "no channel", "not matched"):
            chosen = [c for c in self.considered if c.verdict == verdict]
            if chosen:
                lines.append(f"\n{verdict.upper()} ({len(chosen)})")
                lines += [f"- {c.rule_id}{f' on {c.subject}' if c.subject else ''}: {c.reason}" for c in chosen]
        return "\n".join(lines) + "\n"


def explanation_of(trace: Trace) -> Explanation:
    decision, arbitrated = trace.decision, trace.arbitrated
    considered = [
        *(
            _about(a, "returned", f"{a.reason.score_explanation}; via {a.channel.value} {a.reason.timing}")
            for a in decision.actions
        ),
        *(
            _about(a, "held out", f"the customer is in the control group of {a.family.value}")
            for a in decision.held_out
        ),
        *(_about(a, "dropped", why) for a, why in arbitrated.dropped),
    ]
    proposed = {(a.reason.rule_id, a.fact_id) for a in trace.proposed}
    # An offer is proposed once about a subject: by the best-ranked rule proposing it.
    offered = {(a.offer_id, a.fact_id): a.reason.rule_id for a in trace.proposed}
    for match in trace.matches:
        subject = match.fact_ids[0]
        if (match.rule_id, subject) in proposed:
            continue
        then = trace.ruleset.by_id[match.rule_id].rule.then
        better = offered.get((then.offer, subject))
        if better is not None:
            reason = f"the offer {then.offer} is proposed about {subject} by {better}, ranked higher"
            considered.append(Considered(match.rule_id, subject, "dropped", reason))
            continue
        closed = "; ".join(f"{c.value}: {_channel_state(c, trace.closed)}" for c in then.channels)
        reason = f"no channel the rule allows is open ({closed})"
        considered.append(Considered(match.rule_id, subject, "no channel", reason))
    matched = {m.rule_id for m in trace.matches}
    for rule in trace.ruleset.rules:
        if rule.rule.id not in matched:
            considered.append(Considered(rule.rule.id, "", "not matched", _why_not(rule, trace.facts)))
    return Explanation(
        decision.customer_id,
        decision.as_of.isoformat(),
        decision.ruleset_version,
        decision.model_version,
        tuple(considered),
    )


def _channel_state(channel: Channel, closed: Mapping[Channel, str]) -> str:
    if channel in closed:
        return closed[channel]
    return "open" if channel.reaches_out else "only where the customer is, and they are not"


def _about(action: Action, verdict: str, reason: str) -> Considered:
    return Considered(action.reason.rule_id, action.action_id.split(":", 1)[1], verdict, reason)


def _why_not(rule: CompiledRule, facts: Sequence[Fact]) -> str:
    """The first condition that does not hold, on each fact of the rule's subject."""
    about = [f for f in facts if f["subject"] == rule.subject]
    if not about:
        return f"the customer has no {rule.subject} for it to read"
    if len(rule.subjects) > 1:
        return f"it joins facts about {' and '.join(rule.subjects)}, and no pair of them matched"
    reasons = []
    for fact in about:
        failing = _failing(rule.rule.when, fact)
        where = "" if fact["id"] == "customer" else f" on {fact['id']}"
        reasons.append(f"{failing}{where}" if failing else f"nothing failed{where}")
    return "; ".join(reasons)


def _failing(node: Node, fact: Fact) -> str:
    """The first condition under `node` that keeps it from holding on the fact, in words."""
    if isinstance(node, Condition):
        value = fact_value(fact, node.fact)
        shown = "absent" if value is None else repr(value)
        return f"`{node.fact} {node.operator} {node.operand!r}` does not hold ({node.fact} is {shown})"
    if isinstance(node, NotOf):
        return "a `not` does not hold: what it negates holds" if holds(node, fact) is not True else ""
    children = node.all if isinstance(node, AllOf) else node.any
    if isinstance(node, AnyOf):
        return "none of `any` holds: " + "; ".join(_failing(c, fact) for c in children)
    return next((_failing(c, fact) for c in children if holds(c, fact) is not True), "")
