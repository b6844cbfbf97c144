"""Thin gRPC servicers: convert, call the engine, convert back. No logic, no try/except:
errors are mapped to status codes in one place (interceptors.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

import grpc

from engine.api import converters
from engine.api.generated import admin_pb2, admin_pb2_grpc, decision_pb2, decision_pb2_grpc
from engine.decision.engine import DecisionEngine
from engine.errors import InvalidArgument, RuleSetInvalid
from engine.events import Event
from engine.models.serving import LiveModels
from engine.observability.dashboard import effectiveness
from engine.ruleset.live import validate_folder

Clock = Callable[[], datetime]


class DecisionServicer(decision_pb2_grpc.DecisionServiceServicer):
    def __init__(self, engine: DecisionEngine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    def Decide(self, request: decision_pb2.DecideRequest, context: grpc.ServicerContext) -> decision_pb2.DecideResponse:
        decision = self._engine.decide(converters.decide_request(request, self._clock()))
        return converters.decide_response(decision)

    def IngestEvents(
        self, request: decision_pb2.IngestEventsRequest, context: grpc.ServicerContext
    ) -> decision_pb2.IngestEventsResponse:
        parsed = converters.parse_events(request)
        valid = [p for p in parsed if isinstance(p, Event)]
        if not valid:
            raise next(p for p in parsed if isinstance(p, InvalidArgument))
        codes = iter(self._engine.ingest(valid))
        return decision_pb2.IngestEventsResponse(
            statuses=[
                converters.event_status(message.event_id, p if isinstance(p, InvalidArgument) else next(codes))
                for message, p in zip(request.events, parsed, strict=True)
            ]
        )

    def RecordOutcome(
        self, request: decision_pb2.RecordOutcomeRequest, context: grpc.ServicerContext
    ) -> decision_pb2.RecordOutcomeResponse:
        customer_id = self._engine.record_outcome(converters.outcome_report(request, self._clock()))
        return decision_pb2.RecordOutcomeResponse(customer_id=customer_id)

    def SweepDue(
        self, request: decision_pb2.SweepDueRequest, context: grpc.ServicerContext
    ) -> Iterator[decision_pb2.DueAction]:
        if request.max_actions_per_customer > converters.MAX_ACTIONS:
            raise InvalidArgument("max_actions_per_customer", f"exceeds the limit of {converters.MAX_ACTIONS}")
        as_of = converters.timestamp_from(request.as_of, "as_of") if request.HasField("as_of") else self._clock()
        for due in self._engine.sweep(as_of, request.max_actions_per_customer or None):
            yield converters.due_action_message(due)


class AdminServicer(admin_pb2_grpc.AdminServiceServicer):
    def __init__(
        self, engine: DecisionEngine, models: LiveModels, clock: Clock, started_at: datetime, server_version: str
    ) -> None:
        self._engine = engine
        self._models = models  # the engine's, as served from their folder
        self._clock = clock
        self._started_at = started_at
        self._server_version = server_version

    def ValidateRules(
        self, request: admin_pb2.ValidateRulesRequest, context: grpc.ServicerContext
    ) -> admin_pb2.ValidateRulesResponse:
        try:
            ruleset = validate_folder(self._engine.rules.folder)
        except RuleSetInvalid as exc:
            return admin_pb2.ValidateRulesResponse(
                valid=False, errors=[converters.rule_error_message(e) for e in exc.errors]
            )
        return admin_pb2.ValidateRulesResponse(
            valid=True,
            ruleset_version=ruleset.version,
            rule_count=len(ruleset.rules),
            warnings=[converters.rule_error_message(w) for w in ruleset.warnings],
        )

    def ReloadRules(
        self, request: admin_pb2.ReloadRulesRequest, context: grpc.ServicerContext
    ) -> admin_pb2.ReloadRulesResponse:
        result = self._engine.rules.reload(self._clock())
        return admin_pb2.ReloadRulesResponse(
            reloaded=result.reloaded,
            ruleset_version=result.version,
            previous_version=result.previous_version,
            errors=[converters.rule_error_message(e) for e in result.errors],
        )

    def GetStatus(
        self, request: admin_pb2.GetStatusRequest, context: grpc.ServicerContext
    ) -> admin_pb2.GetStatusResponse:
        rules = self._engine.rules
        current = rules.current
        models = self._models.current
        return admin_pb2.GetStatusResponse(
            ruleset_version=current.ruleset.version,
            rule_count=len(current.ruleset.rules),
            ruleset_loaded_at=converters.timestamp_of(current.loaded_at),
            model_version=models.version,
            models_dir=str(self._models.folder),
            models=[converters.model_status(m) for m in models.statuses],
            store=self._engine.store.kind,
            customer_count=self._engine.store.count_customers(),
            rules_dir=str(rules.folder),
            last_reload_errors=[converters.rule_error_message(e) for e in rules.last_reload_errors],
            started_at=converters.timestamp_of(self._started_at),
            server_version=self._server_version,
        )

    def ExportCustomer(
        self, request: admin_pb2.ExportCustomerRequest, context: grpc.ServicerContext
    ) -> admin_pb2.ExportCustomerResponse:
        document = self._engine.export_customer(converters.customer_id_from(request.customer_id))
        return converters.export_response(document)

    def Explain(self, request: admin_pb2.ExplainRequest, context: grpc.ServicerContext) -> admin_pb2.ExplainResponse:
        explanation = self._engine.explain(converters.decide_request(request.request, self._clock()))
        return admin_pb2.ExplainResponse(text=explanation.text(), document_json=explanation.json())

    def ForgetCustomer(
        self, request: admin_pb2.ForgetCustomerRequest, context: grpc.ServicerContext
    ) -> admin_pb2.ForgetCustomerResponse:
        erased = self._engine.forget_customer(converters.customer_id_from(request.customer_id))
        return admin_pb2.ForgetCustomerResponse(records_erased=erased)

    def GetMetrics(
        self, request: admin_pb2.GetMetricsRequest, context: grpc.ServicerContext
    ) -> admin_pb2.GetMetricsResponse:
        query = converters.metrics_query(request)
        found = effectiveness(self._engine.store, query, self._engine.rules.current.ruleset.policy.control)
        return converters.metrics_response(found)
