"""Protobuf <-> engine values. Every request field is checked here, once, and a bad
one raises InvalidArgument naming it; nothing past this module sees protobuf."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from pydantic import ValidationError

from engine.api.generated import admin_pb2, common_pb2, decision_pb2
from engine.decision.engine import OutcomeReport
from engine.decision.types import Action, DecideRequest, Decision, DueAction
from engine.errors import InvalidArgument, RuleError
from engine.events import EARLIEST, LATEST, MAX_ID_LENGTH, Event
from engine.metrics.compute import MetricValue, Period
from engine.metrics.report import TOP_RULES
from engine.metrics.uplift import DEFAULT_REPLICATES
from engine.models.serving import ModelStatus
from engine.moments import parse_moment
from engine.observability.dashboard import (
    MAX_REPLICATES,
    MAX_TOP_RULES,
    Bucket,
    Effectiveness,
    MetricsQuery,
    period_of,
)
from engine.store.base import IngestCode
from engine.vocabulary import Channel, Family, Outcome

MAX_BATCH = 1000
MAX_ACTIONS = 50
MAX_CONTEXT_ENTRIES = 32
MAX_CONTEXT_VALUE = 256
CONTEXT_KEY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")

_CHANNEL_TO_PB = {c: common_pb2.Channel.Value(c.name) for c in Channel}
_FAMILY_TO_PB = {f: common_pb2.Family.Value(f.name) for f in Family}
_EVENT_STATUS = {
    IngestCode.ACCEPTED: decision_pb2.EventStatus.ACCEPTED,
    IngestCode.DUPLICATE: decision_pb2.EventStatus.DUPLICATE,
}


def timestamp_from(value: Timestamp, field: str) -> datetime:
    try:
        moment: datetime | None = datetime.fromtimestamp(value.seconds, UTC) + timedelta(
            microseconds=value.nanos // 1000
        )
    except (OverflowError, OSError, ValueError):
        moment = None
    if moment is None or not EARLIEST <= moment < LATEST or not 0 <= value.nanos < 1_000_000_000:
        raise InvalidArgument(field, f"timestamp out of range: must be between {EARLIEST.year} and {LATEST.year}")
    return moment


def timestamp_of(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def _optional_time(message: Message, name: str, field: str, now: datetime) -> datetime:
    return timestamp_from(getattr(message, name), field) if message.HasField(name) else now


def _enum_name(descriptor: FieldDescriptor, number: int, field: str) -> str | None:
    """The lower-case name of an enum value; None when unspecified (0)."""
    value = descriptor.enum_type.values_by_number.get(number)
    if value is None:
        raise InvalidArgument(field, f"unknown value {number}")
    return None if number == 0 else value.name.lower()


def channel_from(number: int, field: str) -> Channel | None:
    name = _enum_name(decision_pb2.Touchpoint.DESCRIPTOR.fields_by_name["channel"], number, field)
    return Channel(name) if name else None


def _required_id(value: str, field: str) -> str:
    if not value:
        raise InvalidArgument(field, "is required")
    if len(value) > MAX_ID_LENGTH:
        raise InvalidArgument(field, f"is longer than {MAX_ID_LENGTH} characters")
    return value


def customer_id_from(value: str) -> str:
    return _required_id(value, "customer_id")


def _context(context: Mapping[str, str]) -> dict[str, str]:
    if len(context) > MAX_CONTEXT_ENTRIES:
        raise InvalidArgument("context", f"{len(context)} entries exceed the limit of {MAX_CONTEXT_ENTRIES}")
    for key, value in context.items():
        if not CONTEXT_KEY.match(key):
            raise InvalidArgument(f"context[{key!r}]", "keys are lower-case letters, digits and _, at most 32")
        if len(value) > MAX_CONTEXT_VALUE:
            raise InvalidArgument(f"context[{key!r}]", f"value is longer than {MAX_CONTEXT_VALUE} characters")
    return dict(context)


def decide_request(request: decision_pb2.DecideRequest, now: datetime) -> DecideRequest:
    if request.max_actions > MAX_ACTIONS:
        raise InvalidArgument("max_actions", f"{request.max_actions} exceeds the limit of {MAX_ACTIONS}")
    return DecideRequest(
        customer_id=_required_id(request.customer_id, "customer_id"),
        as_of=_optional_time(request, "as_of", "as_of", now),
        channel=channel_from(request.touchpoint.channel, "touchpoint.channel"),
        touchpoint=request.touchpoint.name[:MAX_ID_LENGTH],
        max_actions=request.max_actions or None,
        context=_context(request.context),
    )


def decide_response(decision: Decision) -> decision_pb2.DecideResponse:
    return decision_pb2.DecideResponse(
        decision_id=decision.decision_id,
        ruleset_version=decision.ruleset_version,
        model_version=decision.model_version,
        ranking_basis=(
            decision_pb2.RANKING_BASIS_MODEL if decision.ranked_by_model else decision_pb2.RANKING_BASIS_RULE_PRIORITY
        ),
        as_of=timestamp_of(decision.as_of),
        actions=[action_message(a) for a in decision.actions],
    )


def action_message(action: Action) -> decision_pb2.Action:
    return decision_pb2.Action(
        action_id=action.action_id,
        offer_id=action.offer_id,
        family=_FAMILY_TO_PB[action.family],
        channel=_CHANNEL_TO_PB[action.channel],
        send_at=timestamp_of(action.send_at),
        valid_until=timestamp_of(action.valid_until),
        score=action.score,
        value=action.value,
        message=decision_pb2.Message(
            template_id=action.template_id, title=action.title, text=action.text, parameters=action.parameters
        ),
        reason=decision_pb2.Reason(
            rule_id=action.reason.rule_id,
            rule_description=action.reason.rule_description,
            matched_facts=action.reason.matched_facts,
            score_explanation=action.reason.score_explanation,
            timing=action.reason.timing,
        ),
    )


def due_action_message(due: DueAction) -> decision_pb2.DueAction:
    return decision_pb2.DueAction(
        customer_id=due.customer_id, decision_id=due.decision_id, action=action_message(due.action)
    )


# ---- events ---------------------------------------------------------------


def _plain(message: Message, field: str) -> dict[str, Any]:
    """A protobuf message as the plain dict the engine's event models validate.

    Unset timestamps and unspecified enums are left out, so a required one is
    reported missing; enum values become their lower-case names.
    """
    out: dict[str, Any] = {}
    for descriptor in message.DESCRIPTOR.fields:
        name, path = descriptor.name, f"{field}.{descriptor.name}"
        value = getattr(message, name)
        if descriptor.message_type is not None and descriptor.message_type.full_name == "google.protobuf.Timestamp":
            if message.HasField(name):
                out[name] = timestamp_from(value, path)
        elif descriptor.is_repeated:
            if descriptor.enum_type is not None:
                out[name] = [_enum_name(descriptor, v, f"{path}[{i}]") for i, v in enumerate(value)]
            elif descriptor.message_type is not None:
                out[name] = [_plain(v, f"{path}[{i}]") for i, v in enumerate(value)]
            else:
                out[name] = list(value)
        elif descriptor.enum_type is not None:
            enum_name = _enum_name(descriptor, value, path)
            if enum_name is not None:
                out[name] = enum_name
        elif descriptor.message_type is not None:
            out[name] = _plain(value, path)
        else:
            out[name] = value
    return out


def _event(message: decision_pb2.Event, field: str) -> Event:
    kind = message.WhichOneof("payload")
    if kind is None:
        kinds = ", ".join(f.name for f in decision_pb2.Event.DESCRIPTOR.oneofs_by_name["payload"].fields)
        raise InvalidArgument(f"{field}.payload", f"unknown or missing event type; expected one of {kinds}")
    data: dict[str, Any] = {"event_id": message.event_id, "customer_id": message.customer_id}
    if message.HasField("occurred_at"):
        data["occurred_at"] = timestamp_from(message.occurred_at, f"{field}.occurred_at")
    data["payload"] = {"kind": kind, **_plain(getattr(message, kind), f"{field}.{kind}")}
    try:
        return Event.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [str(part) if isinstance(part, str) else f"[{part}]" for part in first["loc"] if part != "payload"]
        path = field + "".join(part if part.startswith("[") else f".{part}" for part in loc)
        raise InvalidArgument(path, first["msg"].lower()) from exc


def parse_events(request: decision_pb2.IngestEventsRequest) -> list[Event | InvalidArgument]:
    """Each event parsed, or the InvalidArgument that rejects it; the batch itself must be sane."""
    if not request.events:
        raise InvalidArgument("events", "the batch is empty")
    if len(request.events) > MAX_BATCH:
        raise InvalidArgument("events", f"a batch of {len(request.events)} events exceeds the limit of {MAX_BATCH}")
    parsed: list[Event | InvalidArgument] = []
    for index, message in enumerate(request.events):
        try:
            parsed.append(_event(message, f"events[{index}]"))
        except InvalidArgument as exc:
            parsed.append(exc)
    return parsed


def event_status(event_id: str, outcome: IngestCode | InvalidArgument) -> decision_pb2.EventStatus:
    if isinstance(outcome, InvalidArgument):
        return decision_pb2.EventStatus(event_id=event_id, code=decision_pb2.EventStatus.REJECTED, reason=str(outcome))
    return decision_pb2.EventStatus(event_id=event_id, code=_EVENT_STATUS[outcome])


def outcome_report(request: decision_pb2.RecordOutcomeRequest, now: datetime) -> OutcomeReport:
    name = _enum_name(
        decision_pb2.RecordOutcomeRequest.DESCRIPTOR.fields_by_name["outcome"], request.outcome, "outcome"
    )
    if name is None:
        raise InvalidArgument("outcome", "is required")
    if request.amount < 0:
        raise InvalidArgument("amount", "must not be negative")
    return OutcomeReport(
        decision_id=_required_id(request.decision_id, "decision_id"),
        action_id=_required_id(request.action_id, "action_id"),
        outcome=Outcome(name),
        occurred_at=_optional_time(request, "occurred_at", "occurred_at", now),
        amount=request.amount,
    )


def rule_error_message(error: RuleError) -> admin_pb2.RuleError:
    return admin_pb2.RuleError(
        file=error.file, line=error.line, column=error.column, code=error.code, message=error.message
    )


def export_response(document: Mapping[str, Any]) -> admin_pb2.ExportCustomerResponse:
    return admin_pb2.ExportCustomerResponse(document_json=json.dumps(document, ensure_ascii=False))


def model_status(status: ModelStatus) -> admin_pb2.ModelStatus:
    return admin_pb2.ModelStatus(
        name=status.name, promoted_version=status.promoted, serving_version=status.serving, problem=status.problem
    )


_BUCKETS = {
    admin_pb2.METRICS_BUCKET_UNSPECIFIED: Bucket.MONTH,
    admin_pb2.METRICS_BUCKET_DAY: Bucket.DAY,
    admin_pb2.METRICS_BUCKET_WEEK: Bucket.WEEK,
    admin_pb2.METRICS_BUCKET_MONTH: Bucket.MONTH,
}


def moment_from(text: str, field: str) -> datetime:
    """An ISO 8601 date (midnight UTC) or time (UTC when it names no zone), as `forestall report` reads one."""
    if not text:
        raise InvalidArgument(field, "is required: an ISO 8601 date or time, for example 2026-03-01")
    try:
        return parse_moment(text)
    except ValueError:
        raise InvalidArgument(field, f"{text[:MAX_ID_LENGTH]!r} is not an ISO 8601 date or time") from None


def metrics_query(request: admin_pb2.GetMetricsRequest) -> MetricsQuery:
    bucket = _BUCKETS.get(request.bucket)
    if bucket is None:
        raise InvalidArgument("bucket", f"unknown value {request.bucket}")
    share = request.control_share if request.HasField("control_share") else None
    if share is not None and not 0 <= share <= 1:
        raise InvalidArgument("control_share", f"{share} is not between 0 and 1")
    salt = request.control_salt if request.HasField("control_salt") else None
    if salt is not None and not 0 < len(salt) <= MAX_ID_LENGTH:
        raise InvalidArgument("control_salt", f"must be 1 to {MAX_ID_LENGTH} characters")
    if request.replicates > MAX_REPLICATES:
        raise InvalidArgument("replicates", f"{request.replicates} exceeds the limit of {MAX_REPLICATES}")
    if request.top_rules > MAX_TOP_RULES:
        raise InvalidArgument("top_rules", f"{request.top_rules} exceeds the limit of {MAX_TOP_RULES}")
    start, end = moment_from(request.from_date, "from_date"), moment_from(request.to_date, "to_date")
    return MetricsQuery(
        period=period_of(start, end, "from_date", "to_date"),
        bucket=bucket,
        control_share=share,
        control_salt=salt,
        seed=request.seed,
        replicates=request.replicates or DEFAULT_REPLICATES,
        top_rules=request.top_rules or TOP_RULES,
    )


def metrics_response(found: Effectiveness) -> admin_pb2.GetMetricsResponse:
    """The report's document (engine/metrics/report.py) as messages, with each metric's series."""
    document = found.document
    uplifts = {u["metric"]: u for u in document["uplift"]["metrics"]}
    control = document["uplift"]
    return admin_pb2.GetMetricsResponse(
        period=_metrics_period(found.document["period"]),
        customers_read=document["customers_read"],
        compacted_customers=document["compacted_customers"],
        metrics=[
            admin_pb2.Metric(
                name=name,
                title=metric["title"],
                formula=metric["formula"],
                unit=metric["unit"],
                group=metric["group"],
                value=metric["value"],
                numerator=metric["numerator"],
                denominator=metric["denominator"],
                reason=metric["reason"] or "",
                series=[_point(part, values[name]) for part, values in found.series],
                uplift=_uplift(uplifts[name]) if name in uplifts else None,
            )
            for name, metric in document["metrics"].items()
        ],
        buckets=[_period_message(part) for part, _ in found.series],
        control=admin_pb2.ControlGroup(
            method=control["assignment"]["method"],
            control_share=control["assignment"]["control_share"],
            control_salt=control["assignment"]["salt"],
            treated_customers=control["treated_customers"],
            control_customers=control["control_customers"],
            confidence=control["confidence"],
            replicates=control["replicates"],
            seed=control["seed"],
            note=control["note"],
        ),
        by_family=[_funnel(f) for f in document["funnels"]["family"]],
        by_channel=[_funnel(f) for f in document["funnels"]["channel"]],
        top_rules=[_funnel(f) for f in document["top_rules"]],
    )


def _metrics_period(period: Mapping[str, str]) -> admin_pb2.MetricsPeriod:
    return admin_pb2.MetricsPeriod(
        label=period["label"],
        from_time=timestamp_of(datetime.fromisoformat(period["from"])),
        to_time=timestamp_of(datetime.fromisoformat(period["to"])),
    )


def _period_message(period: Period) -> admin_pb2.MetricsPeriod:
    return admin_pb2.MetricsPeriod(
        label=period.label, from_time=timestamp_of(period.start), to_time=timestamp_of(period.end)
    )


def _point(period: Period, value: MetricValue) -> admin_pb2.MetricPoint:
    return admin_pb2.MetricPoint(period=_period_message(period), value=value.value, reason=value.reason or "")


def _uplift(found: Mapping[str, Any]) -> admin_pb2.MetricUplift:
    return admin_pb2.MetricUplift(
        treated=found["treated"],
        control=found["control"],
        difference=found["difference"],
        low=found["low"],
        high=found["high"],
        relative=found["relative"],
        excludes_zero=found["excludes_zero"],
        replicates_used=found["replicates_used"],
        replicates_dropped=found["replicates_dropped"],
        reason=found["reason"] or "",
    )


def _funnel(found: Mapping[str, Any]) -> admin_pb2.Funnel:
    return admin_pb2.Funnel(
        value=found["value"],
        actions=found["actions"],
        contacted=found["contacted"],
        accepted=found["accepted"],
        converted=found["converted"],
        revenue=found["revenue"],
        acceptance_rate=found["acceptance_rate"],
        conversion_rate=found["conversion_rate"],
        revenue_per_action=found["revenue_per_action"],
    )
