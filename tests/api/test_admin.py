"""AdminService on the rules folder, plus the standard health and reflection services."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from engine.api.generated import admin_pb2
from engine.ruleset.loader import load_rule_set
from tests.conftest import RULES
from tests.helpers import days_ago, decide, ingest, purchase

pytestmark = pytest.mark.e2e

SAMPLE_RULES = len(load_rule_set(RULES).rules)

NEW_RULE = """
  - id: boiler-early-reminder
    description: Boiler service due within 120 days
    family: maintenance_due
    when:
      all:
        - fact: asset.category
          equals: boiler
        - fact: asset.days_until_service
          between: [31, 120]
    then:
      offer: boiler-service-booking
      value: 50
      channels: [email]
"""


def test_status_names_the_rule_set_and_store(admin, decisions):
    decisions.IngestEvents(ingest(purchase("ann", days_ago(1), "ink-305-black")))

    status = admin.GetStatus(admin_pb2.GetStatusRequest())

    assert len(status.ruleset_version) == 12
    assert status.rule_count == SAMPLE_RULES
    assert status.store == "sqlite"
    assert status.customer_count == 1
    assert status.model_version == ""
    assert list(status.last_reload_errors) == []


def test_validate_reports_a_valid_folder(admin):
    response = admin.ValidateRules(admin_pb2.ValidateRulesRequest())

    assert response.valid
    assert response.rule_count == SAMPLE_RULES
    assert response.ruleset_version == admin.GetStatus(admin_pb2.GetStatusRequest()).ruleset_version


def test_a_valid_change_is_reloaded_and_decisions_name_the_new_version(admin, decisions, rules_dir):
    decisions.IngestEvents(ingest(purchase("bo", days_ago(300), "boiler-ecotherm-30")))
    before = decisions.Decide(decide("bo"))
    assert before.actions == []

    with (rules_dir / "maintenance.yaml").open("a") as rules:
        rules.write(NEW_RULE)
    response = admin.ReloadRules(admin_pb2.ReloadRulesRequest())

    assert response.reloaded
    assert response.previous_version == before.ruleset_version
    after = decisions.Decide(decide("bo"))
    assert after.ruleset_version == response.ruleset_version != before.ruleset_version
    assert [a.reason.rule_id for a in after.actions] == ["boiler-early-reminder"]


def test_an_invalid_change_is_rejected_and_the_old_set_keeps_serving(admin, decisions, rules_dir):
    decisions.IngestEvents(ingest(purchase("cy", days_ago(350), "boiler-ecotherm-30")))
    serving = admin.GetStatus(admin_pb2.GetStatusRequest()).ruleset_version
    (rules_dir / "maintenance.yaml").write_text(
        (rules_dir / "maintenance.yaml").read_text().replace("between", "betwen", 1)
    )

    reload = admin.ReloadRules(admin_pb2.ReloadRulesRequest())
    validate = admin.ValidateRules(admin_pb2.ValidateRulesRequest())
    status = admin.GetStatus(admin_pb2.GetStatusRequest())

    assert not reload.reloaded and reload.ruleset_version == serving
    [error] = reload.errors
    assert (error.line, error.column, error.code) == (12, 11, "unknown-operator")
    assert error.file.endswith("maintenance.yaml")
    assert "did you mean `between`?" in error.message
    assert not validate.valid and list(validate.errors) == list(reload.errors)
    assert list(status.last_reload_errors) == list(reload.errors)
    assert status.ruleset_version == serving
    assert [a.reason.rule_id for a in decisions.Decide(decide("cy")).actions] == ["boiler-service-due"]


def test_reloading_an_unchanged_folder_changes_nothing(admin):
    response = admin.ReloadRules(admin_pb2.ReloadRulesRequest())

    assert not response.reloaded
    assert response.ruleset_version == response.previous_version
    assert list(response.errors) == []


def test_health_reports_serving_for_the_server_and_each_service(channel):
    stub = health_pb2_grpc.HealthStub(channel)
    for service in ("", "forestall.v1.DecisionService", "forestall.v1.AdminService"):
        response = stub.Check(health_pb2.HealthCheckRequest(service=service))
        assert response.status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_the_services(channel):
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    [response] = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))

    names = {s.name for s in response.list_services_response.service}

    assert {"forestall.v1.DecisionService", "forestall.v1.AdminService", "grpc.health.v1.Health"} <= names


def test_reflection_serves_the_contract_file(channel):
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(file_containing_symbol="forestall.v1.DecisionService")

    [response] = stub.ServerReflectionInfo(iter([request]))

    assert response.file_descriptor_response.file_descriptor_proto
    assert not response.HasField("error_response"), response.error_response.error_message


def test_an_unknown_method_is_unimplemented(channel):
    call = channel.unary_unary("/forestall.v1.AdminService/DropEverything")
    with pytest.raises(grpc.RpcError) as raised:
        call(b"")
    assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED
