"""The shape of a rule file: what a business user may write, and nothing more.

A rule is data: conditions on named facts and an action naming a catalogue offer.
Nothing in it is evaluated as code.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    Tag,
    model_validator,
)

from engine.vocabulary import Channel, Family

Scalar = StrictStr | StrictInt | StrictFloat
Number = StrictInt | StrictFloat
RuleId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,79}$")]

COMPARISONS = ("greater_than", "at_least", "less_than", "at_most", "between")
TEXT_MATCHES = ("contains", "starts_with", "ends_with", "matches")
OPERATORS = ("equals", "not_equals", *COMPARISONS, "in", "not_in", "exists", *TEXT_MATCHES)
# A text pattern is matched by durable-rules' own regex engine, which crashes on long ones.
MAX_TEXT_PATTERN = 64
TextPattern = Annotated[StrictStr, Field(min_length=1, max_length=MAX_TEXT_PATTERN)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Condition(_Strict):
    """`fact` compared with exactly one operator, e.g. `{fact: asset.days_until_service, at_most: 30}`."""

    fact: Annotated[str, Field(min_length=1, max_length=128)]
    equals: Scalar | None = None
    not_equals: Scalar | None = None
    greater_than: Number | None = None
    at_least: Number | None = None
    less_than: Number | None = None
    at_most: Number | None = None
    between: tuple[Number, Number] | None = None
    in_: Annotated[list[Scalar], Field(min_length=1, max_length=64)] | None = Field(default=None, alias="in")
    not_in: Annotated[list[Scalar], Field(min_length=1, max_length=64)] | None = None
    exists: bool | None = None
    contains: TextPattern | None = None
    starts_with: TextPattern | None = None
    ends_with: TextPattern | None = None
    # `*` stands for any run of characters, `?` for one; the whole text must match.
    matches: TextPattern | None = None

    @model_validator(mode="after")
    def _one_operator(self) -> Condition:
        given = self.operators()
        if len(given) != 1:
            found = ", ".join(given) if given else "none"
            raise ValueError(f"a condition takes exactly one operator of {', '.join(OPERATORS)}; found {found}")
        return self

    def operators(self) -> list[str]:
        return [name for name in OPERATORS if getattr(self, "in_" if name == "in" else name) is not None]

    @property
    def operator(self) -> str:
        return self.operators()[0]

    @property
    def operand(self) -> Any:
        return getattr(self, "in_" if self.operator == "in" else self.operator)


class AllOf(_Strict):
    all: Annotated[list[Node], Field(min_length=1, max_length=64)]


class AnyOf(_Strict):
    any: Annotated[list[Node], Field(min_length=1, max_length=64)]


class NotOf(_Strict):
    not_: Node = Field(alias="not")


def _node_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        for key in ("all", "any", "not"):
            if key in value:
                return key
        return "condition"
    if isinstance(value, BaseModel):
        return {AllOf: "all", AnyOf: "any", NotOf: "not"}.get(type(value), "condition")
    return None


Node = Annotated[
    Annotated[Condition, Tag("condition")]
    | Annotated[AllOf, Tag("all")]
    | Annotated[AnyOf, Tag("any")]
    | Annotated[NotOf, Tag("not")],
    Discriminator(
        _node_kind,
        custom_error_type="condition",
        custom_error_message="expected a condition (`fact` and an operator) or `all`, `any`, `not`",
    ),
]


class Then(_Strict):
    """What the rule proposes: a catalogue offer and how much it is worth."""

    offer: Annotated[str, Field(min_length=1)]
    value: Annotated[Number, Field(ge=0, le=1_000_000_000)]
    priority: Annotated[StrictInt, Field(ge=1, le=100)] = 1
    channels: Annotated[list[Channel], Field(min_length=1)]
    valid_for_days: Annotated[StrictInt, Field(ge=1, le=3650)] = 30


class Rule(_Strict):
    id: RuleId
    description: Annotated[str, Field(min_length=1, max_length=500)]
    family: Family
    when: Node
    then: Then


class RuleFile(_Strict):
    rules: list[Rule] = []


AllOf.model_rebuild()
AnyOf.model_rebuild()
NotOf.model_rebuild()
