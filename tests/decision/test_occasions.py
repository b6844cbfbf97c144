"""A rule that reads the latest event acts once per event: the sample `delayed-order-apology`
apologises for each delayed order, never twice for the same one, through a real engine on the
sample rules; rules that read no event keep one action per fact, and a family's cooldown still
holds across events."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.decision.engine import DecisionEngine, OutcomeReport
from engine.decision.types import DecideRequest, Decision
from engine.events import Event, LineItem, OrderStatus, Purchase
from engine.ruleset.live import LiveRuleSet
from engine.store.sqlite import SqliteStore
from engine.vocabulary import Outcome

T0 = datetime(2026, 6, 1, 9, tzinfo=UTC)
APOLOGY = "delayed-order-apology"
SAMPLE_COOLDOWN = "contact: {cooldown: {action_days: 7}}\n"  # as rules/policy.yaml, and nothing else to get in the way

MakeEngine = Callable[[str], DecisionEngine]


@pytest.fixture
def engine_with(tmp_path: Path, rules_dir: Path) -> Iterator[MakeEngine]:
    opened: list[tuple[LiveRuleSet, SqliteStore]] = []

    def engine(policy: str) -> DecisionEngine:
        (rules_dir / "policy.yaml").write_text(policy)
        rules, store = LiveRuleSet(rules_dir, T0), SqliteStore(tmp_path / f"occasions-{len(opened)}.db")
        opened.append((rules, store))
        return DecisionEngine(store, rules)

    yield engine
    for rules, store in opened:
        rules.close()
        store.close()


def _delayed(engine: DecisionEngine, event_id: str, order_id: str, at: datetime) -> None:
    payload = OrderStatus(order_id=order_id, state="delayed")
    engine.ingest([Event(event_id=event_id, customer_id="pia", occurred_at=at, payload=payload)])


def _apologies(decision: Decision) -> list[str]:
    return [a.action_id for a in decision.actions if a.reason.rule_id == APOLOGY]


def test_two_orders_delayed_three_days_apart_each_get_an_apology_and_the_same_delay_gets_one(engine_with):
    engine = engine_with(SAMPLE_COOLDOWN)
    _delayed(engine, "delay-A-1", "A-1", T0)

    first = engine.decide(DecideRequest("pia", T0 + timedelta(hours=1)))
    again = engine.decide(DecideRequest("pia", T0 + timedelta(hours=2)))
    _delayed(engine, "delay-B-2", "B-2", T0 + timedelta(days=3))
    second = engine.decide(DecideRequest("pia", T0 + timedelta(days=3, hours=1)))
    second_again = engine.decide(DecideRequest("pia", T0 + timedelta(days=3, hours=2)))

    assert _apologies(first) == [f"{APOLOGY}:customer@delay-A-1"]
    assert _apologies(again) == []
    assert _apologies(second) == [f"{APOLOGY}:customer@delay-B-2"]
    assert _apologies(second_again) == []
    assert first.actions[0].fact_id == second.actions[0].fact_id == "customer"


def test_explain_names_the_event_an_action_is_about_and_why_it_is_not_sent_again(engine_with):
    engine = engine_with(SAMPLE_COOLDOWN)
    _delayed(engine, "delay-A-1", "A-1", T0)
    engine.decide(DecideRequest("pia", T0 + timedelta(hours=1)))

    explanation = engine.explain(DecideRequest("pia", T0 + timedelta(hours=2)))

    [apology] = [c for c in explanation.considered if c.rule_id == APOLOGY]  # once: not also "no channel"
    assert (apology.subject, apology.verdict) == ("customer@delay-A-1", "dropped")
    assert apology.reason == "cooldown: sent 0.04 days ago (7 days)"
    assert f"- {APOLOGY} on customer@delay-A-1: cooldown: sent 0.04 days ago (7 days)" in explanation.text()


def test_a_rule_that_reads_no_event_keeps_one_action_per_fact(engine_with):
    engine = engine_with(SAMPLE_COOLDOWN)
    boiler = Purchase(items=[LineItem(product_id="boiler-ecotherm-30", quantity=1, unit_price=900)])
    engine.ingest([Event(event_id="pos-7", customer_id="pia", occurred_at=T0 - timedelta(days=350), payload=boiler)])
    _delayed(engine, "delay-A-1", "A-1", T0)

    decided = engine.decide(DecideRequest("pia", T0 + timedelta(hours=1)))
    _delayed(engine, "delay-B-2", "B-2", T0 + timedelta(days=3))
    later = engine.explain(DecideRequest("pia", T0 + timedelta(days=3, hours=1)))

    assert sorted(a.action_id for a in decided.actions) == [
        "boiler-service-due:asset:pos-7/0",
        f"{APOLOGY}:customer@delay-A-1",
    ]
    verdicts = {(c.rule_id, c.subject): (c.verdict, c.reason) for c in later.considered if c.subject}
    assert verdicts[("boiler-service-due", "asset:pos-7/0")] == ("dropped", "cooldown: sent 3 days ago (7 days)")
    assert verdicts[(APOLOGY, "customer@delay-B-2")][0] == "returned"


def test_a_family_cooldown_still_holds_across_events(engine_with):
    engine = engine_with("contact: {cooldown: {action_days: 7, families: {problem_prevention: 5}}}\n")
    _delayed(engine, "delay-A-1", "A-1", T0)
    engine.decide(DecideRequest("pia", T0 + timedelta(hours=1)))
    _delayed(engine, "delay-B-2", "B-2", T0 + timedelta(days=3))

    explanation = engine.explain(DecideRequest("pia", T0 + timedelta(days=3, hours=1)))

    [apology] = [c for c in explanation.considered if c.rule_id == APOLOGY]
    assert (apology.subject, apology.verdict) == ("customer@delay-B-2", "dropped")
    assert apology.reason == "cooldown: an action of the family problem_prevention was sent 3 days ago (5 days)"


def test_a_dismissed_apology_does_not_suppress_the_apology_for_another_delay(engine_with):
    engine = engine_with("contact: {cooldown: {action_days: 1}, suppress_after_dismissal_days: 30}\n")
    _delayed(engine, "delay-A-1", "A-1", T0)
    first = engine.decide(DecideRequest("pia", T0 + timedelta(hours=1)))
    [dismissed] = _apologies(first)
    engine.record_outcome(OutcomeReport(first.decision_id, dismissed, Outcome.DISMISSED, T0 + timedelta(hours=2)))
    _delayed(engine, "delay-B-2", "B-2", T0 + timedelta(days=3))

    other = engine.decide(DecideRequest("pia", T0 + timedelta(days=3, hours=1)))

    assert _apologies(other) == [f"{APOLOGY}:customer@delay-B-2"]
    state = engine.states.as_of("pia", T0 + timedelta(days=3, hours=1), engine.rules.current.ruleset.catalogue)
    assert state.contacts.dismissed == {dismissed: T0 + timedelta(hours=2)}


def test_an_event_id_too_long_to_read_is_named_by_a_digest_that_fits_contact_history_and_outcomes(engine_with):
    engine = engine_with(SAMPLE_COOLDOWN)
    long_id = "order-service/" + "x" * 114  # 128 characters, the most an event id may have
    _delayed(engine, long_id, "A-1", T0)

    first = engine.decide(DecideRequest("pia", T0 + timedelta(hours=1)))
    [action_id] = _apologies(first)
    engine.record_outcome(OutcomeReport(first.decision_id, action_id, Outcome.OPENED, T0 + timedelta(hours=2)))

    assert action_id == f"{APOLOGY}:customer@{hashlib.sha256(long_id.encode()).hexdigest()[:10]}"
    assert engine.store.find_decision(first.decision_id).actions.keys() == {action_id}
