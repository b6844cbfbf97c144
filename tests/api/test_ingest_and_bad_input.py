"""IngestEvents and the guard rails: idempotency, per-event status, clear INVALID_ARGUMENT."""

from __future__ import annotations

import grpc
import pytest

from engine.api.generated import decision_pb2
from tests.helpers import days_ago, decide, ingest, purchase, ts

pytestmark = pytest.mark.e2e

ACCEPTED, DUPLICATE, REJECTED = (
    decision_pb2.EventStatus.ACCEPTED,
    decision_pb2.EventStatus.DUPLICATE,
    decision_pb2.EventStatus.REJECTED,
)


def _invalid(call, request) -> str:
    with pytest.raises(grpc.RpcError) as raised:
        call(request)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    return raised.value.details()


def test_the_same_event_id_is_stored_once(decisions, server):
    event = purchase("ann", days_ago(10), "ink-305-black", event_id="pos-42")

    first = decisions.IngestEvents(ingest(event))
    second = decisions.IngestEvents(ingest(event))

    assert [s.code for s in first.statuses] == [ACCEPTED]
    assert [s.code for s in second.statuses] == [DUPLICATE]
    assert len(server.engine.store.load_customer("ann").events) == 1


def test_a_duplicate_within_one_batch_is_stored_once(decisions, server):
    event = purchase("ben", days_ago(10), "ink-305-black", event_id="web-7")

    response = decisions.IngestEvents(ingest(event, event))

    assert [s.code for s in response.statuses] == [ACCEPTED, DUPLICATE]
    assert len(server.engine.store.load_customer("ben").events) == 1


def test_one_bad_event_does_not_reject_its_neighbours(decisions, server):
    good = purchase("cat", days_ago(10), "ink-305-black", event_id="good")
    bad = purchase("", days_ago(10), "ink-305-black", event_id="bad")

    response = decisions.IngestEvents(ingest(good, bad))

    assert [(s.event_id, s.code) for s in response.statuses] == [("good", ACCEPTED), ("bad", REJECTED)]
    assert "events[1].customer_id" in response.statuses[1].reason
    assert len(server.engine.store.load_customer("cat").events) == 1


def test_decide_without_a_customer_id_names_the_field(decisions):
    assert _invalid(decisions.Decide, decide("")).startswith("customer_id:")


def test_an_event_without_a_type_names_the_payload(decisions):
    event = decision_pb2.Event(event_id="e1", customer_id="dee", occurred_at=ts(days_ago(1)))

    details = _invalid(decisions.IngestEvents, ingest(event))

    assert details.startswith("events[0].payload:")
    assert "purchase" in details  # lists the known types


def test_an_event_without_a_customer_id_names_the_field(decisions):
    assert _invalid(decisions.IngestEvents, ingest(purchase("", days_ago(1), "ink-305-black"))).startswith(
        "events[0].customer_id:"
    )


@pytest.mark.parametrize("seconds", [-100_000_000_000, 253_402_300_800 * 10, 7_258_118_400 + 1])
def test_a_timestamp_out_of_range_names_the_field(decisions, seconds):
    event = purchase("eve", days_ago(1), "ink-305-black")
    event.occurred_at.seconds = seconds

    details = _invalid(decisions.IngestEvents, ingest(event))

    assert details.startswith("events[0].occurred_at: timestamp out of range")


def test_as_of_out_of_range_names_the_field(decisions):
    request = decide("eve")
    request.as_of.seconds = -90_000_000_000

    assert _invalid(decisions.Decide, request).startswith("as_of: timestamp out of range")


def test_a_batch_too_large_is_refused_whole(decisions, server):
    events = [purchase("fox", days_ago(1), "ink-305-black") for _ in range(1001)]

    details = _invalid(decisions.IngestEvents, ingest(*events))

    assert details.startswith("events: a batch of 1001 events exceeds the limit of 1000")
    assert server.engine.store.load_customer("fox").events == ()


def test_an_unknown_enum_value_names_the_field(decisions):
    request = decide("gil")
    request.touchpoint.channel = 99

    assert _invalid(decisions.Decide, request) == "touchpoint.channel: unknown value 99"


def test_a_bad_nested_field_is_named_with_its_path(decisions):
    event = purchase("hue", days_ago(1), "ink-305-black")
    event.purchase.items[0].quantity = -2

    details = _invalid(decisions.IngestEvents, ingest(event))

    assert details.startswith("events[0].purchase.items[0].quantity:")


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [("max_actions", 51, "max_actions:"), ("context", {"Bad Key": "x"}, "context['Bad Key']:")],
)
def test_decide_limits_name_the_field(decisions, field, value, named):
    request = decide("ida")
    if field == "context":
        request.context.update(value)
    else:
        setattr(request, field, value)

    assert _invalid(decisions.Decide, request).startswith(named)


def test_the_server_keeps_serving_after_bad_input(decisions):
    for _ in range(3):
        _invalid(decisions.Decide, decide(""))

    assert decisions.Decide(decide("jay")).decision_id
