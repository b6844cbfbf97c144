"""Rule tests: a customer's history, a moment, and what the rules should propose then.

Tests live next to the rules, in `rules/tests/*.yaml`, and run with
`forestall rules test rules/`. A file:

    as_of: 2026-06-01T09:00:00Z            # when each test decides, unless it says otherwise
    tests:
      - name: a boiler bought 350 days ago is due for its service
        history:
          - days_ago: 350
            purchase: boiler-ecotherm-30
        expect: [boiler-service-due]

      - name: a fresh one-star review gets a call from customer care
        as_of: 2026-03-02T12:00:00Z
        channel: web                       # the touchpoint asking; outbound when left out
        context: {page: account}           # what the caller sends as context
        history:
          - at: 2026-01-10                 # a date or a timestamp, UTC unless it says otherwise
            purchase: {product: ink-305-black, quantity: 2, price: 25}
          - days_ago: 1                    # before the test's as_of
            review: {rating: 1, text: "Awful service"}
        expect: [unhappy-reviewer-call]
        expect_not: [broken-on-arrival]
        expect_offers: [care-call]

Each history entry is one event and when it happened (`days_ago` or `at`):

    purchase: boiler-ecotherm-30              a product, a line item {product, quantity, price, category},
                                              or a list of them bought together
    service_visit: boiler-ecotherm-30         or {product, asset_id, notes}
    usage_reading: {product: heat-pump-aw8, value: 1200, meter: kwh}
    review: {rating: 1, text: "arrived broken", product: ink-305-black}
    complaint: opened                         or {state: resolved, complaint_id: c-2, topic: delivery}
    order_status: delayed                     or {state: shipped, order_id: o-7}
    contact_outcome: dismissed                or {outcome, channel, amount, decision_id, action_id}
    profile: {first_name: Ada, consent_withdrawn: [sms]}

`product` and `price` stand for the event fields `product_id` and `unit_price`;
a purchased item is one at a price of 0 unless it says otherwise; one complaint
and one order are meant unless an entry names another. Each entry becomes the
event model that ingested events are checked with (`engine.events`), so a test
holds only what a calling system could send.

A test of a rule that reads model scores states them, as the models would give them
(`score.<name>`, see rules/README.md): a number for the customer, or per category for
the facts about that category; a `response_<channel>` score also ranks actions on
that channel. Without `scores`, no score is given: the test decides as if no model
served.

        scores:
          churn: 0.85
          response_sms: 0.4
          next_purchase: {coffee: 0.9}

Expectations, at least one per test: `expect`, rules that must each propose an
action; `expect_not`, rules that must not; `expect_offers`, offers that must be
proposed; `expect_empty: true`, no action at all. Rule and offer ids are checked
against the rules folder, so a typo cannot make a test pass.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from engine.errors import RuleError, RuleSetInvalid
from engine.events import Event
from engine.models.serving import StatedScores
from engine.qa.authoring import (
    EVENT_TYPES,
    STRICT,
    EventShorthand,
    Moment,
    check_ids,
    known_keys,
    locator,
    read_located,
    validated,
)
from engine.ruleset.diagnostics import validation_errors
from engine.ruleset.loader import RuleSet
from engine.ruleset.source import Located
from engine.ruleset.source import Path as DataPath
from engine.vocabulary import Channel

TEST_FILE_PATTERNS = ("*.yaml", "*.yml")
# The one customer every test is about, each on a store of its own.
CUSTOMER_ID = "rule-test-customer"
MAX_HISTORY = 999


class HistoryEntry(EventShorthand):
    """One event in the customer's history and when it happened."""

    days_ago: Annotated[float, Field(ge=0, le=36_500)] | None = None
    at: Moment | None = None

    @model_validator(mode="after")
    def _one_event_at_one_time(self) -> HistoryEntry:
        self.require_one_of(EVENT_TYPES, "history_entry")
        if (self.days_ago is None) == (self.at is None):
            raise PydanticCustomError("history_entry", "say when it happened with either `days_ago` or `at`")
        return self

    def event(self, event_id: str, as_of: datetime) -> Event:
        """The event as ingested; raises ValidationError when `days_ago` reaches before 1900."""
        payload = self.payload
        assert payload is not None, "the validator requires one event"
        occurred_at = self.at if self.at is not None else as_of - timedelta(days=self.days_ago or 0)
        return Event(event_id=event_id, customer_id=CUSTOMER_ID, occurred_at=occurred_at, payload=payload)


ScoreName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
CategoryName = Annotated[str, Field(min_length=1, max_length=128)]
Score = Annotated[float, Field(allow_inf_nan=False)]


class RuleTestSpec(BaseModel):
    """One test as written: the customer's history, the moment, and what is expected then."""

    model_config = STRICT

    name: Annotated[str, Field(min_length=1, max_length=200)]
    as_of: Moment | None = None
    channel: Channel | None = None
    context: dict[str, str] = {}
    history: Annotated[list[HistoryEntry], Field(max_length=MAX_HISTORY)] = []
    scores: dict[ScoreName, Score | dict[CategoryName, Score]] = {}
    expect: list[str] = []
    expect_not: list[str] = []
    expect_offers: list[str] = []
    expect_empty: bool = False

    @model_validator(mode="after")
    def _expects_something(self) -> RuleTestSpec:
        if not (self.expect or self.expect_not or self.expect_offers or self.expect_empty):
            raise PydanticCustomError(
                "expectation", "a test expects something: `expect`, `expect_not`, `expect_offers` or `expect_empty`"
            )
        if self.expect_empty and (self.expect or self.expect_offers):
            raise PydanticCustomError("expectation", "`expect_empty: true` contradicts `expect` and `expect_offers`")
        return self


class RuleTestFile(BaseModel):
    model_config = STRICT

    as_of: Moment
    tests: list[RuleTestSpec] = []


KNOWN_KEYS = known_keys(RuleTestFile)


@dataclass(frozen=True)
class RuleTest:
    """A test ready to run: where it is written, its decision time and its events."""

    spec: RuleTestSpec
    file: str
    line: int
    as_of: datetime
    events: tuple[Event, ...]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    @functools.cached_property
    def scores(self) -> StatedScores | None:
        """The scores the test states, as a decision gets them; None when it states none."""
        stated = self.spec.scores
        if not stated:
            return None
        categories: dict[str, dict[str, float]] = {}
        for name, value in stated.items():
            for category, score in value.items() if isinstance(value, dict) else ():
                categories.setdefault(category, {})[name] = score
        customer = {name: value for name, value in stated.items() if not isinstance(value, dict)}
        return StatedScores(customer, categories)


def load_rule_tests(folder: Path, ruleset: RuleSet) -> list[RuleTest]:
    """The tests of every file in `folder`, in file order; raises RuleSetInvalid listing every error,
    including rule and offer ids the rule set does not have."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RuleSetInvalid([RuleError(str(folder), 1, 1, "no-folder", "the tests folder does not exist")])
    files = sorted({p for pattern in TEST_FILE_PATTERNS for p in folder.glob(pattern)})
    if not files:
        raise RuleSetInvalid([RuleError(str(folder), 1, 1, "no-tests", "the tests folder has no *.yaml files")])
    errors: list[RuleError] = []
    tests: list[RuleTest] = []
    first_seen: dict[str, str] = {}
    for path in files:
        for test, at, located in _file_tests(path, errors):
            if test.name in first_seen:
                line, column = located.position((*at, "name"))
                message = f"test `{test.name}` is defined at {first_seen[test.name]} too"
                errors.append(RuleError(test.file, line, column, "duplicate-name", message))
                continue
            first_seen[test.name] = test.where
            _check_ids(test.spec, ruleset, at, located, test.file, errors)
            tests.append(test)
    if errors:
        raise RuleSetInvalid(errors)
    return tests


def _file_tests(path: Path, errors: list[RuleError]) -> Iterator[tuple[RuleTest, DataPath, Located]]:
    """The file's tests that pass the schema, each validated on its own so one bad test hides no other."""
    file = str(path)
    located = read_located(path, errors)
    if located is None:
        return
    data = located.data
    head = {**data, "tests": []} if isinstance(data, dict) else data
    envelope = validated(RuleTestFile, head, located, file, errors, KNOWN_KEYS)
    items = (data.get("tests") or []) if isinstance(data, dict) else []
    if not isinstance(items, list):
        line, column = located.position(("tests",))
        errors.append(RuleError(file, line, column, "wrong-type", "`tests` must be a list of tests"))
        return
    for index, item in enumerate(items):
        at: DataPath = ("tests", index)
        spec = validated(RuleTestSpec, item, located, file, errors, KNOWN_KEYS, at)
        if spec is None or envelope is None:
            continue
        as_of = spec.as_of or envelope.as_of
        events = _events(spec, as_of, located, file, at, errors)
        if events is not None:
            yield RuleTest(spec, file, located.position(at)[0], as_of, events), at, located


def _events(
    spec: RuleTestSpec, as_of: datetime, located: Located, file: str, at: DataPath, errors: list[RuleError]
) -> tuple[Event, ...] | None:
    """The history as ingested events, ids in the order written: it breaks ties between events at one time."""
    events = []
    for index, entry in enumerate(spec.history):
        try:
            events.append(entry.event(f"history-{index + 1:03d}", as_of))
        except ValidationError as exc:
            errors.extend(validation_errors(exc, Event, located, file, KNOWN_KEYS, (*at, "history", index)))
    return tuple(events) if len(events) == len(spec.history) else None


def _check_ids(
    spec: RuleTestSpec, ruleset: RuleSet, at: DataPath, located: Located, file: str, errors: list[RuleError]
) -> None:
    rules = [
        ((*at, key, index), rule_id)
        for key in ("expect", "expect_not")
        for index, rule_id in enumerate(getattr(spec, key))
    ]
    offers = [((*at, "expect_offers", index), offer_id) for index, offer_id in enumerate(spec.expect_offers)]
    check_ids(ruleset, rules, offers, locator(located, file, errors))
