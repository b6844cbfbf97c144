"""A server killed with SIGKILL in the middle of an ingest load loses no event it acknowledged.

Client threads send batches of new events and keep every one the server answered
ACCEPTED. The server is killed mid-load (on Redis, the Redis server too, which then
restarts from its append-only file), restarted on the same store, and sent every
acknowledged event again: each must come back DUPLICATE, that is, still stored.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest
import redis

from engine.api.generated import decision_pb2, decision_pb2_grpc
from tests.conftest import REPO
from tests.helpers import days_ago, ingest, purchase
from tests.test_cli import FORESTALL, _free_port

pytestmark = pytest.mark.e2e

CLIENTS = 4
BATCH = 20
CUSTOMERS = 100
KILL_AFTER_ACKNOWLEDGED = 1000
START_TIMEOUT = 30.0
ACCEPTED, DUPLICATE = decision_pb2.EventStatus.ACCEPTED, decision_pb2.EventStatus.DUPLICATE


@contextmanager
def forestall_server(store: str, rules_dir: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`forestall serve` on the store, as a process of its own; yields it and its address once it serves."""
    port = _free_port()
    env = {
        **os.environ,
        "FORESTALL_PORT": str(port),
        "FORESTALL_STORE": store,
        "FORESTALL_RULES_DIR": str(rules_dir),
        "FORESTALL_LOG_LEVEL": "error",
    }
    process = subprocess.Popen([*FORESTALL, "serve"], cwd=REPO, env=env, stderr=subprocess.DEVNULL)
    address = f"127.0.0.1:{port}"
    try:
        with grpc.insecure_channel(address) as channel:
            grpc.channel_ready_future(channel).result(timeout=START_TIMEOUT)
        yield process, address
    finally:
        process.kill()
        process.wait()


@contextmanager
def redis_server(folder: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """A Redis server that fsyncs its append-only file before it answers any write."""
    process = subprocess.Popen(
        [
            "redis-server",
            *("--bind", "127.0.0.1", "--port", str(port), "--dir", str(folder), "--save", ""),
            *("--appendonly", "yes", "--appendfsync", "always"),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(port=port)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        client.close()
        yield process
    finally:
        process.kill()
        process.wait()


class IngestLoad:
    """Client threads sending batches of new events; `acknowledged` holds every event answered ACCEPTED."""

    def __init__(self, address: str) -> None:
        self.acknowledged: list[decision_pb2.Event] = []
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._send, args=(address, n)) for n in range(CLIENTS)]
        for thread in self._threads:
            thread.start()

    def _send(self, address: str, client: int) -> None:
        with grpc.insecure_channel(address) as channel:
            stub = decision_pb2_grpc.DecisionServiceStub(channel)
            for batch_number in itertools.count():
                batch = [
                    purchase(
                        f"crash-{(batch_number + n) % CUSTOMERS}",
                        days_ago(n),
                        "ink-305-black",
                        event_id=f"client{client}-batch{batch_number}-{n}",
                    )
                    for n in range(BATCH)
                ]
                try:
                    response = stub.IngestEvents(ingest(*batch), timeout=10)
                except grpc.RpcError:
                    return  # the server is gone
                accepted = [e for e, status in zip(batch, response.statuses, strict=True) if status.code == ACCEPTED]
                with self._lock:
                    self.acknowledged += accepted

    def wait_for(self, count: int) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while len(self.acknowledged) < count:
            assert time.monotonic() < deadline, f"only {len(self.acknowledged)} events acknowledged"
            time.sleep(0.01)

    def join(self) -> list[decision_pb2.Event]:
        for thread in self._threads:
            thread.join(timeout=START_TIMEOUT)
        return self.acknowledged


def _kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait()


def _still_stored(address: str, events: list[decision_pb2.Event]) -> int:
    """How many of the events the server reports as already stored (DUPLICATE) when they are sent again."""
    with grpc.insecure_channel(address) as channel:
        stub = decision_pb2_grpc.DecisionServiceStub(channel)
        return sum(
            status.code == DUPLICATE
            for start in range(0, len(events), 1000)
            for status in stub.IngestEvents(ingest(*events[start : start + 1000]), timeout=30).statuses
        )


def test_no_acknowledged_event_is_lost_when_the_server_is_killed_on_sqlite(tmp_path, rules_dir, record_property):
    store = str(tmp_path / "crash.db")
    with forestall_server(store, rules_dir) as (server, address):
        load = IngestLoad(address)
        load.wait_for(KILL_AFTER_ACKNOWLEDGED)
        _kill(server)
        acknowledged = load.join()

    with forestall_server(store, rules_dir) as (_, address):
        stored = _still_stored(address, acknowledged)

    record_property("acknowledged_events", len(acknowledged))
    print(f"sqlite: {len(acknowledged)} events acknowledged before SIGKILL, {stored} of them stored after")
    assert stored == len(acknowledged) >= KILL_AFTER_ACKNOWLEDGED


def test_no_acknowledged_event_is_lost_when_the_server_and_redis_are_killed(tmp_path, rules_dir, record_property):
    port = _free_port()
    store = f"redis://127.0.0.1:{port}/0"
    with redis_server(tmp_path, port) as redis_process, forestall_server(store, rules_dir) as (server, address):
        load = IngestLoad(address)
        load.wait_for(KILL_AFTER_ACKNOWLEDGED)
        _kill(redis_process)  # mid-write: what it had not fsynced, it had not acknowledged
        _kill(server)
        acknowledged = load.join()

    with redis_server(tmp_path, port), forestall_server(store, rules_dir) as (_, address):
        stored = _still_stored(address, acknowledged)

    record_property("acknowledged_events", len(acknowledged))
    print(f"redis: {len(acknowledged)} events acknowledged before SIGKILL, {stored} of them stored after")
    assert stored == len(acknowledged) >= KILL_AFTER_ACKNOWLEDGED
