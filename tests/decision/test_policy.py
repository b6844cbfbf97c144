"""The contact policy (rules/policy.yaml): levers and context weights in the score, consent,
offer windows and stock, diversity, and the control group held out."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from engine.decision.engine import DecisionEngine
from engine.decision.types import DecideRequest, Decision
from engine.errors import RuleSetInvalid
from engine.events import Event, ProfileUpdate
from engine.policy import Control
from engine.ruleset.live import LiveRuleSet
from engine.ruleset.loader import load_rule_set
from engine.store.sqlite import SqliteStore
from engine.vocabulary import Channel, Family
from tests.conftest import REPO
from tests.features.builders import AS_OF, bought, event


@pytest.fixture
def decide(tmp_path: Path, rules_dir: Path) -> Iterator:
    opened = []

    def decide(policy: str, events: list[Event], channel: Channel | None = None, **context: str) -> Decision:
        (rules_dir / "policy.yaml").write_text(policy)
        rules, store = LiveRuleSet(rules_dir, AS_OF), SqliteStore(tmp_path / f"policy-{len(opened)}.db")
        opened.append((rules, store))
        engine = DecisionEngine(store, rules)
        engine.ingest([e.model_copy(update={"customer_id": "c"}) for e in events])
        return engine.decide(DecideRequest("c", AS_OF, channel, context=context))

    yield decide
    for rules, store in opened:
        rules.close()
        store.close()


BOILER_DUE = [bought(350, "boiler-ecotherm-30", price=900)]  # boiler-service-due: priority 5 x value 120, email first
DUE_TWICE = [*BOILER_DUE, bought(300, "water-filter-3pack", price=30)]  # and water-filter-change (replenishment)
INK_DUE = [bought(days, "ink-305-black", price=20) for days in (165, 110, 55)]  # ink-running-out (replenishment)


def _rules(decision: Decision) -> list[str]:
    return [a.reason.rule_id for a in decision.actions]


def test_levers_and_context_weights_multiply_the_score_and_each_term_is_shown(decide):
    policy = """
priority:
  levers:
    families: {maintenance_due: 1.5}
    offers: {boiler-service-booking: 2}
  context_weights:
    - {key: store_region, value: north, weight: 1.1}
"""
    [action] = decide(policy, BOILER_DUE, store_region="north").actions

    assert action.score == pytest.approx(5 * 120 * 1.5 * 2 * 1.1)
    assert action.reason.score_explanation.startswith(
        "priority 5 x value 120 x lever family maintenance_due 1.5 x lever offer boiler-service-booking 2"
        " x context store_region=north 1.1 = 1980"
    )


def test_a_withdrawn_channel_is_not_used_but_the_channel_the_customer_is_on_is(decide):
    no_email = [*BOILER_DUE, event(10, ProfileUpdate(consent_withdrawn=[Channel.EMAIL]))]
    nothing = [*BOILER_DUE, event(10, ProfileUpdate(consent_withdrawn=[Channel.EMAIL, Channel.SMS, Channel.POS]))]

    assert decide("{}", no_email).actions[0].channel == Channel.SMS  # email is first, but withdrawn
    assert decide("{}", nothing).actions == ()  # no channel left to send it by
    assert decide("{}", nothing, Channel.POS).actions[0].channel == Channel.POS  # at the till, consent is moot
    assert decide("eligibility: {respect_consent: false}", no_email).actions[0].channel == Channel.EMAIL


def test_the_profiles_preferred_channel_is_used_when_the_rule_allows_it_and_consent_stands(decide):
    prefers_sms = [*BOILER_DUE, event(10, ProfileUpdate(preferred_channel=Channel.SMS))]
    prefers_push = [*BOILER_DUE, event(10, ProfileUpdate(preferred_channel=Channel.PUSH))]
    withdrawn = [*prefers_sms, event(5, ProfileUpdate(consent_withdrawn=[Channel.SMS]))]

    assert decide("{}", prefers_sms).actions[0].channel == Channel.SMS  # allowed: [email, sms, pos]
    assert decide("{}", prefers_push).actions[0].channel == Channel.EMAIL  # not allowed: the rule's first
    assert decide("{}", withdrawn).actions[0].channel == Channel.EMAIL  # preferred, but withdrawn


def test_an_offer_outside_its_window_or_out_of_stock_is_not_proposed(decide):
    tomorrow = AS_OF.date() + timedelta(days=1)
    windowed = f"eligibility: {{offers: [{{offer: boiler-service-booking, valid_from: '{tomorrow}'}}]}}"
    stocked = "eligibility: {unavailable_offers_key: out_of_stock}"

    assert _rules(decide(windowed, BOILER_DUE)) == []
    assert _rules(decide(stocked, BOILER_DUE, out_of_stock="ink-refill, boiler-service-booking")) == []
    assert _rules(decide(stocked, BOILER_DUE, out_of_stock="ink-refill")) == ["boiler-service-due"]


def test_diversity_caps_the_actions_of_a_family(decide):
    both = decide("{}", [*DUE_TWICE, *INK_DUE])
    one_family = decide("diversity: {per_family: 1}", [*DUE_TWICE, *INK_DUE])

    assert sorted(_rules(both)) == ["boiler-service-due", "ink-running-out", "water-filter-change"]
    assert sorted(_rules(one_family)) == ["boiler-service-due", "ink-running-out"]  # the better of the two


def test_the_control_group_of_a_family_is_decided_and_held_out(decide):
    decision = decide("control: {families: {maintenance_due: 1.0}}", DUE_TWICE)

    assert [a.family for a in decision.actions] == [Family.REPLENISHMENT]
    assert [a.reason.rule_id for a in decision.held_out] == ["boiler-service-due"]


def test_the_control_share_over_100000_customers_is_within_half_a_point_and_the_same_in_another_process():
    control = Control(share=0.1, salt="trial-7")
    ids = [f"customer-{n}" for n in range(100_000)]

    held = [control.holds_out(i, Family.MAINTENANCE_DUE) for i in ids]
    script = (
        "from engine.policy import Control; from engine.vocabulary import Family; "
        "c = Control(share=0.1, salt='trial-7'); "
        "print(''.join('1' if c.holds_out(f'customer-{n}', Family.MAINTENANCE_DUE) else '0' for n in range(100_000)))"
    )
    elsewhere = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True)

    assert abs(sum(held) / len(ids) - 0.1) < 0.005
    assert elsewhere.stdout.strip() == "".join("1" if h else "0" for h in held)


@pytest.mark.parametrize(
    ("policy", "code", "line"),
    [
        ("priority:\n  levers:\n    rules: {no-such-rule: 2}\n", "unknown-rule", 3),
        ("eligibility:\n  offers:\n    - offer: no-such-offer\n", "unknown-offer", 3),
        ("control:\n  share: 1.5\n", "", 2),
    ],
)
def test_a_bad_policy_is_refused_with_file_and_line(rules_dir, policy, code, line):
    (rules_dir / "policy.yaml").write_text(policy)

    with pytest.raises(RuleSetInvalid) as refused:
        load_rule_set(rules_dir)

    [error] = refused.value.errors
    assert (Path(error.file).name, error.line) == ("policy.yaml", line)
    assert code in error.code
