"""Compile validated rules into durable-rules definitions (plain JSON-able data).

`not` is pushed down to the comparisons (durable-rules has no negation of an
expression), and every rule is anchored on its fact's subject so that no rule can
match everything, including the engine's own state messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.ruleset.schema import AllOf, Condition, Node, NotOf, Rule

Definition = dict[str, Any]

_COMPARISON = {"greater_than": "$gt", "at_least": "$gte", "less_than": "$lt", "at_most": "$lte"}
_NEGATED_COMPARISON = {"greater_than": "$lte", "at_least": "$lt", "less_than": "$gte", "at_most": "$gt"}


@dataclass(frozen=True)
class CompiledRule:
    rule: Rule
    subject: str
    # The fact fields the conditions read, in the order written: the reason of an action.
    fields: tuple[str, ...]
    definition: Definition
    file: str
    line: int


Path = tuple[str | int, ...]


def conditions_with_paths(node: Node, path: Path = ("when",)) -> list[tuple[Condition, Path]]:
    """Each condition under `node` with its path in the rule, in the order written."""
    if isinstance(node, Condition):
        return [(node, path)]
    if isinstance(node, NotOf):
        return conditions_with_paths(node.not_, (*path, "not"))
    key, children = ("all", node.all) if isinstance(node, AllOf) else ("any", node.any)
    return [found for i, child in enumerate(children) for found in conditions_with_paths(child, (*path, key, i))]


def compile_rule(rule: Rule, subject: str, file: str, line: int) -> CompiledRule:
    fields = tuple(dict.fromkeys(c.fact for c, _ in conditions_with_paths(rule.when)))
    pattern = _join("$and", [{"subject": subject}, _expression(rule.when, negate=False)])
    return CompiledRule(rule, subject, fields, {"all": [{"m": pattern}]}, file, line)


def _expression(node: Node, negate: bool) -> Definition:
    if isinstance(node, Condition):
        return _comparison(node, negate)
    if isinstance(node, NotOf):
        return _expression(node.not_, not negate)
    children = node.all if isinstance(node, AllOf) else node.any
    conjunction = isinstance(node, AllOf) != negate  # De Morgan
    return _join("$and" if conjunction else "$or", [_expression(child, negate) for child in children])


def _join(operator: str, parts: list[Definition]) -> Definition:
    flat = [p for part in parts for p in (part[operator] if set(part) == {operator} else [part])]
    return flat[0] if len(flat) == 1 else {operator: flat}


def _comparison(condition: Condition, negate: bool) -> Definition:
    field, operator, operand = condition.fact, condition.operator, condition.operand
    if operator in _COMPARISON:
        return {(_NEGATED_COMPARISON if negate else _COMPARISON)[operator]: {field: operand}}
    if operator in ("equals", "not_equals"):
        equal = (operator == "equals") != negate
        return {field: operand} if equal else {"$neq": {field: operand}}
    if operator == "between":
        low, high = operand
        if negate:
            return _join("$or", [{"$lt": {field: low}}, {"$gt": {field: high}}])
        return _join("$and", [{"$gte": {field: low}}, {"$lte": {field: high}}])
    if operator in ("in", "not_in"):
        member = (operator == "in") != negate
        if member:
            return _join("$or", [{field: value} for value in operand])
        return _join("$and", [{"$neq": {field: value}} for value in operand])
    present = bool(operand) != negate
    return {"$ex" if present else "$nex": {field: 1}}
