"""Compile validated rules into durable-rules definitions (plain JSON-able data).

A rule reads one subject (an asset, a consumable...) or joins two: its top-level
`all` is split by subject into one pattern each, named after the subject, and the
fields every fact shares go with the first. `not` is pushed down to the
comparisons (durable-rules cannot negate an expression), and every pattern is
anchored on its subject so that no rule can match everything, including the
engine's own state messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.catalogue import Catalogue
from engine.events import EARLIEST
from engine.features.derive import Fact, Scope, Touch, derive_facts
from engine.features.fields import CATEGORY_FIELDS, subject_of
from engine.ruleset.evaluate import holds
from engine.ruleset.schema import TEXT_MATCHES, AllOf, Condition, Node, NotOf, Rule

Definition = dict[str, Any]
Path = tuple[str | int, ...]

MAX_SUBJECTS = 2
_COMPARISON = {"greater_than": "$gt", "at_least": "$gte", "less_than": "$lt", "at_most": "$lte"}
_NEGATED_COMPARISON = {"greater_than": "$lte", "at_least": "$lt", "less_than": "$gte", "at_most": "$gt"}
# durable-rules' regex engine: `%` escapes its special characters.
_REGEX_SPECIALS = set(".|?*+()[]{}%")


class RuleShapeError(Exception):
    """A rule the schema accepts but the engine cannot evaluate as written."""

    def __init__(self, path: Path, code: str, message: str) -> None:
        super().__init__(message)
        self.path, self.code, self.message = path, code, message


@dataclass(frozen=True)
class CompiledRule:
    rule: Rule
    # The subjects of the facts the rule reads, primary first: actions are about the primary one.
    subjects: tuple[str, ...]
    # The fact fields the conditions read, in the order written: the reason of an action.
    fields: tuple[str, ...]
    # Categories named by the rule's category conditions: their facts are derived even if never bought.
    categories: tuple[str, ...]
    # Per subject, the only product categories the rule can match there, when its conditions
    # pin them (`asset.category equals boiler`); a subject left out can match any.
    pinned: dict[str, frozenset[str]]
    definition: Definition
    file: str
    line: int

    @property
    def subject(self) -> str:
        return self.subjects[0]


def conditions_with_paths(node: Node, path: Path = ("when",)) -> list[tuple[Condition, Path]]:
    """Each condition under `node` with its path in the rule, in the order written."""
    if isinstance(node, Condition):
        return [(node, path)]
    if isinstance(node, NotOf):
        return conditions_with_paths(node.not_, (*path, "not"))
    key, children = ("all", node.all) if isinstance(node, AllOf) else ("any", node.any)
    return [found for i, child in enumerate(children) for found in conditions_with_paths(child, (*path, key, i))]


def compile_rule(rule: Rule, file: str, line: int) -> CompiledRule:
    """Raises RuleShapeError for a rule that mixes subjects where they cannot be joined."""
    groups = _groups_by_subject(rule.when)
    subjects = tuple(groups)
    patterns = [
        {subject: _join("$and", [{"subject": subject}, *(_expression(n, negate=False) for n, _ in nodes)])}
        for subject, nodes in groups.items()
    ]
    conditions = conditions_with_paths(rule.when)
    _check_text_matches(conditions)
    fields = tuple(dict.fromkeys(c.fact for c, _ in conditions))
    return CompiledRule(
        rule,
        subjects,
        fields,
        _unbought_categories(groups, conditions),
        _pinned_categories(groups),
        {"all": patterns},
        file,
        line,
    )


def _pinned_categories(groups: dict[str, list[tuple[Node, Path]]]) -> dict[str, frozenset[str]]:
    """For each subject, the categories its must-hold conditions allow, where they name them."""
    pinned: dict[str, frozenset[str]] = {}
    for subject, nodes in groups.items():
        field = CATEGORY_FIELDS.get(subject)
        for node, _ in nodes:
            if isinstance(node, Condition) and node.fact == field and node.operator in ("equals", "in"):
                values = frozenset(node.operand if node.operator == "in" else [node.operand])
                pinned[subject] = pinned[subject] & values if subject in pinned else values
    return pinned


def _unbought_categories(
    groups: dict[str, list[tuple[Node, Path]]], conditions: list[tuple[Condition, Path]]
) -> tuple[str, ...]:
    """The categories the rule names that it can match for a customer who never bought in them
    ("has not bought ink"): their facts must be derived for everyone. A rule that needs a
    purchase in the category (most do) adds nothing, so the cost of a decision does not
    grow with the number of categories rules name."""
    named = dict.fromkeys(
        value
        for c, path in conditions
        if c.fact == "category.name" and "not" not in path and c.operator in ("equals", "in")
        for value in (c.operand if isinstance(c.operand, list) else [c.operand])
    )
    own = [node for node, _ in groups.get("category", []) if _reads_only(node, "category")]
    return tuple(name for name in named if all(holds(node, _unbought(name)) is True for node in own))


def _unbought(category: str) -> Fact:
    """The category fact of a customer who never bought in it, as the features derive it."""
    [fact] = derive_facts([], Catalogue(), EARLIEST, Touch(None), scope=Scope(["category"], [category]))
    return fact


def _reads_only(node: Node, prefix: str) -> bool:
    return all(c.fact.startswith(prefix + ".") for c, _ in conditions_with_paths(node))


def _subjects(node: Node) -> set[str]:
    return {s for c, _ in conditions_with_paths(node) if (s := subject_of(c.fact))}


def _groups_by_subject(when: Node) -> dict[str, list[tuple[Node, Path]]]:
    """The rule's conjuncts, grouped by the subject they read; shared-field conjuncts go to the first."""
    conjuncts = list(_conjuncts(when, ("when",)))
    groups: dict[str, list[tuple[Node, Path]]] = {}
    shared: list[tuple[Node, Path]] = []
    for node, path in conjuncts:
        subjects = _subjects(node)
        if len(subjects) > 1:
            raise RuleShapeError(
                path,
                "mixed-subjects",
                f"this part reads {' and '.join(sorted(subjects))}; conditions on two kinds of fact "
                "can only be combined with `all`",
            )
        if subjects:
            groups.setdefault(subjects.pop(), []).append((node, path))
        else:
            shared.append((node, path))
    if len(groups) > MAX_SUBJECTS:
        raise RuleShapeError(
            ("when",), "too-many-subjects", f"the rule reads {', '.join(groups)}; a rule joins at most two"
        )
    if not groups:
        return {"customer": shared}
    first = next(iter(groups))
    groups[first] = [*groups[first], *shared]
    return groups


def _conjuncts(node: Node, path: Path) -> list[tuple[Node, Path]]:
    """The parts that must all hold: nested `all`s flattened."""
    if isinstance(node, AllOf):
        return [found for i, child in enumerate(node.all) for found in _conjuncts(child, (*path, "all", i))]
    return [(node, path)]


def _check_text_matches(conditions: list[tuple[Condition, Path]]) -> None:
    for condition, path in conditions:
        if condition.operator in TEXT_MATCHES and "not" in path:
            raise RuleShapeError(
                (*path, condition.operator),
                "negated-text-match",
                f"`{condition.operator}` cannot be used under `not`; durable-rules has no negated text match",
            )


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
    if operator in TEXT_MATCHES:
        return {"$imt": {field: text_pattern(operator, operand)}}
    present = bool(operand) != negate
    return {"$ex" if present else "$nex": {field: 1}}


def text_pattern(operator: str, text: str) -> str:
    """A case-insensitive whole-text pattern for durable-rules' regex engine; the user's text is literal."""
    literal = "".join(f"%{c}" if c in _REGEX_SPECIALS else c for c in text)
    if operator == "contains":
        return f".*{literal}.*"
    if operator == "starts_with":
        return f"{literal}.*"
    if operator == "ends_with":
        return f".*{literal}"
    return "".join({"*": ".*", "?": "."}.get(c, f"%{c}" if c in _REGEX_SPECIALS else c) for c in text)
