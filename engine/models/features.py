"""The one way a customer's facts become model input rows, for training and serving alike.

A model reads the fact fields the engine already derives (engine/features/fields.py),
never events: `feature_rows(schema, facts)` turns the facts `derive_facts` returns
into a float32 matrix, one row per thing the model scores. Training calls it on
facts derived at past cutoffs; serving fills the rows of every model a decision
needs at once, by the same plan (`RowPlan`), reading the customer's fields once.
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
    def plan(self) -> RowPlan:
        """How rows are filled from facts, worked out once."""
        return RowPlan([self])

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
    scores the categories its facts are about though its rules may read facts about other subjects.
    """
    return schema.plan.rows(facts, categories)[0]


CHANNELS = tuple(channel.value for channel in Channel)
# A value of the customer's that a column reads: ("number", prefix, key, missing),
# ("flag", prefix, key, value) for a one-hot column, or ("constant", 0.0 or 1.0).
_Slot = tuple[object, ...]
ZERO: _Slot = ("constant", 0.0)
ONE: _Slot = ("constant", 1.0)


@dataclass(frozen=True)
class _Reads:
    """Values read from one fact: numbers by (prefix, missing value), then one-hot flags by text field."""

    numbers: tuple[tuple[str, float, tuple[str, ...]], ...] = ()
    flags: tuple[tuple[str, str, tuple[str, ...]], ...] = ()

    @classmethod
    def of(cls, slots: Iterable[_Slot]) -> _Reads:
        numbers: dict[tuple[str, float], list[str]] = {}
        flags: dict[tuple[str, str], list[str]] = {}
        for kind, prefix, key, missing_or_value in (s for s in slots if s[0] != "constant"):
            if kind == "number":
                numbers.setdefault((str(prefix), float(missing_or_value)), []).append(str(key))  # type: ignore[arg-type]
            else:
                flags.setdefault((str(prefix), str(key)), []).append(str(missing_or_value))
        return cls(
            tuple((p, m, tuple(ks)) for (p, m), ks in numbers.items()),
            tuple((p, k, tuple(vs)) for (p, k), vs in flags.items()),
        )

    @property
    def slots(self) -> list[_Slot]:
        """What each value read is, in the order `read` returns them."""
        found: list[_Slot] = [("number", p, k, m) for p, m, ks in self.numbers for k in ks]
        return found + [("flag", p, k, v) for p, k, vs in self.flags for v in vs]

    def read(self, fact: Fact) -> list[object]:
        """The values in a fact: a number, or `missing` where it lacks one; 1.0 or 0.0 per one-hot flag.
        The innermost loop of scoring."""
        values: list[object] = []
        for prefix, missing, keys in self.numbers:
            fields = fact.get(prefix)
            if isinstance(fields, dict):
                values += [missing if (found := fields.get(key)) is None else found for key in keys]
            else:
                values += [missing] * len(keys)
        for prefix, key, texts in self.flags:
            fields = fact.get(prefix)
            text = fields.get(key) if isinstance(fields, dict) else None
            values += [1.0 if text == value else 0.0 for value in texts]
        return values


@dataclass(frozen=True)
class _Layout:
    """One schema's rows: each column's place in the customer's values (rows x columns), and the
    columns each category row reads from its own category's fields."""

    schema: FeatureSchema
    index: np.ndarray
    own: _Reads
    own_columns: slice | list[int]


class RowPlan:
    """How to fill the rows of some schemas from one customer's facts, worked out once.

    The values of the customer's that any of the schemas reads (numbers and one-hot flags of the
    customer's fields, a channel row's `{channel}` numbers once per channel, then 0 and 1) are read
    once into a vector; each schema's rows are that vector laid out by the schema's `index`. Category
    rows take the customer's columns so, and read the rest from each category's own fields.
    """

    def __init__(self, schemas: Sequence[FeatureSchema]) -> None:
        slots = [_slots(schema) for schema in schemas]
        self.customer = _Reads.of(dict.fromkeys(s for rows, _ in slots for row in rows for s in row))
        place = {slot: n for n, slot in enumerate([*self.customer.slots, ZERO, ONE])}
        self.layouts = [
            _Layout(
                schema,
                np.array([[place[slot] for slot in row] for row in rows], dtype=np.intp),
                _Reads.of(own for _, own in own_slots),
                _columns([i for i, _ in own_slots]),
            )
            for schema, (rows, own_slots) in zip(schemas, slots, strict=True)
        ]

    def rows(
        self, facts: Sequence[Fact], categories: Iterable[Mapping[str, object]] | None = None
    ) -> list[FeatureRows]:
        """Each schema's rows for one customer's facts (see `feature_rows`)."""
        # Every fact of a customer carries the same shared fields: they are read once, for all rows.
        customer = next((f for f in facts if f.get("subject") == "customer"), facts[0] if facts else None)
        values = None
        found = []
        for layout in self.layouts:
            rows: list[Mapping[str, object]] = []
            kind = layout.schema.rows
            if kind == "category":
                rows = (
                    list(categories)
                    if categories is not None
                    else [
                        f
                        for fact in facts
                        if fact.get("subject") == "category" and isinstance(f := fact["category"], dict)
                    ]
                )
                keys = [str(fields.get("name")) for fields in rows]
            else:
                keys = [] if customer is None else ["customer"] if kind == "customer" else list(CHANNELS)
            width = len(layout.schema.features)
            if not keys:
                found.append(FeatureRows(keys, np.empty((0, width), np.float32)))
                continue
            if values is None:
                values = np.array([*self.customer.read(customer or {}), 0.0, 1.0], dtype=np.float32)
            if kind != "category":
                found.append(FeatureRows(keys, values[layout.index]))
                continue
            matrix = np.empty((len(keys), width), np.float32)
            matrix[:] = values[layout.index]
            own = [layout.own.read({"category": fields}) for fields in rows]
            matrix[:, layout.own_columns] = np.asarray(own, dtype=np.float32)
            found.append(FeatureRows(keys, matrix))
        return found


def _slots(schema: FeatureSchema) -> tuple[list[list[_Slot]], list[tuple[int, _Slot]]]:
    """What each column of each row reads from the customer (one row, or one per channel), and
    the columns a category row reads from its own category's fields, with what each reads."""
    channels = CHANNELS if schema.rows == "channel" else ("",)
    rows: list[list[_Slot]] = [[] for _ in channels]
    own = []
    for i, feature in enumerate(schema.features):
        prefix, _, key = feature.source.partition(".")
        if schema.rows == "category" and prefix not in SHARED_PREFIXES:
            own.append((i, _slot(feature, prefix, key, schema.missing)))
            for row in rows:
                row.append(ZERO)  # filled from the row's category
            continue
        for row, channel in zip(rows, channels, strict=True):
            if schema.rows == "channel" and feature.source == ROW_CHANNEL:
                row.append(ONE if feature.value == channel else ZERO)
            else:
                row.append(
                    _slot(
                        feature, prefix, key.replace(CHANNEL_PLACEHOLDER, channel) if channel else key, schema.missing
                    )
                )
    return rows, own


def _slot(feature: Feature, prefix: str, key: str, missing: float) -> _Slot:
    return ("number", prefix, key, missing) if feature.kind == "number" else ("flag", prefix, key, feature.value)


def _columns(indices: list[int]) -> slice | list[int]:
    """The columns as a slice when they follow each other (numpy fills a slice faster than listed columns)."""
    if indices and indices == list(range(indices[0], indices[-1] + 1)):
        return slice(indices[0], indices[-1] + 1)
    return indices
