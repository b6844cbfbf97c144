"""durable-rules' limits, checked before anything reaches its C core.

Past these the C core fails with a bare error code, hangs holding the GIL or
crashes (see shared/DURABLE_RULES.md); here each one is a located error on the
rule that crosses it. The limits are set a margin below the measured ones.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from engine.errors import RuleError
from engine.ruleset.compiler import CompiledRule

MAX_RULES = 4_000  # 4,097 rules: error 106
MAX_JOIN_RULES = 250  # ~300 two-pattern rules: error 108
MAX_ABSENCE_RULES = 100  # ~128 rules testing that a field is absent: error 107
MAX_CONDITIONS_PER_FIELD = 400  # 513 distinct conditions under one alpha node: registration hangs
# A fact carries the fields rules read (matcher.py sends no others); 254 attributes: error 302.
MAX_FIELDS_READ = 200
SMALLEST_NUMBER = 1e-4  # smaller numbers serialise with a bare exponent: error 204
LARGEST_NUMBER = 1e15


def fnv1a_32(name: str) -> int:
    """durable-rules' attribute hash: FNV-1a over the UTF-8 bytes as C `char` (signed)."""
    value = 0x811C9DC5
    for byte in name.encode():
        value ^= byte if byte < 0x80 else (byte - 0x100) & 0xFFFFFFFF
        value = (value * 16777619) & 0xFFFFFFFF
    return value


def number_problem(value: float) -> str | None:
    """Why durable-rules cannot take this number in a rule, or None."""
    if value != 0 and not SMALLEST_NUMBER <= abs(value) < LARGEST_NUMBER:
        return f"{value} is outside what rules can compare: 0, or between {SMALLEST_NUMBER} and {LARGEST_NUMBER:.0e}"
    return None


class AttributeNames:
    """Attribute names seen so far; two names with the same 32-bit FNV-1a hash are confused by the C core."""

    def __init__(self, names: Sequence[str] = ()) -> None:
        self._by_hash: dict[int, str] = {}
        for name in names:
            self.collision(name)

    def collision(self, name: str) -> str | None:
        """The earlier name `name` collides with, or None (and `name` is remembered)."""
        earlier = self._by_hash.setdefault(fnv1a_32(name), name)
        return earlier if earlier != name else None


def rule_set_limits(rules: Sequence[CompiledRule]) -> list[RuleError]:
    """The first rule past each rule-set-wide limit, as a located error."""
    errors: list[RuleError] = []

    def past(limit: int, counted: Sequence[CompiledRule], code: str, what: str) -> None:
        if len(counted) > limit:
            rule = counted[limit]
            message = f"rule `{rule.rule.id}` is number {limit + 1} of {len(counted)} {what}; the limit is {limit}"
            errors.append(RuleError(rule.file, rule.line, 1, code, message))

    past(MAX_RULES, rules, "too-many-rules", "rules")
    past(MAX_JOIN_RULES, [r for r in rules if len(r.subjects) > 1], "too-many-joins", "rules joining two facts")
    past(
        MAX_ABSENCE_RULES,
        [r for r in rules if _tests_absence(r.definition)],
        "too-many-absence-tests",
        "rules testing that a fact is absent",
    )
    errors.extend(_conditions_per_field(rules))
    errors.extend(_fields_read(rules))
    return errors


def _fields_read(rules: Sequence[CompiledRule]) -> list[RuleError]:
    read: set[str] = set()
    for rule in rules:
        read.update(rule.fields)
        if len(read) > MAX_FIELDS_READ:
            message = (
                f"with rule `{rule.rule.id}` the rules read {len(read)} different facts; "
                f"durable-rules takes at most {MAX_FIELDS_READ} in one fact"
            )
            return [RuleError(rule.file, rule.line, 1, "too-many-facts-read", message)]
    return []


def _tests_absence(definition: Any) -> bool:
    return '"$nex"' in json.dumps(definition)


def _conditions_per_field(rules: Sequence[CompiledRule]) -> list[RuleError]:
    distinct: dict[str, set[str]] = {}
    for rule in rules:
        for condition in _leaf_conditions(rule.definition):
            field = _field_of(condition)
            seen = distinct.setdefault(field, set())
            seen.add(json.dumps(condition, sort_keys=True))
            if len(seen) == MAX_CONDITIONS_PER_FIELD + 1:
                message = (
                    f"rule `{rule.rule.id}` makes {len(seen)} different conditions on `{field}`; "
                    f"durable-rules takes at most {MAX_CONDITIONS_PER_FIELD} (use fewer thresholds, or a range)"
                )
                return [RuleError(rule.file, rule.line, 1, "too-many-conditions", message)]
    return []


def _leaf_conditions(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, list):
        return [leaf for item in node for leaf in _leaf_conditions(item)]
    if not isinstance(node, dict):
        return []
    if set(node) & {"$and", "$or", "all"}:
        return [leaf for value in node.values() for leaf in _leaf_conditions(value)]
    key = next(iter(node), "")
    if len(node) == 1 and not key.startswith("$") and isinstance(node[key], dict):
        return _leaf_conditions(node[key])  # a named pattern
    return [node]


def _field_of(condition: dict[str, Any]) -> str:
    key, value = next(iter(condition.items()))
    return next(iter(value)) if key.startswith("$") and isinstance(value, dict) else key
