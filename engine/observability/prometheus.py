"""The Prometheus metrics of one server, for operators: latency, decisions, rules fired, reloads, errors.

Each server keeps its metrics in a registry of its own (not prometheus-client's global one),
so several servers in one process count apart. Every label takes values from a bounded set:
RPC names, status codes, families, rule ids (bounded by the rule set), store operations,
outcomes. A customer id is never a label. The recording methods are the hooks the service
edge calls: the RPC interceptor, the store wrapper, the decision observer and the reloads.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from engine.decision.explain import Trace
from engine.models.serving import ModelSet
from engine.ruleset.live import ReloadResult
from engine.vocabulary import Family, Outcome

# From half a millisecond (a decision on a small state) to five minutes (a sweep of a large store).
RPC_SECONDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
# A store call: tens of microseconds (SQLite, cached pages) to seconds (a slow Redis, a large history).
STORE_SECONDS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5)

DECISION_RESULTS = ("actions", "held_out", "empty")
DISPOSITIONS = ("returned", "held_out")
RELOADED = ("rules", "models")
RELOAD_RESULTS = ("ok", "failed")
EVENT_RESULTS = ("accepted", "duplicate", "rejected")


class ServerMetrics:
    """The metrics of one server, in `registry`; docs/operations.md lists them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._rpc_seconds = Histogram(
            "forestall_rpc_duration_seconds",
            "Time to answer a call to DecisionService or AdminService (a SweepDue stream: until its end), by RPC.",
            ["rpc"],
            buckets=RPC_SECONDS,
            registry=self.registry,
        )
        self._rpc_errors = Counter(
            "forestall_rpc_errors",
            "Calls answered with a status other than OK, by RPC and status code.",
            ["rpc", "code"],
            registry=self.registry,
        )
        self._decisions = Counter(
            "forestall_decisions",
            "Decisions made (Decide and each customer of a sweep), by result: actions returned, all held out"
            " for the control group, or empty.",
            ["result"],
            registry=self.registry,
        )
        self._actions = Counter(
            "forestall_actions",
            "Actions of decisions, by family and disposition: returned, or held out for the control group.",
            ["family", "disposition"],
            registry=self.registry,
        )
        self._rules_fired = Counter(
            "forestall_rules_fired",
            "Candidate actions proposed in decisions, by the rule that proposed them (before the contact policy).",
            ["rule"],
            registry=self.registry,
        )
        self._reloads = Counter(
            "forestall_reloads",
            "Reloads of the rule set or the promoted models, by result: ok, or failed (the previous one serves on).",
            ["what", "result"],
            registry=self.registry,
        )
        self._store_seconds = Histogram(
            "forestall_store_duration_seconds",
            "Time of a call to the state store, by operation.",
            ["operation"],
            buckets=STORE_SECONDS,
            registry=self.registry,
        )
        self._events = Counter(
            "forestall_events_ingested",
            "Events of IngestEvents batches, by result code (a batch refused whole counts its events as rejected).",
            ["result"],
            registry=self.registry,
        )
        self._outcomes = Counter(
            "forestall_outcomes_recorded",
            "Outcomes stored by RecordOutcome, by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        # Series that exist from the start, at 0, so that rates and alerts see them before the first event.
        for result in DECISION_RESULTS:
            self._decisions.labels(result)
        for family in Family:
            for disposition in DISPOSITIONS:
                self._actions.labels(family.value, disposition)
        for what in RELOADED:
            for reload_result in RELOAD_RESULTS:
                self._reloads.labels(what, reload_result)
        for event_result in EVENT_RESULTS:
            self._events.labels(event_result)
        for outcome in Outcome:
            self._outcomes.labels(outcome.value)

    def rpc_finished(self, rpc: str, code: str, seconds: float) -> None:
        """A call ended with a status code (its name, for example "OK" or "INVALID_ARGUMENT")."""
        self._rpc_seconds.labels(rpc).observe(seconds)
        if code != "OK":
            self._rpc_errors.labels(rpc, code).inc()

    def decided(self, trace: Trace) -> None:
        """A decision was made and stored: what it returned, held out, and which rules proposed what."""
        decision = trace.decision
        result = "actions" if decision.actions else "held_out" if decision.held_out else "empty"
        self._decisions.labels(result).inc()
        for action in decision.actions:
            self._actions.labels(action.family.value, "returned").inc()
        for action in decision.held_out:
            self._actions.labels(action.family.value, "held_out").inc()
        for action in trace.proposed:
            self._rules_fired.labels(action.reason.rule_id).inc()

    def rules_reloaded(self, result: ReloadResult) -> None:
        self._reloads.labels("rules", "ok" if result.reloaded else "failed").inc()

    def models_reloaded(self, models: ModelSet) -> None:
        """A reload of the promoted models; failed when one promoted version could not be loaded."""
        self._reloads.labels("models", "failed" if any(s.problem for s in models.statuses) else "ok").inc()

    def store_call(self, operation: str, seconds: float) -> None:
        self._store_seconds.labels(operation).observe(seconds)

    def events_ingested(self, result: str, count: int = 1) -> None:
        self._events.labels(result).inc(count)

    def outcome_recorded(self, outcome: str) -> None:
        self._outcomes.labels(outcome).inc()
