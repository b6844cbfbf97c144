"""The decision path of DESIGN.md section 3, with no transport in it.

load state -> derive facts as of the request time -> match rules -> rank ->
log and return. Time comes in with each request; ids come from `new_id`.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import structlog

from engine.decision.arbitration import arbitrate
from engine.decision.contact_policy import Capacity, LookingCapacity, StoreCapacity, closed_channels
from engine.decision.explain import Explanation, Trace, explanation_of
from engine.decision.proposals import Proposer
from engine.decision.states import CustomerStates
from engine.decision.types import Action, DecideRequest, Decision, DueAction
from engine.errors import NotFound
from engine.events import ContactMade, ContactOutcome, Event, bounded_id
from engine.features.derive import Fact, Scope, Touch, facts_of
from engine.features.state import CustomerState
from engine.models.serving import LiveModels, ModelSet, Scores, StatedScores
from engine.privacy import customer_ref
from engine.ruleset.live import LiveRuleSet
from engine.ruleset.loader import RuleSet
from engine.store.base import IngestCode, Store, StoredDecision, StoredOutcome
from engine.vocabulary import Channel, Outcome

log = structlog.get_logger(__name__)

DEFAULT_MAX_ACTIONS = 5
NO_MODELS = ModelSet()


@dataclass(frozen=True)
class OutcomeReport:
    decision_id: str
    action_id: str
    outcome: Outcome
    occurred_at: datetime
    amount: float = 0.0


class DecisionRecorder(Protocol):
    """Keeps each decision with what it read (engine/replay/decision_log.py); never raises, never waits on disk."""

    def record(self, request: DecideRequest, state: CustomerState, decision: Decision) -> None: ...


_ID_PREFIX = secrets.token_hex(8)
_ID_SEQUENCE = itertools.count()


def _new_id() -> str:
    """Unique across processes (a random prefix per process) without a system call per id."""
    return f"{_ID_PREFIX}{next(_ID_SEQUENCE):016x}"


class DecisionEngine:
    """Decide, ingest, record outcomes and sweep, over one store and the live rule set."""

    def __init__(
        self,
        store: Store,
        rules: LiveRuleSet,
        models: LiveModels | StatedScores | None = None,
        new_id: Callable[[], str] = _new_id,
        decision_log: DecisionRecorder | None = None,
        observer: Callable[[Trace], None] | None = None,
    ) -> None:
        self.store = store
        self.states = CustomerStates(store)
        self.rules = rules
        self.models = models
        self._new_id = new_id
        self.decision_log = decision_log
        # Told of each decision made, with how it was reached (the operators' metrics); never of an Explain.
        self.observer = observer

    def decide(self, request: DecideRequest) -> Decision:
        trace = self._run(request, StoreCapacity(self.store))
        decision = trace.decision
        self.store.save_decision(_stored(decision))
        self._made(decision)
        if self.decision_log is not None:
            self.decision_log.record(request, trace.state, decision)
        if self.observer is not None:
            self.observer(trace)
        log.info(
            "decided",
            decision_id=decision.decision_id,
            customer=customer_ref(request.customer_id),
            ruleset_version=decision.ruleset_version,
            candidates=len(trace.proposed),
            actions=[a.action_id.split(":", 1)[0] for a in decision.actions],
            held_out=[a.action_id.split(":", 1)[0] for a in decision.held_out],
            failed_facts=trace.failed_facts,
        )
        return decision

    def explain(self, request: DecideRequest) -> Explanation:
        """What a decision would be now, and why: every rule, candidate, and what kept or dropped it.
        Nothing is stored or logged as a decision."""
        return explanation_of(self.preview(request))

    def preview(self, request: DecideRequest) -> Trace:
        """The decision path, keeping nothing: no decision stored, no contact made, no capacity taken."""
        return self._run(request, LookingCapacity(self.store))

    def _run(self, request: DecideRequest, capacity: Capacity) -> Trace:
        """The decision path: state, facts, scores, matches, proposals, arbitration."""
        models = self.models.current if self.models else NO_MODELS
        with self.rules.use() as loaded:
            ruleset = loaded.ruleset
            state = self.states.as_of(request.customer_id, request.as_of, ruleset.catalogue)
            touch = Touch(request.channel.value if request.channel else None, request.touchpoint, request.context)
            facts = facts_of(
                state,
                ruleset.catalogue,
                request.as_of,
                touch,
                scope=Scope(ruleset.subjects, ruleset.categories, ruleset.pinned),
            )
            scores = _scored(models, ruleset, facts, state, request.as_of)
            result = loaded.matcher.match(facts)
            closed = closed_channels(ruleset.policy, state, request, capacity)
            by_id = {str(f["id"]): f for f in facts}
            proposer = Proposer(ruleset, by_id, request, scores.propensity)
            actions = proposer.propose(result.matches, closed)
            limit = request.max_actions or DEFAULT_MAX_ACTIONS
            arbitrated = arbitrate(actions, ruleset.policy, request, limit, state, capacity, proposer.rechannel)
        decision = Decision(
            self._new_id(),
            request.customer_id,
            request.as_of,
            ruleset.version,
            models.version,
            arbitrated.returned,
            ranked_by_model=bool(scores.propensity),
            held_out=arbitrated.held_out,
        )
        return Trace(
            decision,
            state,
            ruleset,
            facts,
            tuple(result.matches),
            tuple(actions),
            arbitrated,
            len(result.failed_fact_ids),
            closed,
        )

    def ingest(self, events: Sequence[Event]) -> list[IngestCode]:
        codes = self._ingest(events)
        log.info("ingested", events=len(events), accepted=codes.count(IngestCode.ACCEPTED))
        return codes

    def _ingest(self, events: Sequence[Event], durable: bool = True) -> list[IngestCode]:
        ingested = self.store.ingest_changes(events, durable)
        with self.rules.use() as loaded:
            self.states.ingested(events, ingested, loaded.ruleset.catalogue)
        return ingested.codes

    def _made(self, decision: Decision) -> None:
        """Add the decision's actions to the customer's contact history, for caps and cooldowns on every
        replica; as durable as the decision itself."""
        made = [_contact_event(decision, a, held_out=False) for a in decision.actions]
        made += [_contact_event(decision, a, held_out=True) for a in decision.held_out]
        if made:
            self._ingest(made, durable=False)

    def record_outcome(self, report: OutcomeReport) -> str:
        """Store an outcome against its decision and action; returns the decision's customer id."""
        decision = self.store.find_decision(report.decision_id)
        if decision is None:
            raise NotFound("decision", report.decision_id)
        if report.action_id not in decision.actions:
            raise NotFound(f"action of decision {report.decision_id}", report.action_id)
        self.store.record_outcome(
            StoredOutcome(report.decision_id, report.action_id, report.outcome, report.occurred_at, report.amount)
        )
        # The customer's history hears of it too: response rates, dismissals and metrics read it there.
        self.ingest([_outcome_event(decision, report)])
        log.info("outcome_recorded", decision_id=report.decision_id, outcome=report.outcome.value)
        return decision.customer_id

    def export_customer(self, customer_id: str) -> dict[str, Any]:
        """Everything held on a customer (events, decisions, outcomes), for a data-rights request."""
        document = self.store.export_customer(customer_id)
        log.info("customer_exported", customer=customer_ref(customer_id))
        return document

    def forget_customer(self, customer_id: str) -> int:
        """Erase everything held on a customer; returns the number of records erased."""
        erased = self.store.forget_customer(customer_id)
        log.info("customer_forgotten", customer=customer_ref(customer_id), records=erased)
        return erased

    def sweep(self, as_of: datetime, max_actions: int | None = None) -> Iterator[DueAction]:
        """The due outbound actions of every customer as of a moment, through the same path as decide."""
        for customer_id in self.store.customer_ids():
            decision = self.decide(DecideRequest(customer_id, as_of, max_actions=max_actions, touchpoint="sweep"))
            for action in decision.actions:
                yield DueAction(customer_id, decision.decision_id, action)


def _scored(
    models: ModelSet | StatedScores, ruleset: RuleSet, facts: list[Fact], state: CustomerState, as_of: datetime
) -> Scores:
    """Score the customer with the models the decision needs, and give each fact its scores (`score.<name>`)."""
    scores = models.decision_scores(ruleset.scores, facts, state, as_of)
    if scores.customer or scores.categories:
        for fact in facts:
            fact["score"] = scores.of(fact)
    return scores


def _outcome_event(decision: StoredDecision, report: OutcomeReport) -> Event:
    """A recorded outcome as the contact outcome event a calling system would send; one id per outcome."""
    channel = decision.actions[report.action_id].get("channel")
    return Event(
        event_id=bounded_id(f"outcome:{report.decision_id}", f"{report.action_id}:{report.outcome.value}"),
        customer_id=decision.customer_id,
        occurred_at=report.occurred_at,
        payload=ContactOutcome(
            decision_id=report.decision_id,
            action_id=report.action_id,
            outcome=report.outcome,
            channel=Channel(channel) if channel else None,
            amount=report.amount,
        ),
    )


def _contact_event(decision: Decision, action: Action, held_out: bool) -> Event:
    return Event(
        event_id=bounded_id(f"contact:{decision.decision_id}", action.action_id),
        customer_id=decision.customer_id,
        occurred_at=decision.as_of,
        payload=ContactMade(
            channel=action.channel,
            decision_id=decision.decision_id,
            action_id=action.action_id,
            family=action.family,
            held_out=held_out,
        ),
    )


def _stored(decision: Decision) -> StoredDecision:
    return StoredDecision(
        decision.decision_id,
        decision.customer_id,
        decision.as_of,
        decision.ruleset_version,
        decision.model_version,
        {
            **{a.action_id: _action_record(a) for a in decision.actions},
            # Kept so that the control group's outcomes can be measured against what it would have had.
            **{a.action_id: {**_action_record(a), "held_out": True} for a in decision.held_out},
        },
    )


def _action_record(action: Action) -> dict[str, object]:
    return {
        "offer_id": action.offer_id,
        "family": action.family.value,
        "channel": action.channel.value,
        "score": action.score,
        "rule_id": action.reason.rule_id,
        "matched_facts": action.reason.matched_facts,
    }
