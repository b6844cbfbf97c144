"""Contact policy on a virtual clock: quiet hours in the customer's own time zone across a
daylight-saving change, suppression after a complaint and after a dismissal, and outcomes
recorded through RecordOutcome reaching the customer's history."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from engine.decision.engine import DecisionEngine, OutcomeReport
from engine.decision.types import DecideRequest
from engine.events import Complaint, Event, LineItem, ProfileUpdate, Purchase
from engine.ruleset.live import LiveRuleSet
from engine.store.sqlite import SqliteStore
from engine.vocabulary import Channel, Outcome

QUIET = "contact: {quiet_hours: {start: '21:00', end: '08:00'}}\n"
# The sample rule boiler-service-due fires for a boiler bought 350 days before the decision.
BOILER = Purchase(items=[LineItem(product_id="boiler-ecotherm-30", quantity=1, unit_price=900)])


@pytest.fixture
def engine_with(tmp_path: Path, rules_dir: Path) -> Iterator:
    opened = []

    def engine(policy: str, as_of: datetime) -> DecisionEngine:
        (rules_dir / "policy.yaml").write_text(policy)
        rules, store = LiveRuleSet(rules_dir, as_of), SqliteStore(tmp_path / f"contact-{len(opened)}.db")
        opened.append((rules, store))
        return DecisionEngine(store, rules)

    yield engine
    for rules, store in opened:
        rules.close()
        store.close()


def _customer(engine: DecisionEngine, customer: str, as_of: datetime, *extra: tuple[float, object]) -> None:
    history = [(350, BOILER), *extra]
    engine.ingest(
        [
            Event(event_id=f"{customer}-{n}", customer_id=customer, occurred_at=as_of - timedelta(days=d), payload=p)
            for n, (d, p) in enumerate(history)
        ]
    )


# Three zones; the first two change their clocks in the weeks below, Tokyo never does.
ZONES = ["Europe/Paris", "America/New_York", "Asia/Tokyo"]
# Local evenings around the changes (Paris: 29 March 2026; New York: 8 March 2026), at 22:30.
EVENINGS = [datetime(2026, 3, day, 22, 30) for day in (7, 8, 28, 29)]


@pytest.mark.parametrize("zone", ZONES)
def test_no_send_time_falls_in_quiet_hours_across_a_daylight_saving_change(engine_with, zone):
    tz = ZoneInfo(zone)
    for evening in EVENINGS:
        as_of = evening.replace(tzinfo=tz).astimezone(UTC)
        engine = engine_with(QUIET, as_of)
        _customer(engine, "c", as_of, (30, ProfileUpdate(time_zone=zone)))

        [action] = engine.decide(DecideRequest("c", as_of)).actions

        sent = action.send_at.astimezone(tz)
        assert (sent.date(), sent.hour, sent.minute) == (evening.date() + timedelta(days=1), 8, 0), zone
        assert sent.utcoffset() == (evening + timedelta(days=1)).replace(tzinfo=tz).utcoffset()


def test_outside_quiet_hours_or_on_the_customers_own_channel_an_action_goes_now(engine_with):
    tz = ZoneInfo("Europe/Paris")
    afternoon = datetime(2026, 3, 29, 15, 0, tzinfo=tz).astimezone(UTC)
    night = datetime(2026, 3, 29, 23, 0, tzinfo=tz).astimezone(UTC)
    engine = engine_with(QUIET, afternoon)
    _customer(engine, "c", night, (30, ProfileUpdate(time_zone="Europe/Paris")))

    assert engine.decide(DecideRequest("c", afternoon)).actions[0].send_at == afternoon
    assert engine.decide(DecideRequest("c", night, Channel.EMAIL)).actions[0].send_at == night  # on email now


def test_a_customer_without_a_time_zone_has_the_policys_default(engine_with):
    as_of = datetime(2026, 3, 29, 22, 0, tzinfo=UTC)  # 07:00 in Tokyo the next day: quiet there for an hour
    engine = engine_with(
        "contact: {quiet_hours: {start: '21:00', end: '08:00'}, default_time_zone: Asia/Tokyo}\n", as_of
    )
    _customer(engine, "c", as_of)

    [action] = engine.decide(DecideRequest("c", as_of)).actions

    assert action.send_at == datetime(2026, 3, 29, 23, 0, tzinfo=UTC)  # 08:00 in Tokyo


@pytest.mark.parametrize(("days_ago", "suppressed"), [(13.99, True), (14.0, False), (14.01, False)])
def test_a_complaint_suppresses_other_actions_for_exactly_n_days(engine_with, days_ago, suppressed):
    as_of = datetime(2026, 6, 1, 12, tzinfo=UTC)
    engine = engine_with("contact: {suppress_after_complaint_days: 14}\n", as_of)
    _customer(engine, "c", as_of, (days_ago, Complaint(complaint_id="k1", state="opened")))

    rules = [a.reason.rule_id for a in engine.decide(DecideRequest("c", as_of)).actions]

    assert ("boiler-service-due" not in rules) is suppressed


def test_a_dismissal_recorded_through_record_outcome_suppresses_that_action(engine_with):
    as_of = datetime(2026, 6, 1, 12, tzinfo=UTC)
    engine = engine_with("contact: {suppress_after_dismissal_days: 30}\n", as_of)
    _customer(engine, "c", as_of)
    [action] = engine.decide(DecideRequest("c", as_of)).actions

    engine.record_outcome(OutcomeReport(_decision_of(engine, "c"), action.action_id, Outcome.DISMISSED, as_of))

    assert engine.decide(DecideRequest("c", as_of + timedelta(days=29))).actions == ()
    assert [a.action_id for a in engine.decide(DecideRequest("c", as_of + timedelta(days=30))).actions] == [
        action.action_id
    ]
    customer = engine.states.as_of("c", as_of + timedelta(days=1), engine.rules.current.ruleset.catalogue)
    assert customer.contacts.by_action  # the outcome is in the customer's history: response rates read it


def _decision_of(engine: DecisionEngine, customer: str) -> str:
    [decision_id] = engine.store.customer_decision_ids(customer)
    return decision_id
