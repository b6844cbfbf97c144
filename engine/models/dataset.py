"""Training examples: facts derived at past cutoffs, labelled from what happened after each.

At each cutoff every customer's facts are derived with `derive_facts`, exactly as a
decision at that moment would see them, and turned into model rows by
`feature_rows`; the label comes only from the customer's events after the cutoff.

The split is by time. The validation cutoff is the end of the history less the
longest label window; the training cutoffs come before it, spaced by `step_days`,
so that every training label window ends by the validation cutoff: nothing the
models are judged on is seen while training, and nothing is shuffled across time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from engine.catalogue import Catalogue
from engine.events import ContactOutcome, Event, Purchase
from engine.features.derive import Scope, Touch, derive_facts
from engine.models.features import FeatureSchema, category_schema, channel_schema, customer_schema, feature_rows
from engine.vocabulary import Outcome

RESPONSES = frozenset({Outcome.ACCEPTED, Outcome.CONVERTED})
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

    def add_customer(self, events: Sequence[Event]) -> None:
        self.customers += 1
        self.events += len(events)
        if events:
            first, last = min(e.occurred_at for e in events), max(e.occurred_at for e in events)
            self.first_event = min(first, self.first_event or first)
            self.last_event = max(last, self.last_event or last)
        purchases = _purchases(events, self.catalogue)
        contacts = _contacts(events)
        for index, cutoff in enumerate(self.period.cutoffs):
            self._add_cutoff(events, purchases, contacts, index, cutoff)

    def _add_cutoff(
        self,
        events: Sequence[Event],
        purchases: list[tuple[datetime, frozenset[str]]],
        contacts: list[tuple[datetime, str, datetime | None]],
        index: int,
        cutoff: datetime,
    ) -> None:
        horizon = cutoff + timedelta(days=self.period.horizon_days)
        window = cutoff + timedelta(days=self.period.window_days)
        if not any(e.occurred_at <= cutoff for e in events):
            return
        facts = derive_facts(events, self.catalogue, cutoff, Touch(None), scope=SCOPE)
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
        # A reply counts only within the label window, so no training label reads past the validation cutoff.
        due = [
            (channel, answered is not None and answered <= horizon)
            for moment, channel, answered in contacts
            if cutoff < moment <= horizon
        ]
        if "response" in self.schemas and due:
            rows = feature_rows(self.schemas["response"], facts)
            by_channel = dict(zip(rows.keys, rows.matrix, strict=True))
            for channel, replied in due:
                self._rows["response"].add(by_channel[channel], replied, index)

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


def _contacts(events: Iterable[Event]) -> list[tuple[datetime, str, datetime | None]]:
    """Each contact (one action, or one outcome naming none) that names its channel: when it was
    first reported, on which channel, and when it was first answered (accepted or converted), if ever."""
    grouped: dict[tuple[str, str], list[tuple[Event, ContactOutcome]]] = defaultdict(list)
    for event in sorted(events, key=lambda e: (e.occurred_at, e.event_id)):
        outcome = event.payload
        if isinstance(outcome, ContactOutcome):
            named = outcome.decision_id or outcome.action_id
            grouped[(outcome.decision_id, outcome.action_id) if named else ("", event.event_id)].append(
                (event, outcome)
            )
    contacts = []
    for reports in grouped.values():
        channel = next((o.channel for _, o in reports if o.channel), None)
        answered = next((e.occurred_at for e, o in reports if o.outcome in RESPONSES), None)
        if channel is not None:
            contacts.append((reports[0][0].occurred_at, channel.value, answered))
    return contacts
