"""Replay against a running server (`forestall replay --target host:port`), through the stock gRPC stubs.

Isolation: each scenario's customers are sent under ids of their own, a per-run
prefix and the scenario's number before the id the scenario gives, and the prefix
is stripped from what comes back; so results read as they do in process, and
runs against a shared server do not see one another's customers. The rules and models
are the server's: the scenario's `rules:` only checks the ids it names and explains a
rule that proposed nothing, and its `models:` is not read. A scenario with a `policy:`
of its own cannot run against a server: it is reported as an error.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from typing import Any

import grpc
from google.protobuf.message import Message

from engine.api.converters import timestamp_from, timestamp_of
from engine.api.generated import admin_pb2, admin_pb2_grpc, decision_pb2, decision_pb2_grpc
from engine.decision.engine import OutcomeReport
from engine.decision.explain import Considered, Explanation
from engine.decision.types import Action, DecideRequest, Decision, Reason
from engine.errors import ForestallError
from engine.events import Event
from engine.replay.runner import Session, Target
from engine.replay.scenario import Scenario
from engine.vocabulary import Channel, Family

DEADLINE_SECONDS = 30.0


class RemoteRefused(ForestallError):
    """The server refused a call of a scenario, or could not be reached."""

    status = "UNAVAILABLE"


class Remote(Target):
    """A running server; `run_id` (random per run, chosen by the caller) keeps runs apart."""

    def __init__(self, channel: grpc.Channel, run_id: str, metadata: Sequence[tuple[str, str]] = ()) -> None:
        self.stub = decision_pb2_grpc.DecisionServiceStub(channel)
        self.admin = admin_pb2_grpc.AdminServiceStub(channel)
        self.run_id = run_id
        self.metadata = tuple(metadata)
        self._numbers = itertools.count(1)

    @contextmanager
    def session(self, scenario: Scenario) -> Iterator[Session]:
        if scenario.policy is not None:
            raise RemoteRefused("the scenario sets its own policy, which a server cannot take: replay it in process")
        prefix = f"replay-{self.run_id}-{next(self._numbers)}/"
        yield _RemoteSession(self.stub, self.admin, prefix, self.metadata)


class _RemoteSession:
    def __init__(
        self,
        stub: decision_pb2_grpc.DecisionServiceStub,
        admin: admin_pb2_grpc.AdminServiceStub,
        prefix: str,
        metadata: tuple[Any, ...],
    ) -> None:
        self.stub = stub
        self.admin = admin
        self.prefix = prefix
        self.metadata = metadata

    def ingest(self, events: Sequence[Event]) -> None:
        request = decision_pb2.IngestEventsRequest(events=[self._event(event) for event in events])
        response = self._call("IngestEvents", request)
        for status in response.statuses:
            if status.code == decision_pb2.EventStatus.REJECTED:
                raise RemoteRefused(f"IngestEvents: event {status.event_id} rejected: {status.reason}")

    def decide(self, request: DecideRequest) -> Decision:
        response = self._call("Decide", self._request(request))
        return Decision(
            decision_id=response.decision_id,
            customer_id=request.customer_id,
            as_of=timestamp_from(response.as_of, "as_of"),
            ruleset_version=response.ruleset_version,
            model_version=response.model_version,
            actions=tuple(_action(a) for a in response.actions),
        )

    def explain(self, request: DecideRequest) -> Explanation:
        """The server's Explain (an admin call: the token given must allow it), with the run's prefix taken out."""
        explained = self._call("Explain", admin_pb2.ExplainRequest(request=self._request(request)), self.admin)
        document = json.loads(explained.document_json)
        return Explanation(
            request.customer_id,
            document["as_of"],
            document["ruleset_version"],
            document["model_version"],
            tuple(
                Considered(**{name: str(value).replace(self.prefix, "") for name, value in c.items()})
                for c in document["considered"]
            ),
        )

    def _request(self, request: DecideRequest) -> decision_pb2.DecideRequest:
        return decision_pb2.DecideRequest(
            customer_id=self.prefix + request.customer_id,
            as_of=timestamp_of(request.as_of),
            touchpoint=decision_pb2.Touchpoint(channel=_number(_CHANNELS, request.channel), name=request.touchpoint),
            max_actions=request.max_actions or 0,
            context=dict(request.context),
        )

    def record_outcome(self, report: OutcomeReport) -> None:
        message = decision_pb2.RecordOutcomeRequest(
            decision_id=report.decision_id,
            action_id=report.action_id,
            outcome=_number(_OUTCOMES, report.outcome),
            occurred_at=timestamp_of(report.occurred_at),
            amount=report.amount,
        )
        self._call("RecordOutcome", message)

    def _event(self, event: Event) -> decision_pb2.Event:
        payload = event.payload.model_dump(mode="json", exclude={"kind"})
        message = decision_pb2.Event(
            event_id=event.event_id,
            customer_id=self.prefix + event.customer_id,
            occurred_at=timestamp_of(event.occurred_at),
        )
        _fill(getattr(message, event.payload.kind), payload)
        return message

    def _call(self, method: str, request: Message, stub: Any = None) -> Any:
        try:
            return getattr(stub or self.stub, method)(request, timeout=DEADLINE_SECONDS, metadata=self.metadata)
        except grpc.RpcError as exc:
            code = exc.code().name if hasattr(exc, "code") else "UNKNOWN"
            details = exc.details() if hasattr(exc, "details") else str(exc)
            raise RemoteRefused(f"{method}: {code}: {details}") from exc


_CHANNELS = decision_pb2.Touchpoint.DESCRIPTOR.fields_by_name["channel"].enum_type
_OUTCOMES = decision_pb2.RecordOutcomeRequest.DESCRIPTOR.fields_by_name["outcome"].enum_type


def _number(enum: Any, value: StrEnum | None) -> int:
    """An engine enum value as the API's number (0, unspecified, for None): the API's names are the engine's,
    upper-case."""
    return 0 if value is None else int(enum.values_by_name[value.value.upper()].number)


def _fill(message: Message, data: Mapping[str, Any]) -> None:
    """Set a protobuf message from the plain JSON of an event payload (the inverse of the API's converter)."""
    for descriptor in message.DESCRIPTOR.fields:
        value = data.get(descriptor.name)
        if value is None:
            continue
        if descriptor.enum_type is not None:
            names = descriptor.enum_type.values_by_name
            numbers = (
                [names[v.upper()].number for v in value] if descriptor.is_repeated else names[value.upper()].number
            )
            if descriptor.is_repeated:
                getattr(message, descriptor.name).extend(numbers)
            else:
                setattr(message, descriptor.name, numbers)
        elif descriptor.message_type is not None and descriptor.is_repeated:
            for item in value:
                _fill(getattr(message, descriptor.name).add(), item)
        elif descriptor.message_type is not None:
            _fill(getattr(message, descriptor.name), value)
        elif descriptor.is_repeated:
            getattr(message, descriptor.name).extend(value)
        else:
            setattr(message, descriptor.name, value)


def _action(message: decision_pb2.Action) -> Action:
    reason = message.reason
    return Action(
        action_id=message.action_id,
        # A response names no fact: this is the action id's, with the event of a rule that reads the latest
        # one. Nothing on this side tells facts apart: the server's arbitration and Explain do.
        fact_id=message.action_id.removeprefix(f"{reason.rule_id}:"),
        offer_id=message.offer_id,
        family=Family(_enum_name(message, "family")),
        channel=Channel(_enum_name(message, "channel")),
        send_at=_time(message, "send_at"),
        valid_until=_time(message, "valid_until"),
        score=message.score,
        value=message.value,
        title=message.message.title,
        template_id=message.message.template_id,
        text=message.message.text,
        parameters=dict(message.message.parameters),
        reason=Reason(
            rule_id=reason.rule_id,
            rule_description=reason.rule_description,
            matched_facts=dict(reason.matched_facts),
            score_explanation=reason.score_explanation,
        ),
    )


def _enum_name(message: Message, field: str) -> str:
    descriptor = message.DESCRIPTOR.fields_by_name[field]
    return str(descriptor.enum_type.values_by_number[getattr(message, field)].name.lower())


def _time(message: Message, field: str) -> datetime:
    return timestamp_from(getattr(message, field), field)
