"""Replay scenarios: customers' lives as timelines, and what Forestall should decide along them.

One scenario a file, under `scenarios/` (`forestall replay scenarios/`):

    name: a boiler owner is reminded before the yearly service, and not once it is booked
    start: 2026-01-05T09:00:00             # the virtual clock's first moment
    time_zone: Europe/Paris                # optional (UTC): times without a zone and `+Nd` days are counted here
    rules: ../rules                        # optional: the rules folder, relative to this file (default: rules/)
    models: ../models                      # optional: the models folder whose promoted models serve (default: models/)
    policy: {contact: {capacity: {call_centre: 1}}}   # optional: replaces the folder's policy.yaml (in process only)
    customers:
      - id: ada
        profile: {first_name: Ada, time_zone: Europe/Paris}
        timeline:
          - at: -340d                      # an offset from start (w, d, h, m, s), or a date or a time
            purchase: boiler-ecotherm-30
          - at: +12d
            service_visit: boiler-ecotherm-30
          - at: +3d
            arrives: +20d                  # reaches Forestall late: out of order
            review: {rating: 5}
          - at: +2d
            outcome: {checkpoint: reminder, rule: boiler-service-due, outcome: accepted}
        checkpoints:
          - name: reminder                 # optional, unique in the scenario; outcomes name it
            at: +0d
            channel: email                 # the touchpoint asking; outbound when left out
            touchpoint: newsletter         # optional name and context, as a caller sends them
            expect:
              actions:                     # each must come back (rule and/or offer, then what else is given)
                - rule: boiler-service-due
                  offer: boiler-service-booking
                  channel: email
                  send_between: [+0d, +1d]
              absent: [heat-pump-service-due]
          - at: +30d
            expect: {empty: true}

Timeline entries are events, written as in rule tests (`forestall rules test --help`), or
`outcome:` entries, which report an outcome (delivered, opened, accepted, dismissed,
converted, complained, unsubscribed) against the action a rule proposed at an earlier
checkpoint, as a calling system's RecordOutcome would. The profile is an event at the
customer's earliest moment.

The virtual clock walks through the moments in order. At one moment, the events that
arrive then are ingested first, then outcomes are recorded, then checkpoints decide,
as of that moment. Expectations: `actions` (present, each with any of `rule`, `offer`,
`channel`, `family`, `send_between`), `in_order: true` (the listed actions come back
in that order), `absent` (rules that propose nothing), `absent_offers`, `empty: true`.
Rule and offer ids are checked against the rules folder, so a typo cannot make a
scenario pass.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from engine.errors import RuleError, RuleSetInvalid
from engine.events import EARLIEST, LATEST, Event, Identifier
from engine.policy import Policy
from engine.qa.authoring import (
    EVENT_TYPES,
    STRICT,
    EventShorthand,
    ProfileShorthand,
    check_ids,
    known_keys,
    locator,
    moment_of,
    read_located,
    validated,
)
from engine.ruleset.loader import RuleSet
from engine.ruleset.source import Located
from engine.ruleset.source import Path as DataPath
from engine.vocabulary import Channel, Family, Outcome

SCENARIO_FILE_PATTERNS = ("*.yaml", "*.yml")
MAX_ENTRIES = 10_000
MAX_CHECKPOINTS = 1_000
MAX_ACTIONS = 50  # what a Decide call may ask for
_OFFSET = re.compile(r"^([+-])(?=\d)(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
# A date, or a date and time with or without a zone, as an editor checks it (the model parses it).
_ISO_MOMENT = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$"
_OFFSET_HELP = "an offset from `start` (+30d, -2w, +1d6h: w, d, h, m, s), a date or a time"


def _when(value: object) -> object:
    value = moment_of(value)
    if isinstance(value, datetime) or (isinstance(value, str) and _OFFSET.match(value)):
        return value
    raise PydanticCustomError("virtual_time", f"`{value}` is not a time: write {_OFFSET_HELP}")


# A moment of the virtual clock as written: an offset from start, or a time (its zone the scenario's if none).
When = Annotated[
    datetime | str,
    BeforeValidator(_when),
    WithJsonSchema(
        {
            "description": f"When: {_OFFSET_HELP}, e.g. 2026-03-01T09:00:00+01:00.",
            "anyOf": [
                {"type": "string", "pattern": _OFFSET.pattern},
                {"type": "string", "pattern": _ISO_MOMENT},
            ],
        }
    ),
]


class ExpectedActionSpec(BaseModel):
    """An action that must come back: a rule's and/or an offer, with what else is given."""

    model_config = STRICT

    rule: str | None = None
    offer: str | None = None
    channel: Channel | None = None
    family: Family | None = None
    send_between: tuple[When, When] | None = None

    @model_validator(mode="after")
    def _names_a_rule_or_an_offer(self) -> ExpectedActionSpec:
        if self.rule is None and self.offer is None:
            raise PydanticCustomError("expectation", "an expected action names its `rule`, its `offer` or both")
        return self


class ExpectationSpec(BaseModel):
    model_config = STRICT

    actions: list[ExpectedActionSpec] = []
    in_order: bool = False
    absent: list[str] = []
    absent_offers: list[str] = []
    empty: bool = False

    @model_validator(mode="after")
    def _expects_something(self) -> ExpectationSpec:
        if not (self.actions or self.absent or self.absent_offers or self.empty):
            raise PydanticCustomError(
                "expectation", "a checkpoint expects something: `actions`, `absent`, `absent_offers` or `empty`"
            )
        if self.empty and self.actions:
            raise PydanticCustomError("expectation", "`empty: true` contradicts `actions`")
        if self.in_order and len(self.actions) < 2:
            raise PydanticCustomError("expectation", "`in_order: true` needs two `actions` or more")
        return self


class CheckpointSpec(BaseModel):
    """At a moment, Decide at a touchpoint, and what must come back."""

    model_config = STRICT

    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    at: When
    channel: Channel | None = None
    touchpoint: Annotated[str, Field(max_length=128)] = ""
    context: dict[str, str] = {}
    max_actions: Annotated[int, Field(ge=1, le=MAX_ACTIONS)] | None = None
    expect: ExpectationSpec


class OutcomeSpec(BaseModel):
    """An outcome of the action a rule (and offer) proposed at an earlier checkpoint."""

    model_config = STRICT

    checkpoint: Annotated[str, Field(min_length=1)]
    rule: str
    offer: str | None = None
    outcome: Outcome
    amount: Annotated[float, Field(ge=0)] = 0.0


class TimelineEntry(EventShorthand):
    """One event or outcome on the timeline and when it happened (and, for an event, when it arrives)."""

    at: When
    arrives: When | None = None
    outcome: OutcomeSpec | None = None

    @model_validator(mode="after")
    def _one_thing_at_one_time(self) -> TimelineEntry:
        self.require_one_of((*EVENT_TYPES, "outcome"), "timeline_entry")
        if self.outcome is not None and self.arrives is not None:
            raise PydanticCustomError("timeline_entry", "`arrives` is for events; an outcome is recorded `at`")
        return self


class CustomerSpec(BaseModel):
    model_config = STRICT

    id: Identifier
    profile: ProfileShorthand | None = None
    timeline: Annotated[list[TimelineEntry], Field(max_length=MAX_ENTRIES)] = []
    checkpoints: Annotated[list[CheckpointSpec], Field(max_length=MAX_CHECKPOINTS)] = []


class ScenarioFile(BaseModel):
    """A replay scenario: customers, their timelines, and checkpoints with expectations."""

    model_config = STRICT

    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    description: str = ""
    rules: str | None = None
    models: str | None = None
    policy: Policy | None = None
    start: Annotated[
        datetime,
        BeforeValidator(moment_of),
        WithJsonSchema({"type": "string", "pattern": _ISO_MOMENT, "description": "A date or a time."}),
    ]
    time_zone: str = "UTC"
    customers: Annotated[list[CustomerSpec], Field(min_length=1, max_length=100)]

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise PydanticCustomError("time_zone", f"`{name}` is not a known time zone, e.g. Europe/Paris") from exc
        return name


KNOWN_KEYS = known_keys(ScenarioFile)


# ---- a scenario ready to run ---------------------------------------------------------------------


@dataclass(frozen=True)
class ExpectedAction:
    rule: str | None
    offer: str | None
    channel: Channel | None
    family: Family | None
    window: tuple[datetime, datetime] | None

    def describe(self) -> str:
        """`boiler-service-due -> boiler-service-booking via email`, with what is given."""
        text = " -> ".join(part for part in (self.rule, self.offer) if part)
        if self.family:
            text += f" ({self.family.value})"
        if self.channel:
            text += f" via {self.channel.value}"
        if self.window:
            text += f", sent between {self.window[0].isoformat()} and {self.window[1].isoformat()}"
        return text


@dataclass(frozen=True)
class Expectation:
    actions: tuple[ExpectedAction, ...]
    in_order: bool
    absent: tuple[str, ...]
    absent_offers: tuple[str, ...]
    empty: bool


@dataclass(frozen=True)
class Ingest:
    at: datetime  # when it arrives
    customer: str
    line: int
    event: Event


@dataclass(frozen=True)
class Report:
    at: datetime
    customer: str
    line: int
    checkpoint: str
    rule: str
    offer: str | None
    outcome: Outcome
    amount: float


@dataclass(frozen=True)
class Check:
    at: datetime
    customer: str
    line: int
    name: str
    channel: Channel | None
    touchpoint: str
    context: dict[str, str]
    max_actions: int | None
    expect: Expectation


Step = Ingest | Report | Check
# At one moment: events arrive, then outcomes are recorded, then checkpoints decide.
_PHASE = {Ingest: 0, Report: 1, Check: 2}


@dataclass(frozen=True)
class Scenario:
    name: str
    file: str
    rules: Path
    models: Path  # its promoted models serve in process; a server serves its own
    policy: Policy | None  # replaces the rules folder's, in process; None: the folder's
    start: datetime
    customers: tuple[str, ...]
    steps: tuple[Step, ...]  # in the order the virtual clock reaches them

    @property
    def checks(self) -> tuple[Check, ...]:
        return tuple(step for step in self.steps if isinstance(step, Check))


RuleSets = Callable[[Path], RuleSet]


def scenario_files(paths: Iterable[Path]) -> list[Path]:
    """The scenario files named, and those in the folders named and their sub-folders, sorted."""
    found: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found.update(
                p for pattern in SCENARIO_FILE_PATTERNS for p in path.rglob(pattern) if "schema" not in p.parts
            )
        else:
            found.add(path)
    return sorted(found)


def load_scenarios(
    paths: Iterable[Path],
    rulesets: RuleSets,
    default_rules: Path,
    rules: Path | None = None,
    default_models: Path = Path("models"),
) -> list[Scenario]:
    """The scenarios of the files and folders named; raises RuleSetInvalid listing every error.

    `rules` replaces every scenario's rules folder; `default_rules` and `default_models` are for
    those that name none.
    """
    paths = list(paths)
    files = scenario_files(paths)
    if not files:
        where = ", ".join(str(p) for p in paths) or "."
        raise RuleSetInvalid([RuleError(where, 1, 1, "no-scenarios", "no scenario files (*.yaml) found")])
    errors: list[RuleError] = []
    scenarios: list[Scenario] = []
    first_seen: dict[str, str] = {}
    for path in files:
        scenario = _load_file(path, rulesets, (default_rules, default_models), rules, errors)
        if scenario is None:
            continue
        if scenario.name in first_seen:
            message = f"scenario `{scenario.name}` is defined in {first_seen[scenario.name]} too"
            errors.append(RuleError(scenario.file, 1, 1, "duplicate-name", message))
            continue
        first_seen[scenario.name] = scenario.file
        scenarios.append(scenario)
    if errors:
        raise RuleSetInvalid(errors)
    return scenarios


def _load_file(
    path: Path, rulesets: RuleSets, defaults: tuple[Path, Path], override: Path | None, errors: list[RuleError]
) -> Scenario | None:
    file = str(path)
    located = read_located(path, errors)
    if located is None:
        return None
    spec = validated(ScenarioFile, located.data, located, file, errors, KNOWN_KEYS)
    if spec is None:
        return None
    error = locator(located, file, errors)
    default_rules, default_models = defaults
    folder = override or (path.parent / spec.rules if spec.rules else default_rules)
    models = path.parent / spec.models if spec.models else default_models
    if not models.is_dir():
        error(("models",), "no-folder", f"the models folder {models} does not exist")
        return None
    try:
        ruleset = rulesets(folder)
    except RuleSetInvalid as problem:
        errors.extend(problem.errors)
        return None
    before = len(errors)
    builder = _Builder(spec, located, error)
    steps = list(builder.steps())
    _check_scenario_ids(spec, ruleset, error)
    if len(errors) > before:
        return None
    steps.sort(key=lambda step: (step.at, _PHASE[type(step)]))  # stable: customer and written order stay
    customers = tuple(c.id for c in spec.customers)
    return Scenario(spec.name or path.stem, file, folder, models, spec.policy, builder.start, customers, tuple(steps))


class _Builder:
    """Turns a scenario as written into the steps of its virtual clock, adding an error for each mistake."""

    def __init__(self, spec: ScenarioFile, located: Located, error: Callable[[DataPath, str, str], None]) -> None:
        self.spec = spec
        self.located = located
        self.error = error
        self.zone = ZoneInfo(spec.time_zone)
        self.start = self._absolute(spec.start)

    def _absolute(self, moment: datetime) -> datetime:
        return (moment if moment.tzinfo else moment.replace(tzinfo=self.zone)).astimezone(ZoneInfo("UTC"))

    def resolve(self, when: datetime | str, path: DataPath) -> datetime:
        """A moment as written, in UTC: offsets count calendar days in the scenario's zone,
        so `+1d` across a daylight-saving change is the same wall-clock time the next day."""
        if isinstance(when, datetime):
            moment = self._absolute(when)
        else:
            match = _OFFSET.match(when)
            assert match is not None, "the model checked the form"
            sign = -1 if match.group(1) == "-" else 1
            weeks, days, hours, minutes, seconds = (int(part or 0) for part in match.groups()[1:])
            local = self.start.astimezone(self.zone).replace(tzinfo=None) + sign * timedelta(weeks=weeks, days=days)
            clock = sign * timedelta(hours=hours, minutes=minutes, seconds=seconds)
            moment = (local.replace(tzinfo=self.zone).astimezone(ZoneInfo("UTC"))) + clock
        if not EARLIEST <= moment < LATEST:
            self.error(path, "invalid-value", f"{moment.isoformat()} is outside {EARLIEST.year}-{LATEST.year}")
        return moment

    def steps(self) -> Iterator[Step]:
        checkpoints: dict[str, tuple[str, datetime]] = {}
        for c_index, customer in enumerate(self.spec.customers):
            at_customer: DataPath = ("customers", c_index)
            yield from self._checks(customer, at_customer, checkpoints)
        customer_ids: set[str] = set()
        for c_index, customer in enumerate(self.spec.customers):
            at_customer = ("customers", c_index)
            if customer.id in customer_ids:
                self.error((*at_customer, "id"), "duplicate-name", f"customer `{customer.id}` is listed twice")
            customer_ids.add(customer.id)
            yield from self._timeline(customer, at_customer, checkpoints)

    def _checks(
        self, customer: CustomerSpec, at: DataPath, checkpoints: dict[str, tuple[str, datetime]]
    ) -> Iterator[Check]:
        for index, spec in enumerate(customer.checkpoints):
            path: DataPath = (*at, "checkpoints", index)
            moment = self.resolve(spec.at, (*path, "at"))
            name = spec.name or f"{customer.id} at {spec.at if isinstance(spec.at, str) else moment.isoformat()}"
            if name in checkpoints:
                self.error((*path, "name"), "duplicate-name", f"checkpoint `{name}` is named twice in the scenario")
            checkpoints[name] = (customer.id, moment)
            expect = spec.expect
            actions = tuple(
                ExpectedAction(
                    a.rule,
                    a.offer,
                    a.channel,
                    a.family,
                    self._window(a.send_between, (*path, "expect", "actions", i, "send_between")),
                )
                for i, a in enumerate(expect.actions)
            )
            yield Check(
                moment,
                customer.id,
                self._line(path),
                name,
                spec.channel,
                spec.touchpoint,
                dict(spec.context),
                spec.max_actions,
                Expectation(actions, expect.in_order, tuple(expect.absent), tuple(expect.absent_offers), expect.empty),
            )

    def _window(
        self, between: tuple[datetime | str, datetime | str] | None, path: DataPath
    ) -> tuple[datetime, datetime] | None:
        if between is None:
            return None
        first, last = (self.resolve(when, (*path, i)) for i, when in enumerate(between))
        if last < first:
            self.error(path, "invalid-value", "`send_between` ends before it starts")
        return first, last

    def _timeline(
        self, customer: CustomerSpec, at: DataPath, checkpoints: dict[str, tuple[str, datetime]]
    ) -> Iterator[Step]:
        entries = [
            (index, self.resolve(entry.at, (*at, "timeline", index, "at")))
            for index, entry in enumerate(customer.timeline)
        ]
        if customer.profile is not None:
            earliest = min([self.start, *(moment for _, moment in entries)])
            # e00000: at the same moment as the first entry, the profile still comes first.
            yield from self._ingest(customer.id, (*at, "profile"), "e00000", earliest, earliest, customer.profile)
        for index, occurred_at in entries:
            entry = customer.timeline[index]
            path: DataPath = (*at, "timeline", index)
            if entry.outcome is not None:
                yield from self._report(customer.id, entry.outcome, occurred_at, path, checkpoints)
                continue
            arrives = occurred_at if entry.arrives is None else self.resolve(entry.arrives, (*path, "arrives"))
            if arrives < occurred_at:
                self.error((*path, "arrives"), "invalid-value", "an event cannot arrive before it happened")
            payload = entry.payload
            assert payload is not None, "the model requires one event or an outcome"
            # Ids in the order written: they break ties between events at one time.
            yield from self._ingest(customer.id, path, f"e{index + 1:05d}", occurred_at, arrives, payload)

    def _ingest(
        self, customer: str, path: DataPath, event_id: str, occurred_at: datetime, arrives: datetime, payload: Any
    ) -> Iterator[Ingest]:
        try:
            event = Event(event_id=event_id, customer_id=customer, occurred_at=occurred_at, payload=payload)
        except ValidationError:  # only a time out of range gets here, and `resolve` has said so
            return
        yield Ingest(arrives, customer, self._line(path), event)

    def _report(
        self,
        customer: str,
        spec: OutcomeSpec,
        moment: datetime,
        path: DataPath,
        checkpoints: dict[str, tuple[str, datetime]],
    ) -> Iterator[Report]:
        found = checkpoints.get(spec.checkpoint)
        if found is None:
            self.error(
                (*path, "outcome", "checkpoint"), "unknown-checkpoint", f"no checkpoint is named `{spec.checkpoint}`"
            )
            return
        owner, decided_at = found
        if owner != customer:
            message = f"checkpoint `{spec.checkpoint}` is about customer `{owner}`, not `{customer}`"
            self.error((*path, "outcome", "checkpoint"), "unknown-checkpoint", message)
            return
        if decided_at >= moment:
            message = f"the outcome at {moment.isoformat()} comes before checkpoint `{spec.checkpoint}` decides"
            self.error((*path, "at"), "invalid-value", message)
            return
        yield Report(
            moment, customer, self._line(path), spec.checkpoint, spec.rule, spec.offer, spec.outcome, spec.amount
        )

    def _line(self, path: DataPath) -> int:
        return self.located.position(path)[0]


def _check_scenario_ids(spec: ScenarioFile, ruleset: RuleSet, error: Callable[[DataPath, str, str], None]) -> None:
    rules: list[tuple[DataPath, str]] = []
    offers: list[tuple[DataPath, str]] = []
    for c_index, customer in enumerate(spec.customers):
        for index, checkpoint in enumerate(customer.checkpoints):
            at: DataPath = ("customers", c_index, "checkpoints", index, "expect")
            expect = checkpoint.expect
            for i, action in enumerate(expect.actions):
                rules += [((*at, "actions", i, "rule"), action.rule)] if action.rule else []
                offers += [((*at, "actions", i, "offer"), action.offer)] if action.offer else []
            rules += [((*at, "absent", i), rule_id) for i, rule_id in enumerate(expect.absent)]
            offers += [((*at, "absent_offers", i), offer_id) for i, offer_id in enumerate(expect.absent_offers)]
        for index, entry in enumerate(customer.timeline):
            if entry.outcome is not None:
                at = ("customers", c_index, "timeline", index, "outcome")
                rules.append(((*at, "rule"), entry.outcome.rule))
                offers += [((*at, "offer"), entry.outcome.offer)] if entry.outcome.offer else []
    if spec.policy is not None:  # what it names must exist, as in policy.yaml
        levers, at = spec.policy.priority.levers, ("policy", "priority", "levers")
        rules += [((*at, "rules", rule_id), rule_id) for rule_id in levers.rules]
        offers += [((*at, "offers", offer_id), offer_id) for offer_id in levers.offers]
        windows = spec.policy.eligibility.offers
        offers += [(("policy", "eligibility", "offers", i, "offer"), w.offer) for i, w in enumerate(windows)]
    check_ids(ruleset, rules, offers, error)
