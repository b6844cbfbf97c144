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
    if not rows:
        return FeatureRows([], np.zeros((0, len(schema.features)), dtype=np.float32))
    plan = _plan(schema)
    # Every fact of a customer carries the same shared fields: read them once for all rows.
    shared = [0.0] * len(schema.features)
    _read_numbers(shared, rows[0][1], plan.shared, "", schema.missing)
    values = []
    for _, fact, channel in rows:
        row = shared.copy()
        _read_numbers(row, fact, plan.own, channel, schema.missing)
        for prefix, key, columns in plan.one_hots:
            hot = columns.get(channel if prefix == "" else _value(fact, prefix, key))  # type: ignore[arg-type]
            if hot is not None:
                row[hot] = 1.0
        values.append(row)
    return FeatureRows([key for key, _, _ in rows], np.array(values, dtype=np.float32))


def _read_numbers(row: list[float], fact: Fact, numbers: _Numbers, channel: str, missing: float) -> None:
    """Fill the row's number columns from the fact; the innermost loop of scoring, so kept flat."""
    for prefix, columns in numbers:
        fields = fact.get(prefix)
        get = fields.get if isinstance(fields, dict) else _absent
        for column, key in columns:
            found = get(key.replace(CHANNEL_PLACEHOLDER, channel) if channel else key)
            row[column] = missing if found is None else float(found)


_Numbers = list[tuple[str, list[tuple[int, str]]]]


@dataclass(frozen=True)
class _Plan:
    """How to read a schema's columns from facts, worked out once per schema.

    Numbers are grouped by prefix, `(prefix, [(column, key), ...])`: those the same for
    every row of a customer (`shared`), and those each row reads (`own`; a key may hold
    `{channel}`, the row's channel). A one-hot group reads a text field once per row and sets the
    column of its value: `(prefix, key, value -> column)`, prefix "" for the row's channel.
    """

    shared: _Numbers
    own: _Numbers
    one_hots: list[tuple[str, str, dict[str, int]]]


_plans: dict[str, _Plan] = {}


def _plan(schema: FeatureSchema) -> _Plan:
    key = schema.digest
    if key not in _plans:
        shared: dict[str, list[tuple[int, str]]] = {}
        own: dict[str, list[tuple[int, str]]] = {}
        groups: dict[tuple[str, str], dict[str, int]] = {}
        for i, feature in enumerate(schema.features):
            prefix, _, rest = feature.source.partition(".")
            if feature.kind == "one_hot":
                source = ("", "") if feature.source == ROW_CHANNEL and schema.rows == "channel" else (prefix, rest)
                groups.setdefault(source, {})[feature.value] = i
            elif CHANNEL_PLACEHOLDER in feature.source or prefix not in SHARED_PREFIXES:
                own.setdefault(prefix, []).append((i, rest))
            else:
                shared.setdefault(prefix, []).append((i, rest))
        _plans[key] = _Plan(
            list(shared.items()), list(own.items()), [(p, k, columns) for (p, k), columns in groups.items()]
        )
    return _plans[key]


def _value(fact: Fact, prefix: str, key: str) -> object:
    fields = fact.get(prefix)
    return fields.get(key) if isinstance(fields, dict) else None


def _absent(_: str) -> None:
    return None


def _field(fact: Fact, name: str) -> object:
    prefix, _, rest = name.partition(".")
    fields = fact.get(prefix)
    return fields.get(rest) if isinstance(fields, Mapping) else None
