"""Decide end to end: events in over gRPC, ranked actions with reasons out."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.api.generated import common_pb2, decision_pb2
from tests.helpers import days_ago, decide, ingest, purchase, service_visit

pytestmark = pytest.mark.e2e


def _actions_by_rule(response: decision_pb2.DecideResponse) -> dict[str, decision_pb2.Action]:
    return {a.reason.rule_id: a for a in response.actions}


def test_boiler_bought_350_days_ago_is_due_for_service(decisions):
    decisions.IngestEvents(ingest(purchase("alice", days_ago(350), "boiler-ecotherm-30", event_id="boiler-1")))

    response = decisions.Decide(decide("alice"))

    action = _actions_by_rule(response)["boiler-service-due"]
    assert action.offer_id == "boiler-service-booking"
    assert action.family == common_pb2.MAINTENANCE_DUE
    assert action.action_id == "boiler-service-due:asset:boiler-1/0"
    assert action.reason.matched_facts["asset.days_until_service"] == "15"
    assert action.reason.matched_facts["asset.category"] == "boiler"
    assert "15 days" in action.message.text
    assert response.ruleset_version
    assert response.decision_id


def test_boiler_bought_100_days_ago_is_not_due(decisions):
    decisions.IngestEvents(ingest(purchase("bob", days_ago(100), "boiler-ecotherm-30")))

    response = decisions.Decide(decide("bob"))

    assert "boiler-service-due" not in _actions_by_rule(response)


def test_a_service_visit_resets_the_maintenance_clock(decisions):
    decisions.IngestEvents(
        ingest(
            purchase("carol", days_ago(350), "boiler-ecotherm-30"),
            service_visit("carol", days_ago(20), "boiler-ecotherm-30"),
        )
    )

    assert "boiler-service-due" not in _actions_by_rule(decisions.Decide(decide("carol")))


def test_ink_bought_on_a_55_day_cadence_is_due_for_replenishment(decisions):
    decisions.IngestEvents(ingest(*(purchase("dana", days_ago(days), "ink-305-black") for days in (220, 165, 110, 52))))

    action = _actions_by_rule(decisions.Decide(decide("dana")))["ink-running-out"]

    assert action.family == common_pb2.REPLENISHMENT
    # the customer's own cadence (55 days a cartridge), not the catalogue's 60
    assert action.reason.matched_facts["consumable.days_until_runout"] == "3"


def test_ink_bought_recently_is_not_due(decisions):
    decisions.IngestEvents(ingest(*(purchase("erin", days_ago(days), "ink-305-black") for days in (165, 110, 55, 5))))

    assert "ink-running-out" not in _actions_by_rule(decisions.Decide(decide("erin")))


def test_stroller_bought_250_days_ago_proposes_a_car_seat(decisions):
    decisions.IngestEvents(ingest(purchase("fay", days_ago(250), "stroller-city-go")))

    action = _actions_by_rule(decisions.Decide(decide("fay")))["stroller-to-car-seat"]

    assert action.family == common_pb2.PLANNED_PURCHASE
    assert action.offer_id == "car-seat-offer"
    assert action.reason.matched_facts["follow_on.then_purchases"] == "0"


def test_no_car_seat_offer_once_one_was_bought(decisions):
    decisions.IngestEvents(
        ingest(
            purchase("gus", days_ago(250), "stroller-city-go"),
            purchase("gus", days_ago(30), "car-seat-isize"),
        )
    )

    assert "stroller-to-car-seat" not in _actions_by_rule(decisions.Decide(decide("gus")))


def test_no_car_seat_offer_for_a_stroller_bought_last_week(decisions):
    decisions.IngestEvents(ingest(purchase("hal", days_ago(7), "stroller-city-go")))

    assert "stroller-to-car-seat" not in _actions_by_rule(decisions.Decide(decide("hal")))


def test_events_after_as_of_are_not_seen(decisions):
    decisions.IngestEvents(ingest(purchase("ivy", days_ago(350), "boiler-ecotherm-30")))

    before_purchase = decisions.Decide(decide("ivy", as_of=days_ago(351)))

    assert before_purchase.actions == []


def test_actions_are_ranked_by_priority_times_value_without_a_model(decisions):
    decisions.IngestEvents(
        ingest(
            purchase("jo", days_ago(350), "boiler-ecotherm-30"),  # 5 x 120 = 600
            *(purchase("jo", days_ago(d), "ink-305-black") for d in (220, 165, 110, 52)),  # 4 x 35 = 140
        )
    )

    response = decisions.Decide(decide("jo"))

    assert [a.reason.rule_id for a in response.actions] == ["boiler-service-due", "ink-running-out"]
    assert [a.score for a in response.actions] == [600.0, 140.0]
    assert response.model_version == ""
    assert response.ranking_basis == decision_pb2.RANKING_BASIS_RULE_PRIORITY
    assert "no response model serving" in response.actions[0].reason.score_explanation


def test_max_actions_cuts_the_ranked_list(decisions):
    decisions.IngestEvents(
        ingest(
            purchase("kim", days_ago(350), "boiler-ecotherm-30"),
            purchase("kim", days_ago(250), "stroller-city-go"),
            *(purchase("kim", days_ago(d), "ink-305-black") for d in (220, 165, 110, 52)),
        )
    )

    assert len(decisions.Decide(decide("kim")).actions) == 3
    assert len(decisions.Decide(decide("kim", max_actions=1)).actions) == 1


def test_the_touchpoint_channel_is_used_when_the_rule_allows_it(decisions):
    # Two customers: told at the till, one would not be emailed the same within the cooldown.
    decisions.IngestEvents(ingest(*(purchase(c, days_ago(350), "boiler-ecotherm-30") for c in ("lee", "lea"))))

    at_the_till = decisions.Decide(decide("lee", channel=common_pb2.POS)).actions[0]
    in_the_app = decisions.Decide(decide("lea", channel=common_pb2.PUSH)).actions[0]

    assert at_the_till.channel == common_pb2.POS
    assert in_the_app.channel == common_pb2.EMAIL  # push is not allowed: the rule's first channel


def test_an_unknown_customer_gets_an_empty_decision(decisions):
    response = decisions.Decide(decide("never-seen"))

    assert response.decision_id
    assert response.ruleset_version
    assert list(response.actions) == []


def test_without_as_of_the_server_clock_is_used(decisions):
    request = decide("nobody")
    request.ClearField("as_of")

    before = datetime.now(UTC)
    response = decisions.Decide(request)

    assert before <= response.as_of.ToDatetime(tzinfo=UTC) <= datetime.now(UTC)
