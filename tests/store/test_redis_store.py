"""What the Redis store promises beyond the shared contract: cluster-ready keys, retention, its URL;
and a server on Redis by configuration alone."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta

import grpc
import pytest
import redis
from redis.crc import key_slot
from structlog.testing import capture_logs

from engine.api.generated import admin_pb2, admin_pb2_grpc, common_pb2, decision_pb2, decision_pb2_grpc
from engine.api.server import start_server
from engine.config import Settings
from engine.errors import StoreUnavailable
from engine.store import open_store
from engine.store.base import StoredOutcome
from engine.store.redis import RedisStore
from engine.store.sqlite import SqliteStore
from engine.vocabulary import Outcome
from tests.helpers import days_ago, decide, ingest, purchase
from tests.store.test_store_contract import REDIS_URL, T0, _decision, _purchase, redis_keyspace

TTL = timedelta(days=30)


@pytest.fixture
def prefix() -> Iterator[str]:
    with redis_keyspace() as prefix:
        yield prefix


@pytest.fixture
def store(prefix: str) -> Iterator[RedisStore]:
    opened = RedisStore(REDIS_URL, key_prefix=prefix, decision_ttl=TTL)
    yield opened
    opened.close()


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    with redis.Redis.from_url(REDIS_URL, decode_responses=True) as client:
        yield client


def _fill(store: RedisStore) -> None:
    """Two customers with events, a decision each, and an outcome."""
    for customer in ("ann", "bob"):
        store.ingest([_purchase(f"{customer}-e1", customer), _purchase(f"{customer}-e2", customer, day=1)])
        store.save_decision(_decision(f"{customer}-d1", customer))
        store.record_outcome(StoredOutcome(f"{customer}-d1", "a1", Outcome.OPENED, T0))


def _keys(client: redis.Redis, prefix: str, tag: str) -> list[str]:
    return sorted(k for k in client.scan_iter(f"{prefix}:*", count=1000) if f"{{{tag}}}" in k)


def test_the_keys_of_one_customer_and_of_one_decision_share_a_cluster_slot(store, client, prefix):
    _fill(store)

    for tag in ("c:ann", "c:bob", "d:ann-d1", "d:bob-d1"):
        keys = _keys(client, prefix, tag)
        assert len(keys) >= 2, keys
        assert {key_slot(k.encode()) for k in keys} == {key_slot(tag.encode())}
    assert key_slot(b"c:ann") != key_slot(b"c:bob")  # customers spread over the cluster


def test_every_key_but_the_customer_list_belongs_to_a_customer_or_a_decision(store, client, prefix):
    _fill(store)

    untagged = [
        k for k in client.scan_iter(f"{prefix}:*", count=1000) if not k.startswith((f"{prefix}:{{c:", f"{prefix}:{{d:"))
    ]

    assert untagged == [f"{prefix}:customers"]


def test_forgetting_leaves_no_key_of_the_customer(store, client, prefix):
    _fill(store)

    store.forget_customer("ann")

    assert _keys(client, prefix, "c:ann") == _keys(client, prefix, "d:ann-d1") == []
    assert _keys(client, prefix, "c:bob") and _keys(client, prefix, "d:bob-d1")


def test_decisions_and_outcomes_expire_and_events_do_not(store, client, prefix):
    _fill(store)

    def ttl(tag: str, part: str) -> int:
        return int(client.ttl(f"{prefix}:{{{tag}}}:{part}"))

    for tag, part in (("d:ann-d1", "decision"), ("d:ann-d1", "outcomes"), ("c:ann", "decisions")):
        assert TTL.total_seconds() - 60 < ttl(tag, part) <= TTL.total_seconds(), (tag, part)
    assert ttl("c:ann", "events") == ttl("c:ann", "timeline") == -1  # no expiry: bounded by count instead


def test_an_expired_decision_is_left_out_of_the_export(store, client, prefix):
    _fill(store)
    client.delete(f"{prefix}:{{d:ann-d1}}:decision")  # what expiry does

    assert store.export_customer("ann")["decisions"] == []


def test_the_url_picks_redis_and_carries_the_key_prefix_and_decision_retention(prefix, client):
    opened = open_store(f"{REDIS_URL}?key_prefix={prefix}&decision_ttl_days=2&socket_timeout=3")
    opened.save_decision(_decision())
    opened.close()

    assert isinstance(opened, RedisStore)
    assert 2 * 86400 - 60 < client.ttl(f"{prefix}:{{d:d1}}:decision") <= 2 * 86400


def test_the_location_shown_in_logs_has_no_password(prefix):
    opened = RedisStore("redis://:not-a-secret@127.0.0.1:6379/0", key_prefix=prefix)
    try:
        assert opened.location == "redis://127.0.0.1:6379/0"
    finally:
        opened.close()


def test_a_server_without_fsync_on_every_write_is_reported_at_start_up(prefix):
    # the shared test server runs without an append-only file
    with capture_logs() as logs:
        RedisStore(REDIS_URL, key_prefix=prefix).close()

    [warning] = [line for line in logs if line["event"] == "store_not_durable"]
    assert (warning["log_level"], warning["appendonly"]) == ("warning", "no")


def test_an_unreachable_server_is_store_unavailable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with pytest.raises(StoreUnavailable, match=f"redis store redis://127.0.0.1:{port}/0: ") as raised:
        RedisStore(f"redis://127.0.0.1:{port}/0?socket_connect_timeout=0.5", key_prefix="unused")

    assert isinstance(raised.value.__cause__, redis.ConnectionError)


def test_a_key_prefix_with_braces_is_refused():
    with pytest.raises(StoreUnavailable, match="must not contain braces"):
        RedisStore(REDIS_URL, key_prefix="forestall{x}")


def test_a_file_path_opens_the_embedded_store(tmp_path):
    opened = open_store(str(tmp_path / "var" / "x.db"))
    opened.close()

    assert isinstance(opened, SqliteStore)


def test_an_unknown_url_scheme_is_refused_without_showing_the_url():
    with pytest.raises(StoreUnavailable, match="unknown scheme") as raised:
        open_store("postgres://user:secret@db/forestall")

    assert "secret" not in str(raised.value)


@pytest.mark.e2e
def test_a_server_runs_on_redis_by_configuration_alone(prefix, rules_dir):
    store = f"{REDIS_URL}?key_prefix={prefix}"
    running = start_server(Settings(port=0, store=store, rules_dir=rules_dir, workers=2))
    try:
        with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            decisions = decision_pb2_grpc.DecisionServiceStub(channel)
            admin = admin_pb2_grpc.AdminServiceStub(channel)
            decisions.IngestEvents(ingest(purchase("amy", days_ago(350), "boiler-ecotherm-30")))
            decision = decisions.Decide(decide("amy"))
            decisions.RecordOutcome(
                decision_pb2.RecordOutcomeRequest(
                    decision_id=decision.decision_id, action_id=decision.actions[0].action_id, outcome=common_pb2.OPENED
                )
            )
            status = admin.GetStatus(admin_pb2.GetStatusRequest())
    finally:
        running.stop(grace=1)

    assert (status.store, status.customer_count) == ("redis", 1)
    assert [a.reason.rule_id for a in decision.actions] == ["boiler-service-due"]
    reopened = RedisStore(REDIS_URL, key_prefix=prefix)
    try:
        assert [o.outcome for o in reopened.outcomes(decision.decision_id)] == [Outcome.OPENED]
    finally:
        reopened.close()
