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
from collections.abc import Iterable, Mapping, Sequence
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
    def plan(self) -> _Plan:
        """How rows are filled from facts, worked out once."""
        return _make_plan(self)

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


def feature_rows(
    schema: FeatureSchema, facts: Sequence[Fact], categories: Iterable[Mapping[str, object]] | None = None
) -> FeatureRows:
    """The model input rows for one customer's facts (as `derive_facts` returns them).

    Category rows are the category facts among `facts`, or, when `categories` is given, these
    category fields (as `engine.features.purchases.category_fields` yields them): a decision
    scores the categories a customer bought in though its rules read facts about other subjects.
    """
    plan = schema.plan
    # Every fact of a customer carries the same shared fields: they are read once, for all rows.
    shared = next((f for f in facts if f.get("subject") == "customer"), facts[0] if facts else None)
    if schema.rows == "category":
        rows = (
            list(categories)
            if categories is not None
            else [f for fact in facts if fact.get("subject") == "category" and isinstance(f := fact["category"], dict)]
        )
        sources: list[Mapping[str, object]] = [{"category": fields} for fields in rows]
        keys = [str(fields.get("name")) for fields in rows]
    elif shared is None:
        sources, keys = [], []
    elif schema.rows == "customer":
        sources, keys = [shared], ["customer"]
    else:
        sources, keys = [shared] * len(CHANNELS), list(CHANNELS)
    if not keys:
        return FeatureRows(keys, np.empty((0, len(schema.features)), np.float32))
    width = len(schema.features)
    matrix = plan.template.copy() if plan.template is not None else np.empty((len(keys), width), np.float32)
    matrix[:, plan.shared_columns] = _numbers(shared or {}, plan.shared, schema.missing)
    if plan.own_columns and plan.template is not None:  # channel rows: every row reads the customer's fields
        own = np.array(_numbers(sources[0], plan.own, schema.missing), dtype=np.float32)
        matrix[:, plan.own_columns] = own.reshape(len(keys), -1)
    elif plan.own_columns:
        matrix[:, plan.own_columns] = [_numbers(source, plan.own, schema.missing) for source in sources]
    if plan.one_hots:
        matrix[:, plan.one_hot_columns] = 0.0
        for row, source in enumerate(sources):
            for prefix, key, columns in plan.one_hots:
                column = columns.get(_text(source, prefix, key))  # type: ignore[arg-type]  # a text, or None
                if column is not None:
                    matrix[row, column] = 1.0
    return FeatureRows(keys, matrix)


CHANNELS = tuple(channel.value for channel in Channel)
# (prefix, keys): fields of one fact group, in the order of their columns
_Reads = tuple[tuple[str, tuple[str, ...]], ...]
_Columns = slice | list[int]


@dataclass(frozen=True)
class _Plan:
    """How to fill a schema's columns from facts, worked out once per schema.

    Numbers are read by fact group: those the same for every row of a customer (`shared`),
    and those each row reads (`own`). Channel rows read their own numbers from the customer's
    fields, `{channel}` replaced by each row's channel in turn, and start from `template`, whose
    one-hot columns of the row's channel are set already. Other one-hot groups read a text field
    per row and set the column of its value: `(prefix, key, value -> column)`.
    """

    shared: _Reads
    shared_columns: _Columns
    own: _Reads
    own_columns: _Columns
    one_hots: tuple[tuple[str, str, dict[str, int]], ...]
    one_hot_columns: _Columns
    template: np.ndarray | None


def _make_plan(schema: FeatureSchema) -> _Plan:
    shared: dict[str, list[tuple[int, str]]] = {}
    own: dict[str, list[tuple[int, str]]] = {}
    groups: dict[tuple[str, str], dict[str, int]] = {}
    row_channel: dict[str, int] = {}
    for i, feature in enumerate(schema.features):
        prefix, _, rest = feature.source.partition(".")
        if feature.kind == "one_hot" and feature.source == ROW_CHANNEL and schema.rows == "channel":
            row_channel[feature.value] = i
        elif feature.kind == "one_hot":
            groups.setdefault((prefix, rest), {})[feature.value] = i
        elif CHANNEL_PLACEHOLDER in feature.source or prefix not in SHARED_PREFIXES:
            own.setdefault(prefix, []).append((i, rest))
        else:
            shared.setdefault(prefix, []).append((i, rest))
    template = None
    own_reads = tuple((p, tuple(k for _, k in ks)) for p, ks in own.items())
    if schema.rows == "channel":
        template = np.zeros((len(CHANNELS), len(schema.features)), dtype=np.float32)
        for row, channel in enumerate(CHANNELS):
            if channel in row_channel:
                template[row, row_channel[channel]] = 1.0
        own_reads = tuple(
            (prefix, tuple(key.replace(CHANNEL_PLACEHOLDER, channel) for key in keys))
            for channel in CHANNELS
            for prefix, keys in own_reads
        )
    return _Plan(
        shared=tuple((p, tuple(k for _, k in ks)) for p, ks in shared.items()),
        shared_columns=_columns([i for ks in shared.values() for i, _ in ks]),
        own=own_reads,
        own_columns=_columns([i for ks in own.values() for i, _ in ks]),
        one_hots=tuple((p, k, columns) for (p, k), columns in groups.items()),
        one_hot_columns=_columns(sorted(i for columns in groups.values() for i in columns.values())),
        template=template,
    )


def _columns(indices: list[int]) -> _Columns:
    """The columns as a slice when they follow each other (numpy fills a slice without an index array)."""
    if indices and indices == list(range(indices[0], indices[-1] + 1)):
        return slice(indices[0], indices[-1] + 1)
    return indices


def _numbers(fact: Mapping[str, object], reads: _Reads, missing: float) -> list[object]:
    """The numbers of `reads` in a fact, `missing` for those it lacks; the innermost loop of scoring."""
    values: list[object] = []
    for prefix, keys in reads:
        fields = fact.get(prefix)
        if isinstance(fields, dict):
            values += [missing if (found := fields.get(key)) is None else found for key in keys]
        else:
            values += [missing] * len(keys)
    return values


def _text(fact: Mapping[str, object], prefix: str, key: str) -> object:
    fields = fact.get(prefix)
    return fields.get(key) if isinstance(fields, dict) else None
