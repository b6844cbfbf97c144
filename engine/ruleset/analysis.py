"""What can be told about rules before they run: a rule that can never match, and a
rule whose every action another rule already proposes, ranked at least as high.

Both read only the conditions that must all hold (the top-level `all`, flattened);
a condition under `any` or `not` is left out of the reasoning, so the analysis
may miss a case but never reports a false one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from engine.ruleset.compiler import CompiledRule
from engine.ruleset.schema import AllOf, Condition, Node

Value = str | int | float


@dataclass
class FieldConstraint:
    """Everything the must-hold conditions of a rule say about one field."""

    low: float = -math.inf
    low_open: bool = False
    high: float = math.inf
    high_open: bool = False
    allowed: set[Value] | None = None  # from equals / in; None: anything
    excluded: set[Value] = field(default_factory=set)  # from not_equals / not_in
    present: bool | None = None  # from exists, and from any comparison (which needs the field)
    text_patterns: bool = False  # a text match narrows it in a way not followed here
    contradiction: bool = False  # present and absent at once

    def add(self, condition: Condition) -> None:
        operator, operand = condition.operator, condition.operand
        present = bool(operand) if operator == "exists" else True
        if self.present is not None and self.present != present:
            self.contradiction = True
        self.present = present if self.present is None else self.present
        if operator == "exists":
            return
        if operator in ("equals", "in"):
            values = set(operand) if operator == "in" else {operand}
            self.allowed = values if self.allowed is None else self.allowed & values
        elif operator in ("not_equals", "not_in"):
            self.excluded |= set(operand) if operator == "not_in" else {operand}
        elif operator == "between":
            self._bound_low(operand[0], False)
            self._bound_high(operand[1], False)
        elif operator in ("greater_than", "at_least"):
            self._bound_low(operand, operator == "greater_than")
        elif operator in ("less_than", "at_most"):
            self._bound_high(operand, operator == "less_than")
        else:
            self.text_patterns = True

    def _bound_low(self, value: float, open_: bool) -> None:
        if value > self.low or (value == self.low and open_):
            self.low, self.low_open = value, open_

    def _bound_high(self, value: float, open_: bool) -> None:
        if value < self.high or (value == self.high and open_):
            self.high, self.high_open = value, open_

    def _in_bounds(self, value: Value) -> bool:
        if not isinstance(value, int | float):
            return self.low == -math.inf and self.high == math.inf
        above = value > self.low or (value == self.low and not self.low_open)
        below = value < self.high or (value == self.high and not self.high_open)
        return above and below

    def empty(self) -> bool:
        if self.contradiction:
            return True
        if self.low > self.high or (self.low == self.high and (self.low_open or self.high_open)):
            return True
        if self.allowed is not None:
            return not any(self._in_bounds(v) and v not in self.excluded for v in self.allowed)
        return False

    def _feasible(self) -> set[Value] | None:
        """The values this allows when it lists them; None when it is a range."""
        if self.allowed is None:
            return None
        return {v for v in self.allowed if self._in_bounds(v) and v not in self.excluded}

    def within(self, wider: FieldConstraint) -> bool:
        """Whether every value this allows, `wider` allows too (False where it cannot tell)."""
        if wider.text_patterns or (wider.present is not None and wider.present != self.present):
            return False
        listed = self._feasible()
        if listed is not None:
            return all(wider._in_bounds(v) and v not in wider.excluded for v in listed) and (
                wider.allowed is None or listed <= wider.allowed
            )
        if wider.allowed is not None or not wider.excluded <= self.excluded:
            return False
        low_ok = self.low > wider.low or (self.low == wider.low and (self.low_open or not wider.low_open))
        high_ok = self.high < wider.high or (self.high == wider.high and (self.high_open or not wider.high_open))
        return low_ok and high_ok


def constraints(when: Node) -> tuple[dict[str, FieldConstraint], bool]:
    """The per-field constraints of the must-hold conditions, and whether that is all the rule says."""
    summary: dict[str, FieldConstraint] = {}
    complete = True
    for node in _must_hold(when):
        if isinstance(node, Condition):
            summary.setdefault(node.fact, FieldConstraint()).add(node)
        else:
            complete = False
    return summary, complete


def never_matches(rule: CompiledRule) -> str | None:
    """Why the rule can never match, or None."""
    summary, _ = constraints(rule.rule.when)
    for name, constraint in summary.items():
        if constraint.empty():
            return f"its conditions on `{name}` contradict each other: no value satisfies them all"
    return None


def shadowed(rules: Sequence[CompiledRule]) -> Iterable[tuple[CompiledRule, CompiledRule]]:
    """(rule, by): every fact `rule` matches, `by` matches too, for the same offer, ranked at least
    as high; since an offer is proposed once per subject, `rule` never shows."""
    groups: dict[tuple[str, tuple[str, ...]], list[CompiledRule]] = {}
    for rule in rules:
        groups.setdefault((rule.rule.then.offer, rule.subjects), []).append(rule)
    for group in groups.values():
        summaries = {r.rule.id: constraints(r.rule.when) for r in group}
        for rule in group:
            mine, _ = summaries[rule.rule.id]
            for by in group:
                theirs, complete = summaries[by.rule.id]
                if by is rule or not complete or not _ranks_ahead(by, rule):
                    continue
                if all(name in mine and mine[name].within(limit) for name, limit in theirs.items()):
                    yield rule, by
                    break


def _ranks_ahead(by: CompiledRule, rule: CompiledRule) -> bool:
    """Whether `by`'s action wins over `rule`'s for the same offer and subject (see proposals.propose)."""
    score = rule.rule.then.priority * rule.rule.then.value
    their_score = by.rule.then.priority * by.rule.then.value
    return their_score > score or (their_score == score and by.rule.id < rule.rule.id)


def _must_hold(node: Node) -> list[Node]:
    if isinstance(node, AllOf):
        return [part for child in node.all for part in _must_hold(child)]
    return [node]
