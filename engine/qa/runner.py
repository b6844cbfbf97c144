"""Run rule tests through the real decision path, in process.

Each test gets a fresh SQLite store in a temporary folder: its history is
ingested and the DecisionEngine decides as of the test's moment over the rules
folder's LiveRuleSet, as a Decide call would. A failure carries what came back
(each action with its rule and matched facts) and, for a rule that proposed
nothing, what the facts it reads held, so it explains itself.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from engine.decision.engine import DecisionEngine
from engine.decision.proposals import render
from engine.decision.types import DecideRequest
from engine.events import Event
from engine.features.derive import Fact, Scope, Touch, derive_facts
from engine.features.fields import subject_of
from engine.qa.rule_tests import CUSTOMER_ID, RuleTest
from engine.ruleset.compiler import CompiledRule
from engine.ruleset.live import LiveRuleSet
from engine.ruleset.loader import RuleSet
from engine.store import open_store

# A test sees every action the rules propose, not only the first five a caller gets by default.
EVERY_ACTION = 1_000


@dataclass(frozen=True)
class ProposedAction:
    rule_id: str
    offer_id: str
    channel: str
    matched_facts: dict[str, str]


@dataclass(frozen=True)
class Failure:
    """One expectation not met, said as what was expected and what happened instead."""

    expectation: str  # expect, expect_not, expect_offers or expect_empty
    subject: str  # the rule or offer expected; empty for expect_empty
    message: str
    # For a rule that proposed nothing: what the fields it reads held on each fact it could have matched.
    facts: tuple[dict[str, str], ...] = ()


@dataclass(frozen=True)
class RuleTestResult:
    test: RuleTest
    actions: tuple[ProposedAction, ...]
    failures: tuple[Failure, ...]

    @property
    def passed(self) -> bool:
        return not self.failures


def run_rule_tests(rules: LiveRuleSet, tests: Iterable[RuleTest]) -> Iterator[RuleTestResult]:
    """Each test's result as soon as it has run, in the order given."""
    for test in tests:
        yield run_rule_test(rules, test)


def run_rule_test(rules: LiveRuleSet, test: RuleTest) -> RuleTestResult:
    spec = test.spec
    with tempfile.TemporaryDirectory(prefix="forestall-rule-test-") as folder:
        store = open_store(Path(folder) / "store.db")
        try:
            engine = DecisionEngine(store, rules, test.scores)
            engine.ingest(test.events)
            decision = engine.decide(
                DecideRequest(CUSTOMER_ID, test.as_of, spec.channel, max_actions=EVERY_ACTION, context=spec.context)
            )
        finally:
            store.close()
    actions = tuple(
        ProposedAction(a.reason.rule_id, a.offer_id, a.channel.value, a.reason.matched_facts) for a in decision.actions
    )
    with rules.use() as loaded:
        failures = tuple(_failures(test, actions, loaded.ruleset))
    return RuleTestResult(test, actions, failures)


def _failures(test: RuleTest, actions: Sequence[ProposedAction], ruleset: RuleSet) -> Iterator[Failure]:
    spec = test.spec
    proposing = {a.rule_id: a for a in reversed(actions)}  # each rule's best-ranked action
    offered = {a.offer_id for a in actions}
    missed = [rule_id for rule_id in spec.expect if rule_id not in proposing]
    channel = spec.channel.value if spec.channel else None
    facts = facts_as_of(ruleset, test.events, test.as_of, Touch(channel, context=spec.context)) if missed else []
    if test.scores is not None:  # as the test's decision gave them
        for fact in facts:
            fact["score"] = test.scores.given.of(fact)
    for rule_id in missed:
        hint, seen = why_not(ruleset.by_id[rule_id], facts)
        yield Failure("expect", rule_id, f"expected {rule_id} to propose an action: it proposed none{hint}", seen)
    for rule_id in spec.expect_not:
        if rule_id in proposing:
            message = f"expected {rule_id} to propose nothing: it proposed {proposing[rule_id].offer_id}"
            yield Failure("expect_not", rule_id, message)
    for offer_id in spec.expect_offers:
        if offer_id not in offered:
            yield Failure("expect_offers", offer_id, f"expected an action offering {offer_id}: none did")
    if spec.expect_empty and actions:
        count = len(actions)
        yield Failure("expect_empty", "", f"expected no action: {count} {'was' if count == 1 else 'were'} proposed")


def facts_as_of(ruleset: RuleSet, events: Iterable[Event], as_of: datetime, touch: Touch) -> list[Fact]:
    """The customer's facts as a decision saw them; derived again only to explain a rule that did not match."""
    return derive_facts(events, ruleset.catalogue, as_of, touch, scope=Scope(ruleset.subjects, ruleset.categories))


def why_not(rule: CompiledRule, facts: Iterable[Fact]) -> tuple[str, tuple[dict[str, str], ...]]:
    """Why a rule proposed nothing: what the fields it reads held on each fact it could have
    matched, and a hint to add to the message when the customer has no such fact at all."""
    seen = _fields_seen(rule, facts)
    return ("" if seen else f"; the customer has no {' or '.join(rule.subjects)} for it to read"), seen


def _fields_seen(rule: CompiledRule, facts: Iterable[Fact]) -> tuple[dict[str, str], ...]:
    """What each field the rule reads held, on each fact about a subject it reads, shown as an
    action's reason shows its matched facts (by the renderer of its placeholders; absent is empty)."""
    seen = []
    for fact in facts:
        if fact["subject"] in rule.subjects:
            names = [name for name in rule.fields if subject_of(name) in (None, fact["subject"])]
            seen.append(render("".join(f"{{{name}}}" for name in names), fact)[1])
    return tuple(seen)
