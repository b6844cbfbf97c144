"""The rule language evaluated in plain Python: what a rule means, written once.

The semantics: a condition on a field the fact does not have is unknown, `not`
of unknown is unknown, `all`/`any` combine as in three-valued (Kleene) logic, and
a rule matches only when its conditions are true. `exists` is never unknown.
Text matches ignore case.

Decisions are matched by durable-rules, not here: this is the oracle the
differential test holds durable-rules to, and what the compiler asks about
conditions it can settle before any customer is seen.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping

from engine.ruleset.schema import AllOf, AnyOf, Condition, Node, NotOf

_MISSING = object()


def holds(node: Node, fact: Mapping[str, object]) -> bool | None:
    if isinstance(node, Condition):
        return _condition(node, fact)
    if isinstance(node, NotOf):
        inner = holds(node.not_, fact)
        return None if inner is None else not inner
    values = [holds(child, fact) for child in (node.all if isinstance(node, AllOf) else node.any)]
    if isinstance(node, AnyOf):
        return True if True in values else (None if None in values else False)
    return False if False in values else (None if None in values else True)


def _value(fact: Mapping[str, object], dotted: str) -> object:
    value: object = fact
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _condition(condition: Condition, fact: Mapping[str, object]) -> bool | None:
    value = _value(fact, condition.fact)
    operator, operand = condition.operator, condition.operand
    if operator == "exists":
        return (value is not _MISSING) == operand
    if value is _MISSING:
        return None
    if operator == "equals":
        return value == operand
    if operator == "not_equals":
        return value != operand
    if operator == "in":
        return value in operand
    if operator == "not_in":
        return value not in operand
    if operator == "between":
        return operand[0] <= value <= operand[1]  # type: ignore[operator]
    if operator in ("greater_than", "at_least", "less_than", "at_most"):
        compare = {
            "greater_than": lambda a, b: a > b,
            "at_least": lambda a, b: a >= b,
            "less_than": lambda a, b: a < b,
            "at_most": lambda a, b: a <= b,
        }[operator]
        return compare(value, operand)
    text, pattern = str(value).lower(), str(operand).lower()
    if operator == "contains":
        return pattern in text
    if operator == "starts_with":
        return text.startswith(pattern)
    if operator == "ends_with":
        return text.endswith(pattern)
    return fnmatch.fnmatchcase(text, pattern.replace("[", "[[]"))
