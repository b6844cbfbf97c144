"""ExportCustomer and ForgetCustomer: everything held on a customer, returned or erased."""

from __future__ import annotations

import json

import grpc
import pytest

from engine.api.generated import admin_pb2, common_pb2, decision_pb2
from tests.helpers import AS_OF, days_ago, decide, ingest, purchase, ts

pytestmark = pytest.mark.e2e


def _history(decisions, customer: str) -> decision_pb2.DecideResponse:
    """Two events, a decision with an action, and two outcomes against it."""
    decisions.IngestEvents(
        ingest(
            purchase(customer, days_ago(350), "boiler-ecotherm-30", event_id=f"{customer}-1"),
            purchase(customer, days_ago(20), "ink-305-black", event_id=f"{customer}-2"),
        )
    )
    decision = decisions.Decide(decide(customer))
    for outcome in (common_pb2.OPENED, common_pb2.ACCEPTED):
        decisions.RecordOutcome(
            decision_pb2.RecordOutcomeRequest(
                decision_id=decision.decision_id,
                action_id=decision.actions[0].action_id,
                outcome=outcome,
                occurred_at=ts(AS_OF),
            )
        )
    return decision


def _export(admin, customer: str) -> dict:
    response = admin.ExportCustomer(admin_pb2.ExportCustomerRequest(customer_id=customer))
    return json.loads(response.document_json)


def test_an_export_holds_the_customers_events_decisions_and_outcomes(admin, decisions):
    decision = _history(decisions, "ann")
    _history(decisions, "bob")

    export = _export(admin, "ann")

    assert export["customer_id"] == "ann"
    action = f"{decision.decision_id}:{decision.actions[0].action_id}"
    # The action sent and the outcomes recorded are in the customer's history too, as contact events.
    assert [e["event_id"] for e in export["events"]] == [
        "ann-1",
        "ann-2",
        f"contact:{action}",
        f"outcome:{action}:accepted",
        f"outcome:{action}:opened",
    ]
    assert export["events"][0]["payload"]["items"][0]["product_id"] == "boiler-ecotherm-30"
    assert export["derived_state"]["state"]["spend"]["purchases"] == 2  # what Forestall derived from them
    [exported] = export["decisions"]
    assert exported["decision_id"] == decision.decision_id
    assert list(exported["actions"]) == [a.action_id for a in decision.actions]
    assert [o["outcome"] for o in exported["outcomes"]] == ["accepted", "opened"]  # same moment: by name


def test_forgetting_erases_everything_and_counts_it(admin, decisions):
    decision = _history(decisions, "ann")
    _history(decisions, "bob")

    response = admin.ForgetCustomer(admin_pb2.ForgetCustomerRequest(customer_id="ann"))

    # events (two sent, the contact made, two outcomes), the decision, its outcomes
    assert response.records_erased == 5 + 1 + 2
    assert _export(admin, "ann") == {"customer_id": "ann", "events": [], "derived_state": None, "decisions": []}
    assert len(_export(admin, "bob")["events"]) == 5
    assert admin.GetStatus(admin_pb2.GetStatusRequest()).customer_count == 1
    with pytest.raises(grpc.RpcError) as raised:
        decisions.RecordOutcome(
            decision_pb2.RecordOutcomeRequest(
                decision_id=decision.decision_id, action_id=decision.actions[0].action_id, outcome=common_pb2.OPENED
            )
        )
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


def test_forgetting_an_unknown_customer_erases_nothing(admin):
    assert admin.ForgetCustomer(admin_pb2.ForgetCustomerRequest(customer_id="nobody")).records_erased == 0


@pytest.mark.parametrize(
    "call",
    [
        lambda admin: admin.ExportCustomer(admin_pb2.ExportCustomerRequest()),
        lambda admin: admin.ForgetCustomer(admin_pb2.ForgetCustomerRequest()),
    ],
    ids=["export", "forget"],
)
def test_a_customer_id_is_required(admin, call):
    with pytest.raises(grpc.RpcError) as raised:
        call(admin)

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert raised.value.details() == "customer_id: is required"
