"""The decision log: a real server records each decision with what it read, and a record decides again the same."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest
from structlog.testing import capture_logs

from engine.api.generated import common_pb2, decision_pb2_grpc
from engine.api.server import RunningServer, start_server
from engine.cli.main import build_parser
from engine.cli.replay import impact
from engine.cli.serve import _settings
from engine.config import Settings
from engine.decision.engine import DecisionEngine
from engine.decision.types import DecideRequest
from engine.replay.decision_log import DecisionLog, read_log, state_digest
from engine.ruleset.live import LiveRuleSet
from engine.store.sqlite import SqliteStore
from tests.conftest import REPO, RULES
from tests.features import builders
from tests.helpers import AS_OF, days_ago, decide, ingest, purchase

MODELS = REPO / "models"  # the sample models, promoted: the response model ranks and picks channels


@contextmanager
def serving(tmp_path: Path, decision_log: Path | str, models: Path = MODELS) -> Iterator[RunningServer]:
    settings = Settings(
        port=0,
        store=tmp_path / "store.db",
        rules_dir=RULES,
        models_dir=models,
        decision_log=decision_log,
        workers=4,
        rules_poll_seconds=0,
        models_poll_seconds=0,
    )
    running = start_server(settings)
    try:
        yield running
    finally:
        running.stop(grace=1)


@contextmanager
def stub(running: RunningServer) -> Iterator[decision_pb2_grpc.DecisionServiceStub]:
    with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        yield decision_pb2_grpc.DecisionServiceStub(channel)


def test_a_logged_decision_decides_again_to_the_same_actions(tmp_path: Path):
    log_file = tmp_path / "decisions.jsonl"
    with capture_logs() as logs, serving(tmp_path, log_file) as running, stub(running) as decisions:
        decisions.IngestEvents(
            ingest(
                purchase("ada@example.com", days_ago(340), "boiler-ecotherm-30", "printer-deskjet-2720"),
                purchase("ada@example.com", days_ago(55), "ink-305-black"),
            )
        )
        # Outbound first: what is sent cools down; what the customer is shown at the till does not.
        outbound = decisions.Decide(decide("ada@example.com", channel=common_pb2.CHANNEL_UNSPECIFIED, max_actions=1))
        at_the_till = decisions.Decide(decide("ada@example.com", channel=common_pb2.POS, context={"basket": "2"}))

    [second, first] = [line.decision for line in read_log([log_file])]
    assert [first.decision_id, second.decision_id] == [at_the_till.decision_id, outbound.decision_id]
    assert (first.ruleset_version, first.model_version) == (at_the_till.ruleset_version, at_the_till.model_version)
    assert first.model_version.startswith("churn=") and first.ranked_by_model
    assert [a.action_id for a in first.actions] == [a.action_id for a in at_the_till.actions]
    assert [(a.rule_id, a.channel, a.score) for a in first.actions] == [
        (a.reason.rule_id, "pos", a.score) for a in at_the_till.actions
    ]
    request = first.request
    assert (request.customer_id, request.as_of, request.channel, request.touchpoint) == (
        "ada@example.com",
        AS_OF,
        "pos",
        "test",
    )
    assert (request.context, request.max_actions) == ({"basket": "2"}, None)
    assert (second.request.channel, second.request.max_actions, len(second.actions)) == (None, 1, 1)
    assert first.state_digest == state_digest(bytes(first.state))
    assert first.customer_state().assets.by_id  # the boiler and the printer, as the decision read them

    output = io.StringIO()
    code = impact([log_file], rules=RULES, recorded_models=MODELS, report_format="json", output=output)
    report = json.loads(output.getvalue())
    assert code == 0, report
    assert (report["decided"], report["changed"], report["candidate"]["models"]) == (2, 0, "recorded")

    assert logs, "the server logs"
    assert not [entry for entry in logs if "ada@example.com" in json.dumps(entry, default=str)]


def test_a_disk_error_in_the_log_does_not_fail_the_decision(tmp_path: Path):
    with capture_logs() as logs, serving(tmp_path, "/dev/full") as running, stub(running) as decisions:
        decisions.IngestEvents(ingest(purchase("bob", days_ago(340), "boiler-ecotherm-30")))
        decided = decisions.Decide(decide("bob"))

    assert [a.offer_id for a in decided.actions] == ["boiler-service-booking"]
    [failed] = [entry for entry in logs if entry["event"] == "decision_log_write_failed"]
    assert (failed["log_level"], failed["path"], failed["lost"]) == ("error", "/dev/full", 1)
    assert "No space left on device" in failed["error"]


def test_decisions_on_many_threads_each_write_one_whole_record(tmp_path: Path):
    log_file = tmp_path / "decisions.jsonl"
    customers = [f"cust-{n}" for n in range(8)]
    with serving(tmp_path, log_file, models=tmp_path / "none") as running, stub(running) as decisions:
        decisions.IngestEvents(ingest(*(purchase(c, days_ago(340), "boiler-ecotherm-30") for c in customers)))
        with ThreadPoolExecutor(8) as pool:
            ids = list(pool.map(lambda n: decisions.Decide(decide(customers[n % 8])).decision_id, range(160)))

    records = list(read_log([log_file]))
    assert sorted(r.decision.decision_id for r in records) == sorted(ids)  # type: ignore[union-attr]
    assert log_file.stat().st_mode & 0o777 == 0o600  # it holds customer ids and states


def test_the_log_is_a_setting_and_a_serve_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FORESTALL_DECISION_LOG", str(tmp_path / "from-env.jsonl"))
    assert Settings().decision_log == str(tmp_path / "from-env.jsonl")

    args = build_parser().parse_args(["serve", "--decision-log", "var/decisions.jsonl"])
    assert _settings(args).decision_log == "var/decisions.jsonl"
    monkeypatch.delenv("FORESTALL_DECISION_LOG")
    assert Settings().decision_log == ""


def test_a_log_that_cannot_be_opened_stops_the_server_at_start(tmp_path: Path):
    nowhere = tmp_path / "no-such-folder" / "decisions.jsonl"

    with pytest.raises(FileNotFoundError) as refused, serving(tmp_path, nowhere):
        pass

    assert refused.value.filename == str(nowhere)


def test_the_control_groups_actions_are_logged_as_held_out(tmp_path, rules_dir):
    (rules_dir / "policy.yaml").write_text("control: {families: {maintenance_due: 1.0}}\n")
    log_path = tmp_path / "held.jsonl"
    decision_log = DecisionLog(log_path)
    rules, store = LiveRuleSet(rules_dir, builders.AS_OF), SqliteStore(tmp_path / "held.db")
    try:
        engine = DecisionEngine(store, rules, decision_log=decision_log)
        engine.ingest([builders.bought(350, "boiler-ecotherm-30", price=900).model_copy(update={"customer_id": "c"})])
        decision = engine.decide(DecideRequest("c", builders.AS_OF))
    finally:
        decision_log.close()
        rules.close()
        store.close()

    [record] = [json.loads(line) for line in log_path.read_text().splitlines()]
    assert decision.actions == ()
    assert [a["rule_id"] for a in record["held_out"]] == ["boiler-service-due"]
    assert record["actions"] == []
