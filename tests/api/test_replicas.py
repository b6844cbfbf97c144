"""Two server replicas sharing one Redis: what one returns, the other knows at once. The
cooldown of an action and a channel's daily capacity hold across them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from engine.api.generated import admin_pb2, admin_pb2_grpc, common_pb2, decision_pb2, decision_pb2_grpc
from engine.api.server import start_server
from engine.config import Settings
from tests.helpers import days_ago, decide, ingest, purchase, review
from tests.store.test_store_contract import REDIS_URL, redis_keyspace

POLICY = """
contact:
  cooldown: {action_days: 7}
  capacity: {call_centre: 1}
"""
OUTBOUND = common_pb2.CHANNEL_UNSPECIFIED


@dataclass(frozen=True)
class Replica:
    decisions: decision_pb2_grpc.DecisionServiceStub
    admin: admin_pb2_grpc.AdminServiceStub

    def why(self, customer: str, rule_id: str) -> list[str]:
        request = admin_pb2.ExplainRequest(request=decide(customer, channel=OUTBOUND))
        document = json.loads(self.admin.Explain(request).document_json)
        return [f"{c['verdict']}: {c['reason']}" for c in document["considered"] if c["rule_id"] == rule_id]


@pytest.fixture
def replicas(rules_dir: Path) -> Iterator[tuple[Replica, Replica]]:
    (rules_dir / "policy.yaml").write_text(POLICY)
    with redis_keyspace() as prefix:
        settings = Settings(port=0, store=f"{REDIS_URL}?key_prefix={prefix}", rules_dir=rules_dir, workers=2)
        running = [start_server(settings), start_server(settings)]
        channels = [grpc.insecure_channel(f"127.0.0.1:{r.port}") for r in running]
        try:
            one, other = (
                Replica(decision_pb2_grpc.DecisionServiceStub(c), admin_pb2_grpc.AdminServiceStub(c)) for c in channels
            )
            yield one, other
        finally:
            for channel in channels:
                channel.close()
            for server in running:
                server.stop(grace=1)


def _rules(response: decision_pb2.DecideResponse) -> list[str]:
    return [a.reason.rule_id for a in response.actions]


@pytest.mark.e2e
def test_the_cooldown_holds_across_two_replicas_sharing_redis(replicas):
    one, other = replicas
    one.decisions.IngestEvents(ingest(purchase("amy", days_ago(350), "boiler-ecotherm-30")))

    sent = one.decisions.Decide(decide("amy", channel=OUTBOUND))
    again = other.decisions.Decide(decide("amy", channel=OUTBOUND))
    a_week_on = other.decisions.Decide(decide("amy", as_of=days_ago(-7), channel=OUTBOUND))

    assert _rules(sent) == ["boiler-service-due"]
    assert _rules(again) == []
    assert other.why("amy", "boiler-service-due") == ["dropped: cooldown: sent 0 days ago (7 days)"]
    assert _rules(a_week_on) == ["boiler-service-due"]


@pytest.mark.e2e
def test_a_channels_daily_capacity_holds_across_two_replicas(replicas):
    one, other = replicas
    # Two unhappy reviewers; customer care (call_centre only) makes one call a day for everyone.
    for customer in ("bea", "cal"):
        one.decisions.IngestEvents(
            ingest(purchase(customer, days_ago(20), "ink-305-black"), review(customer, days_ago(1), 1, "awful"))
        )

    first = one.decisions.Decide(decide("bea", channel=OUTBOUND))
    second = other.decisions.Decide(decide("cal", channel=OUTBOUND))

    assert _rules(first) == ["unhappy-reviewer-call"]
    assert _rules(second) == []
    [why] = other.why("cal", "unhappy-reviewer-call")
    assert why.startswith("no channel:") and "call_centre: capacity: the 1 call_centre action(s) of" in why
