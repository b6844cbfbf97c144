"""The Prometheus endpoint, scraped over HTTP after real calls: latency, decisions, rules fired, reloads,
errors, store latency, events and outcomes move as the calls say; one registry per server; off is off."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from engine.api.generated import admin_pb2, admin_pb2_grpc, common_pb2, decision_pb2, decision_pb2_grpc
from engine.api.server import RunningServer, start_server
from engine.config import DEFAULT_PROMETHEUS_PORT, Settings
from engine.store.timed import TimedStore
from tests.api.test_admin import NEW_RULE
from tests.helpers import AS_OF, days_ago, decide, ingest, purchase, ts

pytestmark = pytest.mark.e2e

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def settings(tmp_path: Path, rules_dir: Path, **fields: object) -> Settings:
    return Settings(
        port=0,
        store=tmp_path / f"s{len(list(tmp_path.glob('s*.db')))}.db",
        rules_dir=rules_dir,
        models_dir=tmp_path / "models",
        rules_poll_seconds=0,
        models_poll_seconds=0,
        **{"prometheus_port": 0, **fields},
    )


@pytest.fixture
def measured(tmp_path: Path, rules_dir: Path) -> Iterator[RunningServer]:
    running = start_server(settings(tmp_path, rules_dir))
    yield running
    running.stop(grace=1)


def scrape_text(running: RunningServer) -> str:
    assert running.metrics_endpoint is not None
    with urllib.request.urlopen(f"http://127.0.0.1:{running.metrics_endpoint.port}/metrics", timeout=5) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        return response.read().decode()


def scrape(running: RunningServer) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(scrape_text(running))
        for sample in family.samples
    }


def at(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_calls_move_the_counters_and_histograms(measured, rules_dir, tmp_path):
    before = scrape(measured)
    assert at(before, "forestall_decisions_total", result="empty") == 0  # present from the start, at 0
    assert ("forestall_reloads_total", frozenset({("what", "rules"), ("result", "failed")})) in before

    with grpc.insecure_channel(f"127.0.0.1:{measured.port}") as channel:
        decisions = decision_pb2_grpc.DecisionServiceStub(channel)
        admin = admin_pb2_grpc.AdminServiceStub(channel)
        boiler = purchase("amy", days_ago(350), "boiler-ecotherm-30", event_id="pos-1")
        nameless = decision_pb2.Event(event_id="pos-2", occurred_at=ts(days_ago(3)))
        decisions.IngestEvents(ingest(boiler, nameless))  # accepted, rejected
        decisions.IngestEvents(ingest(boiler))  # duplicate
        with pytest.raises(grpc.RpcError):  # refused whole: two rejected
            decisions.IngestEvents(ingest(nameless, nameless))

        decision = decisions.Decide(decide("amy"))
        assert [a.reason.rule_id for a in decision.actions] == ["boiler-service-due"]
        assert decisions.Decide(decide("nobody")).actions == []
        with pytest.raises(grpc.RpcError):
            decisions.Decide(decide(""))
        admin.Explain(admin_pb2.ExplainRequest(request=decide("amy")))  # explained, not decided
        swept = list(decisions.SweepDue(decision_pb2.SweepDueRequest(as_of=ts(AS_OF))))

        outcome = decision_pb2.RecordOutcomeRequest(
            decision_id=decision.decision_id, action_id=decision.actions[0].action_id, outcome=common_pb2.ACCEPTED
        )
        decisions.RecordOutcome(outcome)
        with pytest.raises(grpc.RpcError):
            decisions.RecordOutcome(
                decision_pb2.RecordOutcomeRequest(decision_id="nope", action_id="a", outcome=common_pb2.OPENED)
            )

        (rules_dir / "early.yaml").write_text("rules:" + NEW_RULE, encoding="utf-8")
        assert admin.ReloadRules(admin_pb2.ReloadRulesRequest()).reloaded
        (rules_dir / "broken.yaml").write_text("rules: [", encoding="utf-8")
        assert not admin.ReloadRules(admin_pb2.ReloadRulesRequest()).reloaded
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "promoted.json").write_text(json.dumps({"churn": "20990101-missing"}))
    measured.engine.models.reload()

    after = scrape(measured)

    def moved(name: str, **labels: str) -> float:
        return at(after, name, **labels) - at(before, name, **labels)

    assert moved("forestall_events_ingested_total", result="accepted") == 1
    assert moved("forestall_events_ingested_total", result="duplicate") == 1
    assert moved("forestall_events_ingested_total", result="rejected") == 3
    # Decide amy, Decide nobody and the sweep's one customer; never Explain.
    assert (
        moved("forestall_decisions_total", result="actions") + moved("forestall_decisions_total", result="empty") == 3
    )
    assert moved("forestall_decisions_total", result="empty") >= 1
    returned = 1 + sum(d.action.family == common_pb2.MAINTENANCE_DUE for d in swept)
    assert moved("forestall_actions_total", family="maintenance_due", disposition="returned") == returned
    assert moved("forestall_rules_fired_total", rule="boiler-service-due") == 2  # proposed to amy twice
    assert moved("forestall_outcomes_recorded_total", outcome="accepted") == 1
    assert moved("forestall_reloads_total", what="rules", result="ok") == 1
    assert moved("forestall_reloads_total", what="rules", result="failed") == 1
    assert moved("forestall_reloads_total", what="models", result="failed") == 1
    for rpc, calls in [("Decide", 3), ("IngestEvents", 3), ("Explain", 1), ("SweepDue", 1), ("RecordOutcome", 2)]:
        assert moved("forestall_rpc_duration_seconds_count", rpc=rpc) == calls, rpc
        assert moved("forestall_rpc_duration_seconds_bucket", rpc=rpc, le="+Inf") == calls, rpc
    assert at(after, "forestall_rpc_duration_seconds_sum", rpc="Decide") > 0
    assert moved("forestall_rpc_errors_total", rpc="Decide", code="INVALID_ARGUMENT") == 1
    assert moved("forestall_rpc_errors_total", rpc="IngestEvents", code="INVALID_ARGUMENT") == 1
    assert moved("forestall_rpc_errors_total", rpc="RecordOutcome", code="NOT_FOUND") == 1
    assert not [key for key in after if key[0] == "forestall_rpc_errors_total" and ("code", "OK") in key[1]]
    # Every decision stored, and four ingestions reached the store: two batches, the contact made by the
    # decision that returned an action, and the outcome's event.
    assert moved("forestall_store_duration_seconds_count", operation="save_decision") == 3
    assert moved("forestall_store_duration_seconds_count", operation="ingest_changes") == 4
    assert moved("forestall_store_duration_seconds_count", operation="find_decision") == 2
    # No customer id in any label.
    text = scrape_text(measured)
    assert "amy" not in text and "nobody" not in text


def test_refusals_at_the_door_count_as_errors(tmp_path, rules_dir):
    running = start_server(settings(tmp_path, rules_dir, auth_tokens="decision:d-1,admin:a-1"))
    try:
        with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            for call, request, token in [
                (decision_pb2_grpc.DecisionServiceStub(channel).Decide, decide("amy"), None),
                (admin_pb2_grpc.AdminServiceStub(channel).GetStatus, admin_pb2.GetStatusRequest(), "d-1"),
            ]:
                with pytest.raises(grpc.RpcError):
                    call(request, metadata=[("authorization", f"Bearer {token}")] if token else [])
            admin_pb2_grpc.AdminServiceStub(channel).GetStatus(
                admin_pb2.GetStatusRequest(), metadata=[("authorization", "Bearer a-1")]
            )
        samples = scrape(running)
    finally:
        running.stop(grace=1)

    assert at(samples, "forestall_rpc_errors_total", rpc="Decide", code="UNAUTHENTICATED") == 1
    assert at(samples, "forestall_rpc_errors_total", rpc="GetStatus", code="PERMISSION_DENIED") == 1
    assert at(samples, "forestall_rpc_duration_seconds_count", rpc="GetStatus") == 2


def test_each_server_counts_its_own_calls(tmp_path, rules_dir):
    first, second = start_server(settings(tmp_path, rules_dir)), start_server(settings(tmp_path, rules_dir))
    try:
        with grpc.insecure_channel(f"127.0.0.1:{first.port}") as channel:
            decision_pb2_grpc.DecisionServiceStub(channel).Decide(decide("amy"))
        assert at(scrape(first), "forestall_rpc_duration_seconds_count", rpc="Decide") == 1
        assert at(scrape(second), "forestall_rpc_duration_seconds_count", rpc="Decide") == 0
    finally:
        first.stop(grace=1)
        second.stop(grace=1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_off_serves_no_endpoint_and_measures_nothing(tmp_path, rules_dir):
    port = free_port()
    on = start_server(settings(tmp_path, rules_dir, prometheus_port=port))
    try:
        assert isinstance(on.engine.store, TimedStore)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            assert b"forestall_rpc_duration_seconds" in response.read()
    finally:
        on.stop(grace=1)

    off = start_server(settings(tmp_path, rules_dir, prometheus_port="off"))
    try:
        with grpc.insecure_channel(f"127.0.0.1:{off.port}") as channel:
            assert decision_pb2_grpc.DecisionServiceStub(channel).Decide(decide("amy")).decision_id
        assert off.metrics_endpoint is None
        assert not isinstance(off.engine.store, TimedStore)
        assert off.engine.observer is None
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5)
    finally:
        off.stop(grace=1)


def test_a_taken_port_is_a_clear_error(tmp_path, rules_dir):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match=f"cannot serve Prometheus metrics on 127.0.0.1:{port}"):
            start_server(settings(tmp_path, rules_dir, prometheus_port=port))


def test_the_setting_defaults_on_and_turns_off(monkeypatch):
    monkeypatch.delenv("FORESTALL_PROMETHEUS_PORT")
    assert Settings().prometheus_port == DEFAULT_PROMETHEUS_PORT
    monkeypatch.setenv("FORESTALL_PROMETHEUS_PORT", "off")
    assert Settings().prometheus_port is None
    monkeypatch.setenv("FORESTALL_PROMETHEUS_PORT", "9100")
    assert Settings().prometheus_port == 9100
