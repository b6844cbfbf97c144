"""Rule-change impact: decide recorded decisions again with candidate rules (and models), and say what changes.

`forestall replay --log decisions.jsonl --rules NEW_DIR` reads a decision log
(engine/replay/decision_log.py) and decides each record again through the server's
own decision path (DecisionEngine.decide): the facts derived from the recorded
customer state as of the recorded moment, at the recorded touchpoint, matched against
the candidate rules and ranked. Nothing is read from a store, so a log from
production can be judged on a laptop.

Models: by default each record is decided again with the versions it names
(`model_version`), looked up in the models folder (`--recorded-models`, default
`models/`): a rule change is then judged alone, without the noise of a newer model.
A record whose versions are not there is not decided again, and the report says
why. `--models DIR` decides every record with the promoted models of DIR instead,
to judge a model change (or both).

A decision changes when an action appears or disappears (an action is its rule and
the fact it matched: `boiler-service-due:asset:pos-0001/0`), when an action's channel
changes, or when the actions that stay come back in another order. Changes are
counted by rule and by family, each with a few examples (the first in log order).

A state records the catalogue it was folded with (its products and follow-ons).
When the candidate catalogue's differ, the state is not what the events would give
under the candidate: those decisions are decided again from the recorded state all
the same, but counted apart, as approximate.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import msgspec

from engine.catalogue import Catalogue
from engine.decision.engine import DecisionEngine
from engine.decision.states import CustomerStates
from engine.decision.types import Action
from engine.errors import ForestallError, NotFound, RuleError, RuleSetInvalid
from engine.features.state import CustomerState, basis
from engine.models.artifacts import ModelArtifactInvalid, load_model
from engine.models.registry import PROMOTED_FILE, find
from engine.models.serving import LiveModels, ModelSet, load_model_set
from engine.qa.reporters import RULE
from engine.replay.decision_log import LoggedAction, LoggedDecision, LogLine
from engine.ruleset.live import LiveRuleSet
from engine.ruleset.loader import RuleSet
from engine.store.base import Store

SHOWN_UNREADABLE = 20  # located errors listed for unreadable lines; the rest are counted


class NotRedecided(ForestallError):
    """A record that cannot be decided again; its message is the reason, shared by the records it stops."""


# ---- what records are decided again with ----------------------------------------------------------


class RecordedModels:
    """Each record's own model versions, loaded once per combination from a models folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._sets: dict[str, ModelSet | NotRedecided] = {}

    def of(self, model_version: str) -> ModelSet:
        if model_version not in self._sets:
            self._sets[model_version] = self._load(model_version)
        found = self._sets[model_version]
        if isinstance(found, NotRedecided):
            raise found
        return found

    def _load(self, model_version: str) -> ModelSet | NotRedecided:
        models = {}
        for pair in filter(None, model_version.split(",")):
            name, _, version = pair.partition("=")
            try:
                models[name] = load_model(find(self.folder, name, version))
            except (NotFound, ModelArtifactInvalid) as exc:
                return NotRedecided(f"model {name} {version} cannot be loaded from {self.folder}: {exc}")
        return ModelSet(models)


@dataclass
class Candidate:
    """The rules and models records are decided again with; close it to free the rules' matcher."""

    rules: Path
    live: LiveRuleSet
    # The candidate models, every record decided with them; None: each record's own, from `models_dir`.
    models: ModelSet | None
    models_dir: Path

    @classmethod
    def load(cls, rules: Path, models: Path | None, recorded_models: Path, now: datetime) -> Candidate:
        """Raises RuleSetInvalid when the rules, or a promoted model of `models`, fail to load."""
        if models is not None:
            model_set = load_model_set(models)
            errors = [
                RuleError(str(Path(models) / PROMOTED_FILE), 1, 1, "model-refused", f"{s.name}: {s.problem}")
                for s in model_set.statuses
                if s.problem
            ]
            if errors:
                raise RuleSetInvalid(errors)
        live = LiveRuleSet(rules, now)
        return cls(Path(rules), live, model_set if models else None, Path(models or recorded_models))

    @property
    def ruleset(self) -> RuleSet:
        return self.live.current.ruleset

    def close(self) -> None:
        self.live.close()


class Redecider:
    """DecisionEngine.decide itself, over a stand-in for the store that answers with a record's state and
    keeps nothing: records are decided again by the decision path the server runs, whatever it comes to do
    (a step that reads more of the store fails here loudly rather than being left out)."""

    def __init__(self, rules: LiveRuleSet) -> None:
        self._state = CustomerState("")
        self._serving = _Serving()
        self._decision_id = ""
        store = cast(Store, _KeepsNothing())
        self.engine = DecisionEngine(store, rules, cast(LiveModels, self._serving), new_id=lambda: self._decision_id)
        self.engine.states = cast(CustomerStates, self)

    def decide(self, record: LoggedDecision, state: CustomerState, models: ModelSet) -> tuple[Action, ...]:
        self._state, self._serving.current, self._decision_id = state, models, record.decision_id
        return self.engine.preview(record.request.decide_request()).decision.actions

    def as_of(self, customer_id: str, as_of: datetime, catalogue: Catalogue) -> CustomerState:
        """What CustomerStates.as_of answers: here, the state the record read."""
        return self._state


@dataclass
class _Serving:
    """What LiveModels gives a decision: the models serving now."""

    current: ModelSet = field(default_factory=ModelSet)


class _KeepsNothing:
    """What a preview asks of the store when the state is given: how much capacity is taken; none is recorded."""

    max_events_per_customer = 1

    def slots_taken(self, counter: str) -> int:
        return 0


# ---- what changed ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """How one decision, decided again, differs from the record (or part of it: one rule's, one family's)."""

    decision_id: str
    customer_id: str
    as_of: datetime
    appeared: tuple[LoggedAction, ...] = ()
    disappeared: tuple[LoggedAction, ...] = ()
    channel_changed: tuple[tuple[LoggedAction, LoggedAction], ...] = ()  # (as recorded, now)
    was: tuple[str, ...] = ()  # the action ids, in order, as recorded
    now: tuple[str, ...] = ()  # and decided again

    @classmethod
    def between(cls, record: LoggedDecision, now: Iterable[LoggedAction]) -> Change:
        before = {a.action_id: a for a in record.actions}
        after = {a.action_id: a for a in now}
        return cls(
            record.decision_id,
            record.request.customer_id,
            record.request.as_of,
            tuple(a for i, a in after.items() if i not in before),
            tuple(a for i, a in before.items() if i not in after),
            tuple((a, after[i]) for i, a in before.items() if i in after and after[i].channel != a.channel),
            tuple(before),
            tuple(after),
        )

    @property
    def reordered(self) -> bool:
        """Whether the actions in both came back in another order."""
        kept = set(self.was) & set(self.now)
        return [i for i in self.was if i in kept] != [i for i in self.now if i in kept]

    @property
    def changed(self) -> bool:
        return bool(self.appeared or self.disappeared or self.channel_changed or self.reordered)

    def actions(self) -> Iterator[LoggedAction]:
        """The actions that changed: those that appeared or disappeared, and those now on another channel."""
        yield from self.appeared
        yield from self.disappeared
        yield from (now for _, now in self.channel_changed)

    def only(self, attribute: str, value: str) -> Change:
        """The part of the change about the actions of one rule (`rule_id`) or family (the order left out)."""

        def keep(action: LoggedAction) -> bool:
            return bool(getattr(action, attribute) == value)

        return replace(
            self,
            appeared=tuple(filter(keep, self.appeared)),
            disappeared=tuple(filter(keep, self.disappeared)),
            channel_changed=tuple(pair for pair in self.channel_changed if keep(pair[1])),
            was=(),
            now=(),
        )


@dataclass
class Group:
    """The changes of one rule or one family: actions counted, and the first few decisions as examples."""

    name: str
    family: str = ""  # a rule's family; empty for a family's group
    appeared: int = 0
    disappeared: int = 0
    channel_changed: int = 0
    examples: list[Change] = field(default_factory=list)

    def add(self, part: Change, examples: int) -> None:
        self.appeared += len(part.appeared)
        self.disappeared += len(part.disappeared)
        self.channel_changed += len(part.channel_changed)
        if len(self.examples) < examples:
            self.examples.append(part)

    @property
    def counts(self) -> tuple[int, int, int]:
        return self.appeared, self.disappeared, self.channel_changed

    @property
    def weight(self) -> int:
        return sum(self.counts)


@dataclass
class Tally:
    """What changed over some decisions decided again."""

    examples: int = 3
    decided: int = 0
    changed: int = 0
    gained: int = 0  # decisions where an action appeared
    lost: int = 0  # where one disappeared
    reordered: int = 0
    channel_changed: int = 0
    rules: dict[str, Group] = field(default_factory=dict)
    families: dict[str, Group] = field(default_factory=dict)
    reordered_examples: list[Change] = field(default_factory=list)

    def add(self, change: Change) -> None:
        self.decided += 1
        if not change.changed:
            return
        self.changed += 1
        self.gained += bool(change.appeared)
        self.lost += bool(change.disappeared)
        self.channel_changed += bool(change.channel_changed)
        if change.reordered:
            self.reordered += 1
            if len(self.reordered_examples) < self.examples:
                self.reordered_examples.append(change)
        for rule_id, family in sorted({(a.rule_id, a.family) for a in change.actions()}):
            group = self.rules.setdefault(rule_id, Group(rule_id, family))
            group.add(change.only("rule_id", rule_id), self.examples)
        for family in sorted({a.family for a in change.actions()}):
            group = self.families.setdefault(family, Group(family))
            group.add(change.only("family", family), self.examples)


@dataclass
class Impact:
    """The analysis of one or more decision logs against a candidate."""

    logs: tuple[Path, ...]
    candidate: Candidate
    examples: int = 3
    decisions: int = 0  # records read
    recorded_rulesets: Counter[str] = field(default_factory=Counter)
    recorded_models: Counter[str] = field(default_factory=Counter)
    exact: Tally = field(init=False)
    # Decided again from a state folded with another catalogue: approximate, counted apart.
    approximate: Tally = field(init=False)
    not_decided: Counter[str] = field(default_factory=Counter)
    unreadable: list[RuleError] = field(default_factory=list)
    unreadable_count: int = 0

    def __post_init__(self) -> None:
        self.exact = Tally(self.examples)
        self.approximate = Tally(self.examples)

    @property
    def changed(self) -> int:
        return self.exact.changed + self.approximate.changed

    @property
    def decided(self) -> int:
        return self.exact.decided + self.approximate.decided


def analyse(
    lines: Iterable[LogLine | RuleError],
    candidate: Candidate,
    logs: Iterable[Path] = (),
    examples: int = 3,
    progress: Callable[[int], None] | None = None,
) -> Impact:
    """Decide every readable record again with the candidate and tally what changes."""
    impact = Impact(tuple(logs), candidate, examples)
    recorded = RecordedModels(candidate.models_dir)
    redecider = Redecider(candidate.live)
    catalogue_basis = basis(candidate.ruleset.catalogue)
    for line in lines:
        if isinstance(line, RuleError):
            impact.unreadable_count += 1
            if len(impact.unreadable) < SHOWN_UNREADABLE:
                impact.unreadable.append(line)
            continue
        impact.decisions += 1
        record = line.decision
        impact.recorded_rulesets[record.ruleset_version] += 1
        impact.recorded_models[record.model_version] += 1
        try:
            state = _state(record, catalogue_basis)
            models = candidate.models if candidate.models is not None else recorded.of(record.model_version)
        except NotRedecided as reason:
            impact.not_decided[str(reason)] += 1
            continue
        actions = redecider.decide(record, state, models)
        change = Change.between(record, (LoggedAction.of(a) for a in actions))
        (impact.exact if state.basis == catalogue_basis else impact.approximate).add(change)
        if progress is not None and impact.decisions % 1000 == 0:
            progress(impact.decisions)
    return impact


def _state(record: LoggedDecision, catalogue_basis: str) -> CustomerState:
    try:
        state = record.customer_state()
    except msgspec.DecodeError as exc:
        raise NotRedecided(f"the state is of a layout this version does not read: {exc}") from exc
    state_format, folds = state.basis.partition(":")[0], catalogue_basis.partition(":")[0]
    if state_format != folds:
        raise NotRedecided(f"the state is of format {state_format}; this version folds format {folds}")
    return state


# ---- reports --------------------------------------------------------------------------------------


def pretty(impact: Impact) -> list[str]:
    """The report for a rule author: the counts, then each rule and family that changed with examples."""
    candidate = impact.candidate
    logs = ", ".join(str(p) for p in impact.logs)
    lines = [
        f"Impact of rules {candidate.rules} (version {candidate.ruleset.version}) "
        f"on {impact.decisions:,} recorded decisions ({logs})",
        f"  recorded with rules {_counted(impact.recorded_rulesets)}",
        f"  models: {_models(candidate)}",
    ]
    if impact.exact.decided or not impact.approximate.decided:
        lines += _tally(impact.exact)
    if impact.approximate.decided:
        lines += [
            "",
            f"{_decisions(impact.approximate.decided)} read a state folded with another catalogue (products or "
            "follow-ons other than the candidate's): decided again from that state,",
            "they show the change only approximately (replay their events to judge them exactly); counted apart:",
            *_tally(impact.approximate),
        ]
    if impact.not_decided:
        lines += ["", f"{_decisions(sum(impact.not_decided.values()))} not decided again:"]
        lines += [f"  {count:,}: {reason}" for reason, count in sorted(impact.not_decided.items())]
    if impact.unreadable_count:
        lines += [
            "",
            f"{impact.unreadable_count:,} line{'s are' if impact.unreadable_count != 1 else ' is'} not a record:",
        ]
        lines += [f"  {error}" for error in impact.unreadable]
        if impact.unreadable_count > len(impact.unreadable):
            lines.append(f"  and {impact.unreadable_count - len(impact.unreadable):,} more")
    lines += [RULE, f"{impact.changed:,} of {impact.decided:,} decisions decided again change"]
    return lines


def _tally(tally: Tally) -> list[str]:
    share = f" ({tally.changed / tally.decided:.1%})" if tally.decided else ""
    lines = [
        f"  {tally.decided:,} decided again: {tally.changed:,} change{share}",
        f"    an action appears in {tally.gained:,}, one disappears in {tally.lost:,}; "
        f"the order changes in {tally.reordered:,}, a channel in {tally.channel_changed:,}",
    ]
    if not tally.changed:
        return lines
    row = "  {:<52} {:>9} {:>12} {:>8}"
    lines += ["", row.format("actions by rule", "appeared", "disappeared", "channel")]
    for group in _ordered(tally.rules):
        lines.append(row.format(f"{group.name} ({group.family})", *group.counts))
        for example in group.examples:
            lines.append(f"      {_where(example)}:")
            lines += [f"        {sign} {what}" for sign, what in _changes(example)]
    lines += ["", row.format("actions by family", "appeared", "disappeared", "channel")]
    for group in _ordered(tally.families):  # the examples in brief: the rules' show what changed
        lines.append(row.format(group.name, *group.counts))
        lines.append("      e.g. " + ", ".join(f"{c.customer_id} (decision {c.decision_id})" for c in group.examples))
    if tally.reordered_examples:
        lines += ["", "  order changed, for example"]
        for example in tally.reordered_examples:
            lines += [
                f"      {_where(example)}:",
                f"        was {', '.join(example.was)}",
                f"        now {', '.join(example.now)}",
            ]
    return lines


def _decisions(count: int) -> str:
    return f"{count:,} decision{'s' if count != 1 else ''}"


def _changes(change: Change) -> Iterator[tuple[str, str]]:
    yield from (("+", a.describe()) for a in change.appeared)
    yield from (("-", a.describe()) for a in change.disappeared)
    yield from (("~", f"{now.describe()}, was via {was.channel}") for was, now in change.channel_changed)


def _where(change: Change) -> str:
    return f"{change.customer_id} as of {change.as_of.isoformat()}, decision {change.decision_id}"


def _ordered(groups: dict[str, Group]) -> list[Group]:
    """The groups with most changes first, then by name."""
    return sorted(groups.values(), key=lambda g: (-g.weight, g.name))


def _counted(counts: Counter[str]) -> str:
    return ", ".join(f"{key or 'none'} ({count:,})" for key, count in sorted(counts.items())) or "none"


def _models(candidate: Candidate) -> str:
    if candidate.models is None:
        return f"each decision's own versions, from {candidate.models_dir}"
    return f"the promoted models of {candidate.models_dir}: {candidate.models.version or 'none'}"


def document(impact: Impact) -> dict[str, Any]:
    """The JSON report: the same bytes for the same logs and candidate (no timings, keys sorted by the writer)."""
    candidate = impact.candidate
    return {
        "errors": [],
        "logs": [str(p) for p in impact.logs],
        "candidate": {
            "rules": str(candidate.rules),
            "ruleset_version": candidate.ruleset.version,
            "catalogue": candidate.ruleset.catalogue.digest,
            "models": "recorded" if candidate.models is None else "candidate",
            "models_dir": str(candidate.models_dir),
            "model_version": None if candidate.models is None else candidate.models.version,
        },
        "decisions": impact.decisions,
        "decided": impact.decided,
        "changed": impact.changed,
        "recorded": {
            "ruleset_versions": dict(sorted(impact.recorded_rulesets.items())),
            "model_versions": dict(sorted(impact.recorded_models.items())),
        },
        "exact": _tally_document(impact.exact),
        "catalogue_differs": _tally_document(impact.approximate),
        "not_decided": [{"reason": r, "decisions": n} for r, n in sorted(impact.not_decided.items())],
        "unreadable": {"count": impact.unreadable_count, "first": [dataclasses.asdict(e) for e in impact.unreadable]},
    }


def errors_document(problem: RuleSetInvalid) -> dict[str, Any]:
    return {"errors": [dataclasses.asdict(e) for e in problem.errors], "decisions": 0, "decided": 0, "changed": 0}


def _tally_document(tally: Tally) -> dict[str, Any]:
    return {
        "decided": tally.decided,
        "changed": tally.changed,
        "gained": tally.gained,
        "lost": tally.lost,
        "reordered": tally.reordered,
        "channel_changed": tally.channel_changed,
        "by_rule": [_group_document(g) for g in _ordered(tally.rules)],
        "by_family": [_group_document(g) for g in _ordered(tally.families)],
        "reordered_examples": [
            {**_example_document(c), "was": list(c.was), "now": list(c.now)} for c in tally.reordered_examples
        ],
    }


def _group_document(group: Group) -> dict[str, Any]:
    named = {"rule_id": group.name, "family": group.family} if group.family else {"family": group.name}
    return {
        **named,
        "appeared": group.appeared,
        "disappeared": group.disappeared,
        "channel_changed": group.channel_changed,
        "examples": [
            {
                **_example_document(c),
                "appeared": msgspec.to_builtins(c.appeared),
                "disappeared": msgspec.to_builtins(c.disappeared),
                "channel_changed": [
                    {"was": msgspec.to_builtins(was), "now": msgspec.to_builtins(now)} for was, now in c.channel_changed
                ],
            }
            for c in group.examples
        ],
    }


def _example_document(change: Change) -> dict[str, Any]:
    return {"decision_id": change.decision_id, "customer_id": change.customer_id, "as_of": change.as_of.isoformat()}
