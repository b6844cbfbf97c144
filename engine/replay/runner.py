"""Run scenarios on a virtual clock through the real decision path.

A target gives each scenario a session of its own: in process, a fresh SQLite store
in a temporary folder and a DecisionEngine (`InProcess`); against a running server,
the gRPC stubs with the scenario's customers under ids of their own
(`engine.replay.remote`). The runner walks the scenario's steps in clock order:
events are ingested when the clock reaches their arrival (those arriving between two
decisions in one batch, in arrival order, as a caller batching them would), outcomes
are recorded against the action a rule proposed at an earlier checkpoint, and each
checkpoint decides as of its moment and is judged against its expectations.
"""

from __future__ import annotations

import hashlib
import tempfile
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Protocol, cast

from engine.decision.engine import DecisionEngine, OutcomeReport
from engine.decision.explain import Explanation
from engine.decision.types import Action, DecideRequest, Decision
from engine.errors import ForestallError
from engine.events import Event
from engine.features.derive import Touch
from engine.models.serving import LiveModels
from engine.policy import Policy
from engine.qa.runner import facts_as_of, why_not
from engine.replay.scenario import Check, Expectation, ExpectedAction, Ingest, Report, Scenario, Step
from engine.ruleset.live import LiveRuleSet, Loaded
from engine.ruleset.loader import RuleSet
from engine.store import open_store

INGEST_BATCH = 1000  # the most IngestEvents takes at once
_POLICY_VERDICTS = ("dropped", "held out")  # a rule matched and the policy kept its action out


class Session(Protocol):
    """What a scenario does to Forestall: the three calls of a calling system, and Explain."""

    def ingest(self, events: Sequence[Event]) -> object: ...

    def decide(self, request: DecideRequest) -> Decision: ...

    def explain(self, request: DecideRequest) -> Explanation: ...

    def record_outcome(self, report: OutcomeReport) -> object: ...


class Target(ABC):
    """Where scenarios run; each scenario gets a session isolated from every other."""

    @abstractmethod
    def session(self, scenario: Scenario) -> AbstractContextManager[Session]: ...


class LiveRuleSets:
    """Each rules folder compiled once per run, and closed with it."""

    def __init__(self, loaded_at: datetime) -> None:
        self._loaded_at = loaded_at
        self._live: dict[Path, LiveRuleSet] = {}

    def live(self, folder: Path) -> LiveRuleSet:
        key = Path(folder).resolve()
        if key not in self._live:
            self._live[key] = LiveRuleSet(key, self._loaded_at)
        return self._live[key]

    def ruleset(self, folder: Path) -> RuleSet:
        return self.live(folder).current.ruleset

    def close(self) -> None:
        for live in self._live.values():
            live.close()
        self._live.clear()


class InProcess(Target):
    """A fresh SQLite store in a temporary folder and a DecisionEngine, per scenario, serving the
    scenario's rules and the promoted models of its models folder (each folder loaded once a run)."""

    def __init__(self, rulesets: LiveRuleSets) -> None:
        self.rulesets = rulesets
        self._models: dict[Path, LiveModels] = {}

    @contextmanager
    def session(self, scenario: Scenario) -> Iterator[Session]:
        key = scenario.models.resolve()
        models = self._models.get(key) or self._models.setdefault(key, LiveModels(key))
        rules = self.rulesets.live(scenario.rules)
        if scenario.policy is not None:
            rules = cast(LiveRuleSet, _WithPolicy(rules, scenario.policy))
        with tempfile.TemporaryDirectory(prefix="forestall-replay-") as folder:
            store = open_store(Path(folder) / "store.db")
            try:
                yield DecisionEngine(store, rules, models)
            finally:
                store.close()


class _WithPolicy:
    """A rule set as served, with a scenario's own policy in place of its folder's; its version says so."""

    def __init__(self, live: LiveRuleSet, policy: Policy) -> None:
        served = live.current
        digest = hashlib.sha256(policy.model_dump_json().encode()).hexdigest()[:8]
        ruleset = replace(served.ruleset, policy=policy, version=f"{served.ruleset.version}+policy-{digest}")
        self.current = replace(served, ruleset=ruleset)
        self._live = live

    @contextmanager
    def use(self) -> Iterator[Loaded]:
        with self._live.use():  # keeps the matcher alive while it is used
            yield self.current


# ---- results -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeenAction:
    """An action as it came back, without its ids (random per process, so not comparable)."""

    rule_id: str
    offer_id: str
    family: str
    channel: str
    send_at: datetime
    valid_until: datetime
    score: float
    text: str
    matched_facts: dict[str, str]

    @classmethod
    def of(cls, action: Action) -> SeenAction:
        reason = action.reason
        return cls(
            reason.rule_id,
            action.offer_id,
            action.family.value,
            action.channel.value,
            action.send_at,
            action.valid_until,
            action.score,
            action.text,
            # By name: a protobuf map keeps no order, and both modes must read the same.
            dict(sorted(reason.matched_facts.items())),
        )

    def describe(self) -> str:
        return (
            f"{self.rule_id} -> {self.offer_id} ({self.family}) via {self.channel}, sent at {self.send_at.isoformat()}"
        )


@dataclass(frozen=True)
class Failure:
    """One expectation not met: what was expected and what came back instead."""

    expectation: str  # actions, in_order, absent, absent_offers or empty
    expected: str
    message: str
    # For an expected rule that proposed nothing: what the fields it reads held on each fact it could match.
    facts: tuple[dict[str, str], ...] = ()


@dataclass(frozen=True)
class CheckResult:
    check: Check
    ruleset_version: str
    actions: tuple[SeenAction, ...]
    failures: tuple[Failure, ...]

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass(frozen=True)
class StepError:
    """A step that could not be done (an outcome with no action to report on, a refused call);
    the scenario stops there."""

    at: datetime
    customer: str
    line: int
    message: str


@dataclass(frozen=True)
class ScenarioResult:
    scenario: Scenario
    checks: tuple[CheckResult, ...]
    errors: tuple[StepError, ...]

    @property
    def passed(self) -> bool:
        return not self.errors and all(check.passed for check in self.checks)


# ---- the run -------------------------------------------------------------------------------------


def run_scenarios(scenarios: Iterable[Scenario], target: Target, rulesets: LiveRuleSets) -> Iterator[ScenarioResult]:
    """Each scenario's result as soon as it has run, in the order given."""
    for scenario in scenarios:
        yield run_scenario(scenario, target, rulesets)


def run_scenario(scenario: Scenario, target: Target, rulesets: LiveRuleSets) -> ScenarioResult:
    """`rulesets` gives the scenario's rules, to explain an expected rule that proposed nothing."""
    replay = _Replay(scenario, rulesets.ruleset(scenario.rules))
    try:
        with target.session(scenario) as session:
            for steps in _grouped(scenario.steps):
                try:
                    replay.do(session, steps)
                except (ForestallError, _StepFailed) as exc:
                    step = steps[0]
                    replay.errors.append(StepError(step.at, step.customer, step.line, str(exc)))
                    break
    except ForestallError as exc:  # the target refused the scenario itself
        first = scenario.steps[0]
        replay.errors.append(StepError(first.at, first.customer, first.line, str(exc)))
    return ScenarioResult(scenario, tuple(replay.checks), tuple(replay.errors))


class _StepFailed(Exception):
    pass


class _Replay:
    def __init__(self, scenario: Scenario, ruleset: RuleSet) -> None:
        self.scenario = scenario
        self.ruleset = ruleset
        self.decisions: dict[str, Decision] = {}
        self.ingested: dict[str, list[Event]] = defaultdict(list)
        self.checks: list[CheckResult] = []
        self.errors: list[StepError] = []

    def do(self, session: Session, steps: Sequence[Step]) -> None:
        first = steps[0]
        if isinstance(first, Ingest):
            events = [step.event for step in steps if isinstance(step, Ingest)]
            session.ingest(events)
            for event in events:
                self.ingested[event.customer_id].append(event)
        elif isinstance(first, Report):
            session.record_outcome(self._outcome(first))
        else:
            self._check(session, first)

    def _outcome(self, step: Report) -> OutcomeReport:
        decision = self.decisions[step.checkpoint]
        for action in decision.actions:
            if action.reason.rule_id == step.rule and step.offer in (None, action.offer_id):
                return OutcomeReport(decision.decision_id, action.action_id, step.outcome, step.at, step.amount)
        proposed = ", ".join(SeenAction.of(a).describe() for a in decision.actions) or "nothing"
        what = step.rule + (f" -> {step.offer}" if step.offer else "")
        raise _StepFailed(
            f"outcome {step.outcome.value}: checkpoint `{step.checkpoint}` has no action of {what} "
            f"to report it on; it proposed {proposed}"
        )

    def _check(self, session: Session, check: Check) -> None:
        request = DecideRequest(
            check.customer, check.at, check.channel, check.touchpoint, check.max_actions, check.context
        )
        # Explained first, as the decision will see it: it records what it returns, which then cools down.
        explained = session.explain(request) if any(e.rule for e in check.expect.actions) else None
        decision = session.decide(request)
        self.decisions[check.name] = decision
        actions = tuple(SeenAction.of(a) for a in decision.actions)
        touch = Touch(check.channel.value if check.channel else None, check.touchpoint, check.context)

        def explain(rule_id: str) -> tuple[str, tuple[dict[str, str], ...]]:
            facts = facts_as_of(self.ruleset, self.ingested[check.customer], check.at, touch)
            hint, seen = why_not(self.ruleset.by_id[rule_id], facts)
            kept_out = [c for c in explained.considered if c.rule_id == rule_id] if explained else []
            if kept_out and kept_out[0].verdict == "no channel":
                return f"matched, but {kept_out[0].reason}", seen
            if kept_out and kept_out[0].verdict in _POLICY_VERDICTS:
                return f"matched, but {kept_out[0].verdict}: {kept_out[0].reason}", seen
            return f"proposed nothing{hint}", seen

        failures = tuple(judge(check.expect, actions, explain))
        self.checks.append(CheckResult(check, decision.ruleset_version, actions, failures))


def _grouped(steps: Sequence[Step]) -> Iterator[Sequence[Step]]:
    """Consecutive ingestions as batches; every other step alone."""
    batch: list[Step] = []
    for step in steps:
        if isinstance(step, Ingest) and len(batch) < INGEST_BATCH:
            batch.append(step)
            continue
        if batch:
            yield batch
            batch = []
        if isinstance(step, Ingest):
            batch.append(step)
        else:
            yield [step]
    if batch:
        yield batch


Explain = Callable[[str], tuple[str, tuple[dict[str, str], ...]]]


def judge(expect: Expectation, actions: Sequence[SeenAction], explain: Explain) -> Iterator[Failure]:
    """Every way the actions that came back miss the expectation, each said as expected against got."""
    used: set[int] = set()
    positions: list[int | None] = []
    for expected in expect.actions:
        named = [i for i, action in enumerate(actions) if _named(expected, action)]
        fitting = [i for i in named if i not in used and _fits(expected, actions[i])]
        if fitting:
            used.add(fitting[0])
            positions.append(fitting[0])
            continue
        positions.append(None)
        if named:
            differences = ", ".join(_differences(expected, actions[named[0]])) or "once, for an earlier expectation"
            message = f"expected {expected.describe()}: it came back {differences}"
            yield Failure("actions", expected.describe(), message)
        elif expected.rule:
            why, seen = explain(expected.rule)
            message = f"expected {expected.describe()}: {expected.rule} {why}"
            yield Failure("actions", expected.describe(), message, seen)
        else:
            message = f"expected {expected.describe()}: no action offered {expected.offer}"
            yield Failure("actions", expected.describe(), message)
    found = [p for p in positions if p is not None]
    if expect.in_order and len(found) == len(positions) and found != sorted(found):
        listed = ", ".join(e.describe() for e in expect.actions)
        ranks = ", ".join(str(p + 1) for p in found)
        yield Failure("in_order", listed, f"expected in this order: {listed}; they came back at ranks {ranks}")
    for rule_id in expect.absent:
        for action in actions:
            if action.rule_id == rule_id:
                yield Failure("absent", rule_id, f"expected {rule_id} to propose nothing: got {action.describe()}")
                break
    for offer_id in expect.absent_offers:
        for action in actions:
            if action.offer_id == offer_id:
                yield Failure("absent_offers", offer_id, f"expected no {offer_id} offer: got {action.describe()}")
                break
    if expect.empty and actions:
        count = len(actions)
        yield Failure("empty", "", f"expected no action: {count} came back")


def _named(expected: ExpectedAction, action: SeenAction) -> bool:
    return expected.rule in (None, action.rule_id) and expected.offer in (None, action.offer_id)


def _fits(expected: ExpectedAction, action: SeenAction) -> bool:
    window = expected.window
    return (
        (expected.channel is None or expected.channel.value == action.channel)
        and (expected.family is None or expected.family.value == action.family)
        and (window is None or window[0] <= action.send_at <= window[1])
    )


def _differences(expected: ExpectedAction, action: SeenAction) -> Iterator[str]:
    if expected.family is not None and expected.family.value != action.family:
        yield f"as {action.family}, not {expected.family.value}"
    if expected.channel is not None and expected.channel.value != action.channel:
        yield f"via {action.channel}, not {expected.channel.value}"
    if expected.window is not None and not expected.window[0] <= action.send_at <= expected.window[1]:
        yield f"sent at {action.send_at.isoformat()}, outside the window"
