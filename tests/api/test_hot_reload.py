"""Hot reload under load: a valid change is served within two seconds with no failed request;
an invalid one leaves the old rules serving and says why."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from engine.api.generated import admin_pb2, admin_pb2_grpc, decision_pb2_grpc
from engine.api.server import RunningServer, start_server
from engine.config import Settings
from tests.helpers import days_ago, decide, ingest, purchase

pytestmark = pytest.mark.e2e

CLIENTS = 4


@pytest.fixture
def watching_server(tmp_path: Path, rules_dir: Path) -> Iterator[RunningServer]:
    settings = Settings(
        port=0,
        store=tmp_path / "s.db",
        rules_dir=rules_dir,
        models_dir=tmp_path / "models",
        workers=4,
        rules_poll_seconds=0.2,
    )
    running = start_server(settings)
    yield running
    running.stop(grace=1)


class Load:
    """Clients calling Decide without pause, recording each answer's rule-set version and any failure."""

    def __init__(self, stub: decision_pb2_grpc.DecisionServiceStub) -> None:
        self._stub = stub
        self._stop = threading.Event()
        self.failures: list[str] = []
        self.answers: list[tuple[float, str, tuple[str, ...]]] = []
        self._threads = [threading.Thread(target=self._run) for _ in range(CLIENTS)]

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                response = self._stub.Decide(decide("hot"), timeout=5)
            except grpc.RpcError as error:
                self.failures.append(f"{error.code()}: {error.details()}")
                continue
            rules = tuple(a.reason.rule_id for a in response.actions)
            self.answers.append((time.monotonic(), response.ruleset_version, rules))

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def first_answer_with(self, version: str, since: float, timeout: float = 10) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for at, answered, _ in list(self.answers):
                if answered == version and at >= since:
                    return at
            time.sleep(0.02)
        raise AssertionError(f"no answer with version {version} within {timeout} s")


def test_changes_are_picked_up_under_load_without_a_failed_request(watching_server, rules_dir):
    with grpc.insecure_channel(f"127.0.0.1:{watching_server.port}") as channel:
        decisions = decision_pb2_grpc.DecisionServiceStub(channel)
        admin = admin_pb2_grpc.AdminServiceStub(channel)
        decisions.IngestEvents(ingest(purchase("hot", days_ago(350), "boiler-ecotherm-30")))
        original = admin.GetStatus(admin_pb2.GetStatusRequest()).ruleset_version
        maintenance = rules_dir / "maintenance.yaml"

        with Load(decisions) as load:
            time.sleep(0.5)
            changed_at = time.monotonic()
            maintenance.write_text(maintenance.read_text().replace("value: 120", "value: 130"))
            while (status := admin.GetStatus(admin_pb2.GetStatusRequest())).ruleset_version == original:
                assert time.monotonic() - changed_at < 5, "the change was not picked up"
                time.sleep(0.05)
            changed = status.ruleset_version
            served_at = load.first_answer_with(changed, since=changed_at)

            broken_at = time.monotonic()
            maintenance.write_text(maintenance.read_text().replace("between", "betwen", 1))
            while not (status := admin.GetStatus(admin_pb2.GetStatusRequest())).last_reload_errors:
                assert time.monotonic() - broken_at < 10, "the broken change was not looked at"
                time.sleep(0.05)
            time.sleep(0.5)  # and the load goes on a little after the rejection

        assert served_at - changed_at < 2
        assert load.failures == []
        assert status.ruleset_version == changed
        assert [e.code for e in status.last_reload_errors] == ["unknown-operator"]
        after_break = [(version, rules) for at, version, rules in load.answers if at > broken_at]
        assert after_break, "the load kept running after the broken change"
        assert set(after_break) == {(changed, ("boiler-service-due",))}
