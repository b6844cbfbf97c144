"""Training examples: facts derived as of past moments, labelled from what happened after each.

Facts are derived with `facts_of` from the customer's state folded up to the moment,
exactly as a decision at that moment would see them (the state is folded once per
customer, in time order, and read at each moment), and turned into model rows by
`feature_rows`; the label comes only from the customer's events after the moment.

- Next purchase and churn describe each customer as of each cutoff.
- Response describes the customer at the moment of each contact: when the decision
  the outcome answers was made (if the store still holds it), else when the first
  outcome was reported; the events of that moment and after are not read. A contact
  is a row of the latest cutoff before it, if made within `horizon_days` after it.

The split is by time. The validation cutoff is the end of the history less the
longest label window; the training cutoffs come before it, spaced by `step_days`,
so that every training label window ends by the validation cutoff: nothing the
models are judged on is seen while training, and nothing is shuffled across time.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from engine.catalogue import Catalogue
from engine.events import ContactOutcome, Event, Purchase
from engine.features.customer import RESPONSES
from engine.features.derive import Fact, Scope, Touch, facts_of
from engine.features.state import CustomerState, basis, fold
from engine.features.timeline import timeline
from engine.models.features import FeatureSchema, category_schema, channel_schema, customer_schema, feature_rows

MODEL_NAMES = ("next_purchase", "response", "churn")
# Training rows come from the customer and category facts only: nothing else is derived.
SCOPE = Scope(subjects=("customer", "category"))
SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class TrainingPeriod:
    """The cutoffs: `training_cutoffs` (oldest first), then the validation cutoff, all before `until`."""

    until: datetime
    horizon_days: int = 30
    # The next-purchase days are counted up to this many: "90" means "not within 90 days".
    days_cap: int = 90
    training_cutoffs_count: int = 4
    step_days: int = 30

    @property
    def window_days(self) -> int:
        return max(self.horizon_days, self.days_cap)

    @property
    def validation_cutoff(self) -> datetime:
        return self.until - timedelta(days=self.window_days)

    @property
    def training_cutoffs(self) -> list[datetime]:
        last = self.validation_cutoff - timedelta(days=self.window_days)
        steps = range(self.training_cutoffs_count - 1, -1, -1)
        return [last - timedelta(days=self.step_days * n) for n in steps]

    @property
    def cutoffs(self) -> list[datetime]:
        return [*self.training_cutoffs, self.validation_cutoff]

    def document(self) -> dict[str, object]:
        return {
            "until": self.until.isoformat(),
            "horizon_days": self.horizon_days,
            "days_cap": self.days_cap,
            "training_cutoffs": [c.isoformat() for c in self.training_cutoffs],
            "validation_cutoff": self.validation_cutoff.isoformat(),
        }


def schemas(catalogue: Catalogue) -> dict[str, FeatureSchema]:
    """Each model's input: next purchase names the catalogue's categories one-hot."""
    categories = sorted(
        {p.category for p in catalogue.products} | {c for f in catalogue.follow_ons for c in (f.after, f.then)}
    )
    return {"next_purchase": category_schema(categories), "response": channel_schema(), "churn": customer_schema()}


@dataclass
class Examples:
    """One model's rows: inputs, label (1.0 or 0.0), the cutoff each row is from, and for
    next purchase the days to it (capped)."""

    x: np.ndarray
    y: np.ndarray
    cutoff: np.ndarray
    days: np.ndarray

    @classmethod
    def concatenate(cls, parts: Sequence[Examples], columns: int) -> Examples:
        if not parts:
            empty = np.empty(0, dtype=np.float32)
            return cls(np.empty((0, columns), dtype=np.float32), empty, empty.astype(np.int8), empty)
        return cls(
            np.concatenate([p.x for p in parts]),
            np.concatenate([p.y for p in parts]),
            np.concatenate([p.cutoff for p in parts]),
            np.concatenate([p.days for p in parts]),
        )


@dataclass
class _Rows:
    x: list[np.ndarray] = field(default_factory=list)
    y: list[float] = field(default_factory=list)
    cutoff: list[int] = field(default_factory=list)
    days: list[float] = field(default_factory=list)

    def add(self, row: np.ndarray, label: bool, cutoff: int, days: float = 0.0) -> None:
        self.x.append(row)
        self.y.append(float(label))
        self.cutoff.append(cutoff)
        self.days.append(days)

    def examples(self, columns: int) -> Examples:
        x = np.vstack(self.x) if self.x else np.empty((0, columns), dtype=np.float32)
        return Examples(
            x,
            np.asarray(self.y, dtype=np.float32),
            np.asarray(self.cutoff, dtype=np.int8),
            np.asarray(self.days, dtype=np.float32),
        )


@dataclass(frozen=True)
class Contact:
    """One contact that names its channel: when it was made, and when it was first answered, if ever."""

    made_at: datetime
    channel: str
    answered_at: datetime | None


@dataclass
class ExampleBuilder:
    """Accumulates the examples of every model, customer by customer."""

    catalogue: Catalogue
    period: TrainingPeriod
    schemas: dict[str, FeatureSchema]
    customers: int = 0
    events: int = 0
    first_event: datetime | None = None
    last_event: datetime | None = None
    _rows: dict[str, _Rows] = field(default_factory=lambda: defaultdict(_Rows))

    def add_customer(self, events: Sequence[Event], decided_at: Mapping[str, datetime] | None = None) -> None:
        """Add a customer's rows; `decided_at` gives the time of the decisions their contact outcomes answer."""
        self.customers += 1
        self.events += len(events)
        ordered = timeline(events)
        if not ordered:
            return
        first, last = ordered[0].occurred_at, ordered[-1].occurred_at
        self.first_event = min(first, self.first_event or first)
        self.last_event = max(last, self.last_event or last)
        moments = [e.occurred_at for e in ordered]
        purchases = _purchases(ordered, self.catalogue)
        contacts = _contacts(ordered, decided_at or {}) if "response" in self.schemas else []
        # In time order; at the same moment a contact (the events before it) before a cutoff (the events up to it).
        probes: list[tuple[datetime, bool, int | Contact]] = [
            *((cutoff, True, index) for index, cutoff in enumerate(self.period.cutoffs)),
            *((contact.made_at, False, contact) for contact in contacts),
        ]
        # One state, folded forward from probe to probe: the facts as of each moment, as a decision would read them.
        state = CustomerState(basis(self.catalogue))
        folded = 0
        for moment, including, probe in sorted(probes, key=lambda p: (p[0], p[1])):
            upto = bisect_right(moments, moment) if including else bisect_left(moments, moment)
            fold(ordered[folded:upto], self.catalogue, state)
            folded = max(folded, upto)
            if isinstance(probe, Contact):
                self._add_contact(probe, state)
            elif folded:  # a customer with no event yet has no row at a cutoff
                self._add_cutoff(
                    facts_of(state, self.catalogue, moment, Touch(None), scope=SCOPE), purchases, probe, moment
                )

    def _add_cutoff(
        self, facts: list[Fact], purchases: list[tuple[datetime, frozenset[str]]], index: int, cutoff: datetime
    ) -> None:
        horizon = cutoff + timedelta(days=self.period.horizon_days)
        window = cutoff + timedelta(days=self.period.window_days)
        after = [(moment, categories) for moment, categories in purchases if cutoff < moment <= window]
        if "churn" in self.schemas:
            rows = feature_rows(self.schemas["churn"], facts)
            active = rows.matrix[0, self.schemas["churn"].names.index("customer.purchases_last_365_days")] >= 1
            if active:
                bought = any(moment <= horizon for moment, _ in after)
                self._rows["churn"].add(rows.matrix[0], not bought, index)
        if "next_purchase" in self.schemas:
            rows = feature_rows(self.schemas["next_purchase"], facts)
            for key, row in zip(rows.keys, rows.matrix, strict=True):
                next_one = next((moment for moment, categories in after if key in categories), None)
                days = (
                    self.period.days_cap
                    if next_one is None
                    else min(self.period.days_cap, (next_one - cutoff).total_seconds() / SECONDS_PER_DAY)
                )
                self._rows["next_purchase"].add(row, next_one is not None and next_one <= horizon, index, days)

    def _add_contact(self, contact: Contact, state: CustomerState) -> None:
        """A response row: the customer just before the contact (`state`), on its channel; the label,
        answered within the horizon after it."""
        cutoffs = self.period.cutoffs
        index = bisect_left(cutoffs, contact.made_at) - 1  # the latest cutoff before the contact
        horizon = timedelta(days=self.period.horizon_days)
        if index < 0 or contact.made_at > cutoffs[index] + horizon:
            return
        if index < len(cutoffs) - 1 and contact.made_at + horizon > self.period.validation_cutoff:
            return  # a training label would read past the validation cutoff
        facts = facts_of(state, self.catalogue, contact.made_at, Touch(None), scope=SCOPE)
        rows = feature_rows(self.schemas["response"], facts)
        replied = contact.answered_at is not None and contact.answered_at <= contact.made_at + horizon
        self._rows["response"].add(rows.matrix[rows.keys.index(contact.channel)], replied, index)

    def examples(self) -> dict[str, Examples]:
        return {name: self._rows[name].examples(len(schema.features)) for name, schema in self.schemas.items()}


def _purchases(events: Iterable[Event], catalogue: Catalogue) -> list[tuple[datetime, frozenset[str]]]:
    """Each purchase's time and the categories of its lines, resolved as the features resolve them."""
    found = []
    for event in events:
        if isinstance(event.payload, Purchase):
            categories = set()
            for item in event.payload.items:
                product = catalogue.product(item.product_id)
                category = item.category or (product.category if product else "")
                if category:
                    categories.add(category)
            found.append((event.occurred_at, frozenset(categories)))
    return sorted(found, key=lambda p: p[0])


def _contacts(events: Iterable[Event], decided_at: Mapping[str, datetime]) -> list[Contact]:
    """Each contact (one action, or one outcome naming none) that names its channel, as the features count
    contacts: made when its decision was (if known), else when it was first reported."""
    grouped: dict[tuple[str, str], list[tuple[Event, ContactOutcome]]] = defaultdict(list)
    for event in events:  # in timeline order
        outcome = event.payload
        if isinstance(outcome, ContactOutcome):
            named = outcome.decision_id or outcome.action_id
            grouped[(outcome.decision_id, outcome.action_id) if named else ("", event.event_id)].append(
                (event, outcome)
            )
    contacts = []
    for (decision_id, _), reports in grouped.items():
        channel = next((o.channel for _, o in reports if o.channel), None)
        answered = next((e.occurred_at for e, o in reports if o.outcome in RESPONSES), None)
        first_reported = reports[0][0].occurred_at
        made_at = min(decided_at.get(decision_id, first_reported), first_reported)
        if channel is not None:
            contacts.append(Contact(made_at, channel.value, answered))
    return contacts
