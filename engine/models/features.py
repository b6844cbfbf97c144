"""The one way a customer's facts become model input rows, for training and serving alike.

A model reads the fact fields the engine already derives (engine/features/fields.py),
never events: `feature_rows(schema, facts)` turns the facts `derive_facts` returns
into a float32 matrix, one row per thing the model scores. Training calls it on
facts derived at past cutoffs; serving calls it on the facts of a live decision.
The schema (ordered columns, what each reads, the value of an absent field) is
written into the model card, with a digest the loader checks, so the two cannot
drift apart.

Three row shapes:

- "customer": one row for the customer (churn risk);
- "category": one row per category fact (next purchase in that category);
- "channel": one row per channel of the vocabulary (response on that channel): a
  source may name the row's channel as `{channel}`, and `channel.name` is it.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np

from engine.features.fields import FIELDS, SHARED_PREFIXES
from engine.vocabulary import Channel

RowKind = Literal["customer", "category", "channel"]
FeatureKind = Literal["number", "one_hot"]
Fact = Mapping[str, object]

# Every number a model reads is 0 or more, so an absent one is told apart by this value.
MISSING = -1.0
CHANNEL_PLACEHOLDER = "{channel}"
ROW_CHANNEL = "channel.name"

CUSTOMER_NUMBERS = (
    "customer.purchase_count",
    "customer.total_spent",
    "customer.days_since_last_purchase",
    "customer.purchases_last_365_days",
    "customer.spent_last_365_days",
    "customer.average_purchase_value",
    "customer.review_count",
    "customer.average_rating",
    "customer.days_since_last_review",
    "customer.negative_reviews_last_90_days",
    "customer.open_complaints",
    "customer.complaints_last_90_days",
    "customer.days_since_last_complaint",
    "customer.delayed_orders",
    "customer.contacts_last_30_days",
    "event.days_ago",
)
CATEGORY_NUMBERS = (
    "category.purchase_count",
    "category.quantity",
    "category.total_spent",
    "category.days_since_last_purchase",
    "category.purchases_last_365_days",
    "category.spent_last_365_days",
)
CHANNEL_NUMBERS = ("customer.{channel}_response_rate", "customer.{channel}_consent")


@dataclass(frozen=True)
class Feature:
    """One column: a fact field's number, or 1.0 when a text field equals `value` (one-hot)."""

    name: str
    kind: FeatureKind
    source: str
    value: str = ""


@dataclass(frozen=True)
class FeatureSchema:
    """The ordered columns of a model's input and the rows it scores."""

    rows: RowKind
    features: tuple[Feature, ...]
    missing: float = MISSING

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    def document(self) -> dict[str, object]:
        """The JSON-able form written into the card."""
        return {"rows": self.rows, "missing": self.missing, "features": [asdict(f) for f in self.features]}

    @classmethod
    def from_document(cls, body: Mapping[str, object]) -> FeatureSchema:
        features = body["features"]
        assert isinstance(features, list)
        return cls(
            rows=body["rows"],  # type: ignore[arg-type]  # checked by validate_schema
            features=tuple(Feature(**f) for f in features),
            missing=float(body["missing"]),  # type: ignore[arg-type]  # a number in every card written
        )

    @functools.cached_property
    def digest(self) -> str:
        canonical = json.dumps(self.document(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class FeatureRows:
    """Rows to score: `keys[i]` names what row i is about ("customer", a category, a channel)."""

    keys: list[str]
    matrix: np.ndarray  # float32, len(keys) x len(schema.features)


def numbers(sources: Sequence[str]) -> list[Feature]:
    return [Feature(source, "number", source) for source in sources]


def one_hot(source: str, values: Sequence[str]) -> list[Feature]:
    return [Feature(f"{source}={value}", "one_hot", source, value) for value in sorted(values)]


def customer_schema() -> FeatureSchema:
    return FeatureSchema("customer", tuple(numbers(CUSTOMER_NUMBERS)))


def category_schema(categories: Sequence[str]) -> FeatureSchema:
    """Customer and category numbers, and the category's name as one-hot over the categories trained on."""
    features = [*numbers(CUSTOMER_NUMBERS), *numbers(CATEGORY_NUMBERS), *one_hot("category.name", categories)]
    return FeatureSchema("category", tuple(features))


def channel_schema() -> FeatureSchema:
    features = [*numbers(CUSTOMER_NUMBERS), *numbers(CHANNEL_NUMBERS), *one_hot(ROW_CHANNEL, list(Channel))]
    return FeatureSchema("channel", tuple(features))


def validate_schema(schema: FeatureSchema) -> list[str]:
    """Problems with a schema: a source no fact carries, a text field read as a number, an unknown row kind."""
    problems = []
    if schema.rows not in ("customer", "category", "channel"):
        problems.append(f"unknown row kind {schema.rows!r}")
    for feature in schema.features:
        if feature.source == ROW_CHANNEL and schema.rows == "channel":
            continue
        sources = (
            [feature.source.replace(CHANNEL_PLACEHOLDER, c) for c in Channel]
            if CHANNEL_PLACEHOLDER in feature.source
            else [feature.source]
        )
        for source in sources:
            spec = FIELDS.get(source)
            expected = "number" if feature.kind == "number" else "text"
            if spec is None:
                problems.append(f"{feature.name}: {source} is not a fact field")
            elif spec.type != expected:
                problems.append(f"{feature.name}: {source} is {spec.type}, read as {feature.kind}")
    return problems


def feature_rows(schema: FeatureSchema, facts: Sequence[Fact]) -> FeatureRows:
    """The model input rows for one customer's facts (as `derive_facts` returns them)."""
    customer = next((f for f in facts if f.get("subject") == "customer"), facts[0] if facts else None)
    if schema.rows == "category":
        rows = [(str(_field(f, "category.name")), f, "") for f in facts if f.get("subject") == "category"]
    elif customer is None:
        rows = []
    elif schema.rows == "customer":
        rows = [("customer", customer, "")]
    else:
        rows = [(channel.value, customer, channel.value) for channel in Channel]
    matrix = np.empty((len(rows), len(schema.features)), dtype=np.float32)
    if rows:
        shared, own = _plan(schema)
        # Every fact of a customer carries the same shared fields: read them once for all rows.
        matrix[:, [c.index for c in shared]] = [c.read(rows[0][1], "", schema.missing) for c in shared]
        own_columns = [c.index for c in own]
        for r, (_, fact, channel) in enumerate(rows):
            matrix[r, own_columns] = [c.read(fact, channel, schema.missing) for c in own]
    return FeatureRows([key for key, _, _ in rows], matrix)


@dataclass(frozen=True)
class _Column:
    """How to read one column from a fact, worked out once per schema."""

    index: int
    prefix: str
    key: str
    one_hot: str | None
    templated: bool
    row_channel: bool

    def read(self, fact: Fact, channel: str, missing: float) -> float:
        if self.row_channel:
            found: object = channel
        else:
            fields = fact.get(self.prefix)
            key = self.key.replace(CHANNEL_PLACEHOLDER, channel) if self.templated else self.key
            found = fields.get(key) if isinstance(fields, dict) else None
        if self.one_hot is not None:
            return 1.0 if found == self.one_hot else 0.0
        return missing if found is None else float(found)  # type: ignore[arg-type]  # numbers per fields.py


_plans: dict[str, tuple[list[_Column], list[_Column]]] = {}


def _plan(schema: FeatureSchema) -> tuple[list[_Column], list[_Column]]:
    """The columns the same for every row of a customer, and each row's own, by schema digest."""
    key = schema.digest
    if key not in _plans:
        shared: list[_Column] = []
        own: list[_Column] = []
        for i, feature in enumerate(schema.features):
            prefix, _, rest = feature.source.partition(".")
            column = _Column(
                i,
                prefix,
                rest,
                feature.value if feature.kind == "one_hot" else None,
                CHANNEL_PLACEHOLDER in feature.source,
                feature.source == ROW_CHANNEL and schema.rows == "channel",
            )
            per_row = column.templated or column.row_channel or prefix not in SHARED_PREFIXES
            (own if per_row else shared).append(column)
        _plans[key] = (shared, own)
    return _plans[key]


def _field(fact: Fact, name: str) -> object:
    prefix, _, rest = name.partition(".")
    fields = fact.get(prefix)
    return fields.get(rest) if isinstance(fields, Mapping) else None
