"""RecordOutcome against stored decisions, and SweepDue over the whole customer base."""

from __future__ import annotations

import grpc
import pytest

from engine.api.generated import common_pb2, decision_pb2
from engine.vocabulary import Outcome
from tests.helpers import AS_OF, days_ago, decide, ingest, purchase, ts

pytestmark = pytest.mark.e2e


def _outcome(decision_id: str, action_id: str, outcome: int = common_pb2.ACCEPTED) -> decision_pb2.RecordOutcomeRequest:
    return decision_pb2.RecordOutcomeRequest(
        decision_id=decision_id, action_id=action_id, outcome=outcome, occurred_at=ts(AS_OF)
    )


def test_an_outcome_is_stored_against_its_decision_and_action(decisions, server):
    decisions.IngestEvents(ingest(purchase("amy", days_ago(350), "boiler-ecotherm-30")))
    decision = decisions.Decide(decide("amy"))
    action_id = decision.actions[0].action_id

    response = decisions.RecordOutcome(_outcome(decision.decision_id, action_id, common_pb2.CONVERTED))

    assert response.customer_id == "amy"
    [stored] = server.engine.store.outcomes(decision.decision_id)
    assert (stored.action_id, stored.outcome, stored.occurred_at) == (action_id, Outcome.CONVERTED, AS_OF)


@pytest.mark.parametrize("known_decision", [False, True])
def test_an_unknown_decision_or_action_is_not_found(decisions, known_decision):
    decision_id = decisions.Decide(decide("bea")).decision_id if known_decision else "no-such-decision"

    with pytest.raises(grpc.RpcError) as raised:
        decisions.RecordOutcome(_outcome(decision_id, "no-such-action"))

    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert ("no-such-action" if known_decision else "no-such-decision") in raised.value.details()


def test_an_outcome_must_be_named(decisions):
    with pytest.raises(grpc.RpcError) as raised:
        decisions.RecordOutcome(_outcome("d", "a", common_pb2.OUTCOME_UNSPECIFIED))

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert raised.value.details() == "outcome: is required"


def test_sweep_streams_the_due_actions_of_every_customer(decisions, server):
    decisions.IngestEvents(
        ingest(
            purchase("due-boiler", days_ago(350), "boiler-ecotherm-30"),
            purchase("due-stroller", days_ago(250), "stroller-city-go"),
            purchase("not-due", days_ago(100), "boiler-ecotherm-30"),
        )
    )

    due = list(decisions.SweepDue(decision_pb2.SweepDueRequest(as_of=ts(AS_OF))))

    assert sorted((d.customer_id, d.action.reason.rule_id) for d in due) == [
        ("due-boiler", "boiler-service-due"),
        ("due-stroller", "stroller-to-car-seat"),
    ]
    # each streamed action belongs to a stored decision, so outcomes can follow
    for d in due:
        assert server.engine.store.find_decision(d.decision_id).customer_id == d.customer_id


def test_sweep_gives_what_decide_gives_for_an_outbound_touchpoint_and_shares_its_contact_history(decisions):
    for customer in ("cy", "cy-twin"):
        decisions.IngestEvents(
            ingest(
                purchase(customer, days_ago(350), "boiler-ecotherm-30"),
                *(purchase(customer, days_ago(d), "ink-305-black") for d in (220, 165, 110, 52)),
            )
        )

    decided = list(decisions.Decide(decide("cy", channel=common_pb2.CHANNEL_UNSPECIFIED)).actions)
    swept = list(decisions.SweepDue(decision_pb2.SweepDueRequest(as_of=ts(AS_OF))))

    assert len(decided) == 2
    # The twin is swept to what cy was decided; cy, just sent them, is cooling down.
    assert [(d.customer_id, d.action.reason.rule_id, d.action.channel, d.action.score) for d in swept] == [
        ("cy-twin", a.reason.rule_id, a.channel, a.score) for a in decided
    ]


def test_sweep_as_of_a_date_sees_that_date(decisions):
    decisions.IngestEvents(ingest(purchase("dot", days_ago(350), "boiler-ecotherm-30")))

    a_year_earlier = list(decisions.SweepDue(decision_pb2.SweepDueRequest(as_of=ts(days_ago(300)))))

    assert a_year_earlier == []
