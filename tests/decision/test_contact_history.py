"""Contact history on a virtual clock: what a decision returns is remembered, so frequency caps,
cooldowns per action and family, each channel's daily capacity and the learnt send hour hold
from one call to the next; what the customer is shown on the channel they are on is never held
back; and Explain says which limit removed what."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from engine.decision.engine import DecisionEngine, OutcomeReport
from engine.decision.types import DecideRequest, Decision
from engine.events import ContactMade, ContactOutcome, Event, LineItem, ProfileUpdate, Purchase
from engine.ruleset.live import LiveRuleSet
from engine.store.sqlite import SqliteStore
from engine.vocabulary import Channel, Family, Outcome

T0 = datetime(2026, 6, 1, 12, tzinfo=UTC)  # 14:00 in Paris, the policy's default zone
# boiler-service-due (channels email, sms, pos) fires for a boiler bought 350 days before.
BOILER = Purchase(items=[LineItem(product_id="boiler-ecotherm-30", quantity=1, unit_price=900)])
NO_EMAIL = ProfileUpdate(preferred_channel=Channel.SMS, consent_withdrawn=[Channel.EMAIL])

MakeEngine = Callable[..., DecisionEngine]


@pytest.fixture
def engine_with(tmp_path: Path, rules_dir: Path) -> Iterator[MakeEngine]:
    """Engines over the sample rules with a policy of the test's, sharing one store when asked."""
    opened: list[LiveRuleSet | SqliteStore] = []

    def engine(policy: str, store: SqliteStore | None = None) -> DecisionEngine:
        (rules_dir / "policy.yaml").write_text(policy)
        rules = LiveRuleSet(rules_dir, T0)
        store = store or SqliteStore(tmp_path / f"history-{len(opened)}.db")
        opened.extend([rules, store])
        return DecisionEngine(store, rules)

    yield engine
    for part in opened:
        part.close()


def _boiler_owner(engine: DecisionEngine, customer: str, *profile: ProfileUpdate) -> None:
    events = [(T0 - timedelta(days=350), BOILER), *((T0 - timedelta(days=30), p) for p in profile)]
    engine.ingest(
        [
            Event(event_id=f"{customer}-{n}", customer_id=customer, occurred_at=at, payload=payload)
            for n, (at, payload) in enumerate(events)
        ]
    )


def _sent(decision: Decision) -> list[tuple[str, Channel]]:
    return [(a.reason.rule_id, a.channel) for a in decision.actions]


def _why(engine: DecisionEngine, customer: str, as_of: datetime, channel: Channel | None = None) -> list[str]:
    explained = engine.explain(DecideRequest(customer, as_of, channel))
    return [f"{c.verdict}: {c.reason}" for c in explained.considered if c.rule_id == "boiler-service-due"]


def test_the_third_sms_within_the_window_is_dropped_and_the_first_falls_out_of_it_after_seven_days(engine_with):
    engine = engine_with("contact: {caps: [{channels: [sms], at_most: 2, days: 7}]}\n")
    _boiler_owner(engine, "c", NO_EMAIL)

    first, second, third = (engine.decide(DecideRequest("c", T0 + timedelta(days=d))) for d in (0, 1, 2))

    assert _sent(first) == _sent(second) == [("boiler-service-due", Channel.SMS)]
    assert _sent(third) == []
    [why] = _why(engine, "c", T0 + timedelta(days=2))
    assert (
        why.startswith("no channel: ") and "sms: frequency cap: 2 sms contact(s) in the last 7 days (at most 2)" in why
    )
    assert "email: consent withdrawn" in why
    # Seven days after the first, one of the two has left the window.
    assert _sent(engine.decide(DecideRequest("c", T0 + timedelta(days=7, seconds=1)))) == [
        ("boiler-service-due", Channel.SMS)
    ]


def test_a_capped_channel_gives_way_to_the_next_the_rule_allows(engine_with):
    engine = engine_with("contact: {caps: [{channels: [sms], at_most: 1, days: 7}]}\n")
    _boiler_owner(engine, "c", ProfileUpdate(preferred_channel=Channel.SMS))

    by_sms, then_by_email = (engine.decide(DecideRequest("c", T0 + timedelta(hours=h))) for h in (0, 1))

    assert _sent(by_sms) == [("boiler-service-due", Channel.SMS)]
    assert _sent(then_by_email) == [("boiler-service-due", Channel.EMAIL)]


def test_a_cap_over_several_channels_counts_them_together(engine_with):
    engine = engine_with("contact: {caps: [{channels: [email, sms], at_most: 1, days: 7}]}\n")
    _boiler_owner(engine, "c")
    engine.ingest(
        [
            Event(
                event_id="campaign-1",
                customer_id="c",
                occurred_at=T0 - timedelta(days=6),
                payload=ContactMade(channel=Channel.EMAIL),  # sent by another tool, reported to us
            )
        ]
    )

    assert _sent(engine.decide(DecideRequest("c", T0))) == []
    assert _sent(engine.decide(DecideRequest("c", T0 + timedelta(days=1, seconds=1)))) == [
        ("boiler-service-due", Channel.EMAIL)
    ]


def test_an_action_cools_down_for_exactly_its_days_but_not_on_the_channel_the_customer_is_on(engine_with):
    engine = engine_with("contact: {cooldown: {action_days: 10}}\n")
    _boiler_owner(engine, "c")
    engine.decide(DecideRequest("c", T0))

    assert _sent(engine.decide(DecideRequest("c", T0 + timedelta(days=9, hours=23)))) == []
    assert _why(engine, "c", T0 + timedelta(days=9)) == ["dropped: cooldown: sent 9 days ago (10 days)"]
    assert _sent(engine.decide(DecideRequest("c", T0 + timedelta(days=9), Channel.POS))) == [
        ("boiler-service-due", Channel.POS)
    ]
    # Told at the till on day 9, the customer is not sent it again before day 19.
    assert _sent(engine.decide(DecideRequest("c", T0 + timedelta(days=18, hours=23)))) == []
    assert _sent(engine.decide(DecideRequest("c", T0 + timedelta(days=19)))) == [("boiler-service-due", Channel.EMAIL)]


def test_a_family_cools_down_for_its_own_days(engine_with):
    engine = engine_with("contact: {cooldown: {families: {maintenance_due: 5}}}\n")
    _boiler_owner(engine, "c")
    engine.ingest(
        [
            Event(
                event_id="other-maintenance",
                customer_id="c",
                occurred_at=T0 - timedelta(days=4),
                payload=ContactMade(channel=Channel.EMAIL, action_id="another:rule", family=Family.MAINTENANCE_DUE),
            )
        ]
    )

    assert _why(engine, "c", T0) == [
        "dropped: cooldown: an action of the family maintenance_due was sent 4 days ago (5 days)"
    ]
    assert _sent(engine.decide(DecideRequest("c", T0 + timedelta(days=1)))) == [("boiler-service-due", Channel.EMAIL)]


def test_the_daily_capacity_of_a_channel_is_shared_by_every_engine_on_the_store_and_renews_each_day(
    engine_with, tmp_path
):
    policy = "contact: {capacity: {sms: 2}}\n"
    store = SqliteStore(tmp_path / "shared.db")
    one, other = engine_with(policy, store), engine_with(policy)
    other = DecisionEngine(store, other.rules)  # a second replica on the same store
    for n in range(4):
        _boiler_owner(one, f"c{n}", NO_EMAIL)

    sent = [_sent(replica.decide(DecideRequest(f"c{n}", T0))) for n, replica in enumerate([one, other, one, other])]

    assert sent[:2] == [[("boiler-service-due", Channel.SMS)]] * 2
    assert sent[2:] == [[], []]
    [why] = _why(one, "c2", T0)
    assert "sms: capacity: the 2 sms action(s) of 2026-06-01 are taken" in why
    assert _sent(other.decide(DecideRequest("c2", T0 + timedelta(days=1)))) == [("boiler-service-due", Channel.SMS)]


def test_explain_takes_no_capacity_and_makes_no_contact(engine_with):
    engine = engine_with("contact: {capacity: {sms: 1}, cooldown: {action_days: 7}}\n")
    _boiler_owner(engine, "c", NO_EMAIL)

    for _ in range(3):
        engine.explain(DecideRequest("c", T0))

    assert _sent(engine.decide(DecideRequest("c", T0))) == [("boiler-service-due", Channel.SMS)]


def test_the_control_groups_actions_count_as_sent_but_take_no_capacity(engine_with):
    engine = engine_with("contact: {capacity: {sms: 1}, cooldown: {action_days: 7}}\ncontrol: {share: 1.0}\n")
    _boiler_owner(engine, "c", NO_EMAIL)
    _boiler_owner(engine, "d", NO_EMAIL)

    held = engine.decide(DecideRequest("c", T0))
    held_again = engine.decide(DecideRequest("c", T0 + timedelta(days=1)))
    other = engine.decide(DecideRequest("d", T0))

    assert [a.reason.rule_id for a in held.held_out] == ["boiler-service-due"]
    assert held_again.held_out == ()  # cooling down as if it had been sent
    assert [a.reason.rule_id for a in other.held_out] == ["boiler-service-due"]  # the slot was never taken


@pytest.mark.parametrize("zone", ["Europe/Paris", "America/New_York", "Asia/Tokyo"])
def test_an_outbound_action_goes_at_the_local_hour_the_customer_most_often_answers_at(engine_with, zone):
    engine = engine_with("contact: {quiet_hours: {start: '21:00', end: '08:00'}}\n")
    tz = ZoneInfo(zone)
    _boiler_owner(engine, "c", ProfileUpdate(time_zone=zone))
    _answered_at(engine, "c", tz, [(18, 10), (18, 40), (9, 5), (23, 30), (23, 45), (23, 50)])
    # 23:00 answers fall in the quiet hours: 18:00 is the most frequent hour they may be sent at.
    morning = datetime(2026, 6, 1, 10, 0, tzinfo=tz).astimezone(UTC)

    [action] = engine.decide(DecideRequest("c", morning)).actions

    assert action.send_at.astimezone(tz).replace(tzinfo=None) == datetime(2026, 6, 1, 18, 0)
    assert action.reason.timing == f"at 18:00 {zone}, the hour they have most often answered at"


def test_too_few_answers_or_a_wait_beyond_the_limit_sends_now(engine_with):
    tz = ZoneInfo("Europe/Paris")
    engine = engine_with("contact: {send_time: {min_responses: 3, max_delay_hours: 4}}\n")
    _boiler_owner(engine, "few")
    _answered_at(engine, "few", tz, [(18, 0), (18, 5)])
    _boiler_owner(engine, "far")
    _answered_at(engine, "far", tz, [(18, 0), (18, 5), (18, 10)])
    noon = datetime(2026, 6, 1, 12, 0, tzinfo=tz).astimezone(UTC)

    assert [a.send_at for a in engine.decide(DecideRequest("few", noon)).actions] == [noon]
    assert [a.send_at for a in engine.decide(DecideRequest("far", noon)).actions] == [noon]
    afternoon = datetime(2026, 6, 1, 15, 0, tzinfo=tz).astimezone(UTC)
    [action] = engine.decide(DecideRequest("far", afternoon)).actions
    assert action.send_at.astimezone(tz).hour == 18


def _answered_at(engine: DecisionEngine, customer: str, tz: ZoneInfo, times: list[tuple[int, int]]) -> None:
    """The customer opened an earlier email at each local (hour, minute), on days before T0."""
    for n, (hour, minute) in enumerate(times):
        day = T0 - timedelta(days=60 - n)
        decided = day.replace(hour=6, minute=0)
        engine.ingest(
            [
                Event(
                    event_id=f"{customer}-contact-{n}",
                    customer_id=customer,
                    occurred_at=decided,
                    payload=ContactMade(channel=Channel.EMAIL, decision_id=f"d{n}", action_id=f"old:{n}"),
                )
            ]
        )
        opened = datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz).astimezone(UTC)
        engine.ingest(
            [
                Event(
                    event_id=f"{customer}-opened-{n}",
                    customer_id=customer,
                    occurred_at=opened,
                    payload=ContactOutcome(decision_id=f"d{n}", action_id=f"old:{n}", outcome=Outcome.OPENED),
                )
            ]
        )


def test_a_dismissal_and_the_contact_it_answers_are_in_the_history_for_response_rates(engine_with):
    engine = engine_with("")
    _boiler_owner(engine, "c")
    decision = engine.decide(DecideRequest("c", T0))
    engine.record_outcome(
        OutcomeReport(decision.decision_id, decision.actions[0].action_id, Outcome.DISMISSED, T0 + timedelta(hours=1))
    )

    state = engine.states.as_of("c", T0 + timedelta(hours=2), engine.rules.current.ruleset.catalogue)

    assert state.sent.action_sent == {decision.actions[0].action_id: T0}
    assert state.sent.family_sent == {"maintenance_due": T0}
    assert state.sent.by_channel == {"email": [T0]}
    assert state.latest_event["kind"] == "contact_outcome"  # a contact made is not the customer's own event


def test_an_unsubscribe_closes_its_channel_and_a_complaint_about_a_contact_suppresses(engine_with):
    engine = engine_with("contact: {suppress_after_complaint_days: 14}\n")
    _boiler_owner(engine, "c", ProfileUpdate(preferred_channel=Channel.SMS))
    by_sms = engine.decide(DecideRequest("c", T0))
    engine.record_outcome(
        OutcomeReport(by_sms.decision_id, by_sms.actions[0].action_id, Outcome.UNSUBSCRIBED, T0 + timedelta(hours=1))
    )
    by_email = engine.decide(DecideRequest("c", T0 + timedelta(days=1)))
    engine.record_outcome(
        OutcomeReport(by_email.decision_id, by_email.actions[0].action_id, Outcome.COMPLAINED, T0 + timedelta(days=2))
    )

    assert _sent(by_sms) == [("boiler-service-due", Channel.SMS)]
    assert _sent(by_email) == [("boiler-service-due", Channel.EMAIL)]
    assert _why(engine, "c", T0 + timedelta(days=15, hours=23)) == [
        "dropped: suppressed: a complaint 13.96 days ago (14 days)"
    ]
    assert _sent(engine.decide(DecideRequest("c", T0 + timedelta(days=16)))) == [("boiler-service-due", Channel.EMAIL)]


def test_an_excluded_account_status_is_sent_nothing_but_is_shown_at_the_till(engine_with):
    engine = engine_with("eligibility: {excluded_statuses: [closed]}\n")
    _boiler_owner(engine, "c", ProfileUpdate(status="closed"))

    assert _sent(engine.decide(DecideRequest("c", T0))) == []
    [why] = _why(engine, "c", T0)
    assert "email: eligibility: the customer's status is closed" in why
    assert _sent(engine.decide(DecideRequest("c", T0, Channel.POS))) == [("boiler-service-due", Channel.POS)]
