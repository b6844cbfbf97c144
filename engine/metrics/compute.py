"""Computing the metrics of `engine.metrics.definitions` for a period and a cohort.

Pure functions over plain records (`CustomerRecord`: a customer's events, decisions and
outcomes) do the counting; `read_customers` is the one thin layer that reads a Store.
Time is an input: periods are given, the clock is never read.

Each customer contributes one row of components per period (`tally`); a metric of any
set of customers is a ratio of column sums (`evaluate`), which is also what the
bootstrap of `engine.metrics.uplift` resamples.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from engine.events import Complaint, ContactMade, ContactOutcome, Event, OrderStatus, Purchase, Review
from engine.metrics.definitions import GOOD_RATING, METRICS, WINDOW, Component, Metric
from engine.store.base import Store, StoredDecision, StoredOutcome
from engine.vocabulary import Outcome

#: A cohort: a predicate on customer ids, or the ids themselves.
Cohort = Callable[[str], bool] | Collection[str]

COLUMNS: tuple[Component, ...] = tuple(Component)
_COLUMN = {component: index for index, component in enumerate(COLUMNS)}
ACCEPTANCES = frozenset({Outcome.ACCEPTED, Outcome.CONVERTED})


@dataclass(frozen=True)
class Period:
    """`[start, end)`, in UTC."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a period's start and end need a time zone")
        if not self.start < self.end:
            raise ValueError(f"a period must end after it starts: {self.start.isoformat()} .. {self.end.isoformat()}")

    def __contains__(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    @property
    def label(self) -> str:
        start, end = self.start.astimezone(UTC), self.end.astimezone(UTC)
        if start.day == 1 and _next_month(start) == end and start.time() == datetime.min.time():
            return start.strftime("%Y-%m")
        return f"{start.isoformat()} .. {end.isoformat()}"


def _next_month(moment: datetime) -> datetime:
    first = moment.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return first.replace(year=first.year + 1, month=1) if first.month == 12 else first.replace(month=first.month + 1)


def months(period: Period) -> list[Period]:
    """The period cut at UTC month boundaries: whole calendar months, but for a partial first and last."""
    cuts = [period.start]
    while (following := _next_month(cuts[-1])) < period.end:
        cuts.append(following)
    cuts.append(period.end)
    return [Period(start, end) for start, end in itertools.pairwise(cuts)]


@dataclass(frozen=True)
class DecisionRecord:
    decision: StoredDecision
    outcomes: tuple[StoredOutcome, ...] = ()


@dataclass(frozen=True)
class CustomerRecord:
    """What the metrics read of one customer: their events, and their decisions with their outcomes."""

    customer_id: str
    events: tuple[Event, ...]
    decisions: tuple[DecisionRecord, ...] = ()
    # Whether some of their events were compacted away, so are not here to count.
    compacted: bool = False


@dataclass(frozen=True)
class ActionResult:
    """One action of a stored decision and what came of it, from both outcome routes."""

    customer_id: str
    decision_id: str
    action_id: str
    as_of: datetime
    family: str
    channel: str
    rule_id: str
    outcomes: frozenset[Outcome] = frozenset()
    revenue: float = 0.0

    @property
    def contacted(self) -> bool:
        return bool(self.outcomes)

    @property
    def accepted(self) -> bool:
        return bool(self.outcomes & ACCEPTANCES)

    @property
    def converted(self) -> bool:
        return Outcome.CONVERTED in self.outcomes


def action_results(customer: CustomerRecord) -> list[ActionResult]:
    """Every action of the customer's decisions, with its outcomes recorded or reported as contact_outcome events."""
    reported: dict[tuple[str, str], list[tuple[Outcome, float]]] = {}
    for record in customer.decisions:
        for outcome in record.outcomes:
            reported.setdefault((outcome.decision_id, outcome.action_id), []).append((outcome.outcome, outcome.amount))
    for event in customer.events:
        if isinstance(event.payload, ContactOutcome):
            said = event.payload
            reported.setdefault((said.decision_id, said.action_id), []).append((said.outcome, said.amount))
    results = []
    for record in customer.decisions:
        decision = record.decision
        for action_id, action in sorted(decision.actions.items()):
            outcomes = reported.get((decision.decision_id, action_id), [])
            results.append(
                ActionResult(
                    customer.customer_id,
                    decision.decision_id,
                    action_id,
                    decision.as_of,
                    str(action.get("family", "")),
                    str(action.get("channel", "")),
                    str(action.get("rule_id", "")),
                    frozenset(outcome for outcome, _ in outcomes),
                    max((amount for _, amount in outcomes), default=0.0),
                )
            )
    return results


def _cancelled_orders(events: Iterable[Event], before: datetime) -> set[str]:
    """Order ids whose latest status reported before `before` is cancelled."""
    statuses = sorted(
        (e.occurred_at, e.event_id, e.payload.order_id, e.payload.state)
        for e in events
        if isinstance(e.payload, OrderStatus) and e.occurred_at < before
    )
    latest = {order: state for _, _, order, state in statuses}
    return {order for order, state in latest.items() if state == "cancelled"}


def tally(customer: CustomerRecord, period: Period, actions: Iterable[ActionResult] = ()) -> dict[Component, float]:
    """What one customer contributes to each component in the period (definitions.COMPONENTS says what counts).

    `actions` are the customer's `action_results`; those of decisions outside the period are skipped.
    """
    start, end = period.start, period.end
    events = customer.events
    cancelled = _cancelled_orders(events, end)
    orders = [
        (e.occurred_at, e.payload)
        for e in events
        if isinstance(e.payload, Purchase) and not (e.payload.order_id and e.payload.order_id in cancelled)
    ]
    in_period = [purchase for at, purchase in orders if at in period]
    at_start = any(start - WINDOW <= at < start for at, _ in orders)
    at_end = any(end - WINDOW <= at < end for at, _ in orders)
    ratings = sorted((e.occurred_at, e.event_id, e.payload.rating) for e in events if isinstance(e.payload, Review))
    latest_rating = next((r for at, _, r in reversed(ratings) if end - WINDOW <= at < end), 0)
    reviews = [rating for at, _, rating in ratings if at in period]
    complaints = {
        e.payload.complaint_id
        for e in events
        if isinstance(e.payload, Complaint) and e.payload.state == "opened" and e.occurred_at in period
    }
    in_base = any(
        min(start, end - WINDOW) <= e.occurred_at < end
        for e in events
        if not isinstance(e.payload, ContactMade | ContactOutcome)  # what Forestall did, and answers to it
    )
    period_actions = [a for a in actions if a.as_of in period]
    return {
        Component.CUSTOMERS: float(in_base),
        Component.SATISFIED: float(latest_rating >= GOOD_RATING),
        Component.CUSTOMERS_AT_START: float(at_start),
        Component.CUSTOMERS_AT_END: float(at_end),
        Component.NEW_CUSTOMERS: float(at_end and not at_start),
        Component.RETAINED: float(at_end and at_start),
        Component.ORDERS: float(len(in_period)),
        Component.REVENUE: sum(item.quantity * item.unit_price for p in in_period for item in p.items),
        Component.BUYERS: float(bool(in_period)),
        Component.REVIEWS: float(len(reviews)),
        Component.POSITIVE_REVIEWS: float(sum(rating >= GOOD_RATING for rating in reviews)),
        Component.COMPLAINTS: float(len(complaints)),
        Component.DECISIONS: float(sum(r.decision.as_of in period for r in customer.decisions)),
        Component.ACTIONS: float(len(period_actions)),
        Component.CONTACTED: float(sum(a.contacted for a in period_actions)),
        Component.ACCEPTED: float(sum(a.accepted for a in period_actions)),
        Component.CONVERTED: float(sum(a.converted for a in period_actions)),
        Component.ATTRIBUTED_REVENUE: sum(a.revenue for a in period_actions),
    }


@dataclass(frozen=True)
class MetricValue:
    """A metric's value with the counts it comes from; no value, and the reason, when the denominator is 0."""

    value: float | None
    numerator: float
    denominator: float
    reason: str | None = None


def ratio(numerator: float, denominator: float, undefined: str) -> MetricValue:
    if denominator == 0:
        return MetricValue(None, numerator, denominator, undefined)
    return MetricValue(numerator / denominator, numerator, denominator)


def evaluate(sums: dict[Component, float], metrics: Iterable[Metric] = METRICS) -> dict[str, MetricValue]:
    """Each metric from the components' sums over a set of customers."""
    return {m.name: ratio(sums[m.numerator], sums[m.denominator], m.undefined) for m in metrics}


@dataclass(frozen=True)
class Tallies:
    """One row of components per customer (columns in `COLUMNS` order), for one period."""

    period: Period
    customer_ids: tuple[str, ...]
    rows: np.ndarray  # customers x components, float

    @classmethod
    def of(cls, period: Period, rows: dict[str, dict[Component, float]]) -> Tallies:
        ids = tuple(rows)
        matrix = np.array([[rows[i][c] for c in COLUMNS] for i in ids], dtype=float).reshape(len(ids), len(COLUMNS))
        return cls(period, ids, matrix)

    def column(self, component: Component) -> np.ndarray:
        return self.rows[:, _COLUMN[component]]

    def sums(self, cohort: Cohort | None = None) -> dict[Component, float]:
        return column_sums(self.rows if cohort is None else self.rows[self.mask(cohort)])

    def mask(self, cohort: Cohort) -> np.ndarray:
        member = as_predicate(cohort)
        return np.array([member(i) for i in self.customer_ids], dtype=bool)

    def metrics(self, cohort: Cohort | None = None) -> dict[str, MetricValue]:
        return evaluate(self.sums(cohort))


def column_sums(rows: np.ndarray) -> dict[Component, float]:
    """Each component's sum over rows of `Tallies.rows`."""
    totals = rows.sum(axis=0)
    return {component: float(totals[index]) for index, component in enumerate(COLUMNS)}


def as_predicate(cohort: Cohort) -> Callable[[str], bool]:
    if callable(cohort):
        return cohort
    members = frozenset(cohort)
    return members.__contains__


@dataclass(frozen=True)
class Funnel:
    """A slice of the period's actions: how many were sent, accepted and converted, and the revenue they brought."""

    actions: int = 0
    contacted: int = 0
    accepted: int = 0
    converted: int = 0
    revenue: float = 0.0

    def add(self, action: ActionResult) -> Funnel:
        return Funnel(
            self.actions + 1,
            self.contacted + action.contacted,
            self.accepted + action.accepted,
            self.converted + action.converted,
            self.revenue + action.revenue,
        )

    @property
    def acceptance_rate(self) -> MetricValue:
        return ratio(self.accepted, self.contacted, "no action with an outcome")

    @property
    def conversion_rate(self) -> MetricValue:
        return ratio(self.converted, self.contacted, "no action with an outcome")

    @property
    def revenue_per_action(self) -> MetricValue:
        return ratio(self.revenue, self.actions, "no actions")


#: The dimensions actions are broken down by: a name and how to read it of an action.
DIMENSIONS: dict[str, Callable[[ActionResult], str]] = {
    "family": lambda a: a.family,
    "channel": lambda a: a.channel,
    "rule": lambda a: a.rule_id,
}


def funnels(actions: Iterable[ActionResult], dimension: str) -> dict[str, Funnel]:
    """The actions' funnel per value of a dimension (`DIMENSIONS`), values in sorted order."""
    key = DIMENSIONS[dimension]
    found: dict[str, Funnel] = {}
    for action in actions:
        found[key(action)] = found.get(key(action), Funnel()).add(action)
    return dict(sorted(found.items()))


@dataclass(frozen=True)
class Computation:
    """A period's tallies, and its months' for the metrics over time, with the actions of its decisions."""

    period: Period
    overall: Tallies
    monthly: tuple[Tallies, ...]
    actions: tuple[ActionResult, ...] = ()
    compacted_customers: int = 0
    customers_read: int = 0


def compute(customers: Iterable[CustomerRecord], period: Period, cohort: Cohort | None = None) -> Computation:
    """Tally every customer (of the cohort) for the period and each of its months, in one pass."""
    member = as_predicate(cohort) if cohort is not None else (lambda _: True)
    parts = months(period)
    overall: dict[str, dict[Component, float]] = {}
    monthly: list[dict[str, dict[Component, float]]] = [{} for _ in parts]
    actions: list[ActionResult] = []
    compacted = read = 0
    for customer in customers:
        if not member(customer.customer_id):
            continue
        read += 1
        compacted += customer.compacted
        results = action_results(customer)
        overall[customer.customer_id] = tally(customer, period, results)
        for part, rows in zip(parts, monthly, strict=True):
            rows[customer.customer_id] = tally(customer, part, results)
        actions += (a for a in results if a.as_of in period)
    return Computation(
        period,
        Tallies.of(period, overall),
        tuple(Tallies.of(part, rows) for part, rows in zip(parts, monthly, strict=True)),
        tuple(actions),
        compacted,
        read,
    )


def read_customers(store: Store, cohort: Cohort | None = None) -> Iterator[CustomerRecord]:
    """Each customer of the store (of the cohort) with their events, decisions and outcomes."""
    member = as_predicate(cohort) if cohort is not None else None
    for customer_id in store.customer_ids():
        if member is not None and not member(customer_id):
            continue
        history = store.load_customer(customer_id)
        decisions = []
        for decision_id in store.customer_decision_ids(customer_id):
            decision = store.find_decision(decision_id)
            if decision is not None:
                decisions.append(DecisionRecord(decision, tuple(store.outcomes(decision_id))))
        decisions.sort(key=lambda r: (r.decision.as_of, r.decision.decision_id))
        yield CustomerRecord(customer_id, history.events, tuple(decisions), history.base is not None)
