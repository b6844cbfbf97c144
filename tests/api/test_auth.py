"""Roles: a decision client cannot call admin operations; no token, no service; probes stay open."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pydantic import ValidationError

from engine.api.generated import admin_pb2, admin_pb2_grpc, decision_pb2, decision_pb2_grpc
from engine.api.server import RunningServer, start_server
from engine.config import Settings
from tests.helpers import AS_OF, decide, ts

pytestmark = pytest.mark.e2e

DECISION_TOKEN, ADMIN_TOKEN = "d-3f9a", "a-77c1"


@pytest.fixture
def guarded(tmp_path: Path, rules_dir: Path) -> Iterator[RunningServer]:
    tokens = f"decision:{DECISION_TOKEN},admin:{ADMIN_TOKEN}"
    settings = Settings(port=0, store=tmp_path / "s.db", rules_dir=rules_dir, rules_poll_seconds=0, auth_tokens=tokens)
    running = start_server(settings)
    yield running
    running.stop(grace=1)


@pytest.fixture
def channel(guarded: RunningServer) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"127.0.0.1:{guarded.port}") as channel:
        yield channel


def _as(token: str | None) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token}")] if token else []


def _code(call, request, token: str | None) -> grpc.StatusCode:
    try:
        response = call(request, metadata=_as(token))
        if not hasattr(response, "ByteSize"):
            list(response)  # a stream fails when read
    except grpc.RpcError as error:
        return error.code()
    return grpc.StatusCode.OK


@pytest.mark.parametrize(
    ("token", "decide_code", "admin_code"),
    [
        (None, grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.UNAUTHENTICATED),
        ("wrong", grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.UNAUTHENTICATED),
        (DECISION_TOKEN, grpc.StatusCode.OK, grpc.StatusCode.PERMISSION_DENIED),
        (ADMIN_TOKEN, grpc.StatusCode.OK, grpc.StatusCode.OK),
    ],
)
def test_each_role_reaches_what_it_may(channel, token, decide_code, admin_code):
    decisions = decision_pb2_grpc.DecisionServiceStub(channel)
    admin = admin_pb2_grpc.AdminServiceStub(channel)

    assert _code(decisions.Decide, decide("ann"), token) == decide_code
    assert _code(decisions.SweepDue, decision_pb2.SweepDueRequest(as_of=ts(AS_OF)), token) == decide_code
    assert _code(admin.GetStatus, admin_pb2.GetStatusRequest(), token) == admin_code
    assert _code(admin.ForgetCustomer, admin_pb2.ForgetCustomerRequest(customer_id="ann"), token) == admin_code
    metrics = admin_pb2.GetMetricsRequest(from_date="2026-03-01", to_date="2026-04-01", replicates=10)
    assert _code(admin.GetMetrics, metrics, token) == admin_code


def test_a_refusal_says_what_is_missing(channel):
    with pytest.raises(grpc.RpcError) as raised:
        admin_pb2_grpc.AdminServiceStub(channel).ReloadRules(
            admin_pb2.ReloadRulesRequest(), metadata=_as(DECISION_TOKEN)
        )

    assert raised.value.details() == "the decision role cannot call /forestall.v1.AdminService/ReloadRules"


def test_health_stays_open_for_probes(channel):
    response = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""))

    assert response.status == health_pb2.HealthCheckResponse.SERVING


def test_a_badly_written_token_setting_is_refused_at_start():
    with pytest.raises(ValidationError, match="entry 2 must be `role:token`"):
        Settings(auth_tokens="admin:x,root:y")
