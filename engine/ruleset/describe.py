"""Rules in plain English, for the business users who write them.

Each part of a rule reads as a short phrase (`asset category is boiler`, `offer
boiler-service-booking, value 120, ...`), so a diff or an explanation can say
what a rule does without showing its YAML.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from engine.ruleset.schema import TEXT_MATCHES, AllOf, AnyOf, Condition, Node, NotOf, Then
from engine.vocabulary import Channel

# Text that is one token (a category, a state, an id) reads as itself; any other text is quoted.
_ONE_TOKEN = re.compile(r"[\w.:/@+-]+")

_PREDICATES = {
    "equals": "is {}",
    "not_equals": "is not {}",
    "greater_than": "is more than {}",
    "at_least": "is at least {}",
    "less_than": "is less than {}",
    "at_most": "is at most {}",
    "in": "is one of {}",
    "not_in": "is not one of {}",
    "contains": "contains {}",
    "starts_with": "starts with {}",
    "ends_with": "ends with {}",
    "matches": "matches {}",
}


def in_words(name: str) -> str:
    """A dotted or snake_case name as words: `asset.days_until_service` -> `asset days until service`."""
    return name.replace(".", " ").replace("_", " ")


def quoted(text: str) -> str:
    return f"“{text}”"


def describe_number(number: float) -> str:
    """A number as a person writes it: `120`, not `120.0`."""
    return str(int(number)) if isinstance(number, float) and number.is_integer() else str(number)


def describe_value(value: object) -> str:
    """A value from a rule or the catalogue: a number as written, one-token text as is, other text quoted."""
    if value is None:
        return "none"
    if isinstance(value, int | float):
        return describe_number(value)
    text = str(value)
    return text if _ONE_TOKEN.fullmatch(text) else quoted(text)


def describe_days(days: int) -> str:
    return f"{days} day{'' if days == 1 else 's'}"


def describe_channels(channels: Sequence[Channel]) -> str:
    """`email, sms or pos`, in the rule's order of preference."""
    names = [in_words(channel.value) for channel in channels]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def describe_condition(condition: Condition) -> str:
    """`asset days until service is between -60 and 30`, `event text contains “broken”`."""
    operator, operand = condition.operator, condition.operand
    if operator == "between":
        low, high = operand
        test = f"is between {describe_number(low)} and {describe_number(high)}"
    elif operator == "exists":
        test = "is present" if operand else "is absent"
    elif operator in TEXT_MATCHES:
        test = _PREDICATES[operator].format(quoted(operand))
    elif operator in ("in", "not_in"):
        test = _PREDICATES[operator].format(", ".join(describe_value(v) for v in operand))
    else:
        test = _PREDICATES[operator].format(describe_value(operand))
    return f"{in_words(condition.fact)} {test}"


def describe_when(node: Node, *, nested: bool = False) -> str:
    """Conditions on one line: `all of: a; b; any of (c; d)`.

    A group inside another is bracketed so its end is plain; `nested` renders
    `node` itself as such a part of a larger condition.
    """
    if isinstance(node, Condition):
        return describe_condition(node)
    label, children = _group(node)
    parts = "; ".join(describe_when(child, nested=True) for child in children)
    return f"{label} ({parts})" if nested else f"{label}: {parts}"


def describe_then(then: Then) -> str:
    """`offer boiler-service-booking, value 120, priority 5, on email, sms or pos, valid 30 days`."""
    return (
        f"offer {then.offer}, value {describe_number(then.value)}, priority {then.priority}, "
        f"on {describe_channels(then.channels)}, valid {describe_days(then.valid_for_days)}"
    )


def _group(node: AllOf | AnyOf | NotOf) -> tuple[str, list[Node]]:
    if isinstance(node, AllOf):
        return "all of", node.all
    if isinstance(node, AnyOf):
        return "any of", node.any
    return "not", [node.not_]
