"""What changed between two rule sets, rule by rule and catalogue entry by entry, in words.

Rules are matched by id, so a rule moved to another file is the same rule. A
changed rule lists each part that reads differently, old and new. Its conditions
are compared as the set of conditions that must all hold: reordering them is no
change, and an edited condition shows as its old and new wording.

`diff_rule_sets` builds the diff as plain data (the JSON report is that data);
`pretty_report` renders it as `forestall rules diff` shows it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from engine.catalogue import Catalogue
from engine.ruleset.compiler import CompiledRule
from engine.ruleset.describe import (
    describe_channels,
    describe_days,
    describe_number,
    describe_then,
    describe_value,
    describe_when,
    in_words,
    quoted,
)
from engine.ruleset.loader import RuleSet
from engine.ruleset.schema import AllOf, AnyOf, Condition, Node, NotOf, Rule

# The parts of a rule, in the order its changes are listed.
PARTS = ("description", "family", "conditions", "offer", "value", "priority", "channels", "validity")


@dataclass(frozen=True)
class PartChange:
    """One part of a rule or catalogue entry, old and new in words; None on the side where it is absent."""

    part: str
    old: str | None
    new: str | None
    # For a condition edited in place: the fact it reads on both sides.
    fact: str | None = None


@dataclass(frozen=True)
class DescribedRule:
    """A whole rule in words, as added or removed."""

    id: str
    description: str
    family: str
    when: str
    then: str
    file: str


@dataclass(frozen=True)
class ChangedRule:
    id: str
    file: str
    changes: tuple[PartChange, ...]


@dataclass(frozen=True)
class MovedRule:
    """A rule now in another file: not a change, but worth knowing where to find it."""

    id: str
    old_file: str
    new_file: str


@dataclass(frozen=True)
class CatalogueChange:
    entry: str  # product, follow-on or offer
    id: str
    change: str  # added, removed or changed
    changes: tuple[PartChange, ...] = ()


@dataclass(frozen=True)
class RuleSetDiff:
    old_version: str
    new_version: str
    old_rules: int
    new_rules: int
    added: tuple[DescribedRule, ...]
    removed: tuple[DescribedRule, ...]
    changed: tuple[ChangedRule, ...]
    moved: tuple[MovedRule, ...]
    unchanged: int
    catalogue: tuple[CatalogueChange, ...]


def diff_rule_sets(old: RuleSet, new: RuleSet) -> RuleSetDiff:
    """Rules added, removed and changed from `old` to `new`, and catalogue entries likewise."""
    added = tuple(_described(r) for r in new.rules if r.rule.id not in old.by_id)
    removed = tuple(_described(r) for r in old.rules if r.rule.id not in new.by_id)
    kept = [(old.by_id[r.rule.id], r) for r in new.rules if r.rule.id in old.by_id]
    changed = tuple(
        ChangedRule(after.rule.id, _file_name(after), changes)
        for before, after in kept
        if (changes := _rule_changes(before.rule, after.rule))
    )
    moved = tuple(
        MovedRule(after.rule.id, _file_name(before), _file_name(after))
        for before, after in kept
        if _file_name(before) != _file_name(after)
    )
    return RuleSetDiff(
        old_version=old.version,
        new_version=new.version,
        old_rules=len(old.rules),
        new_rules=len(new.rules),
        added=added,
        removed=removed,
        changed=changed,
        moved=moved,
        unchanged=len(kept) - len(changed),
        catalogue=_catalogue_changes(old.catalogue, new.catalogue),
    )


def _file_name(rule: CompiledRule) -> str:
    return Path(rule.file).name


def _described(compiled: CompiledRule) -> DescribedRule:
    rule = compiled.rule
    return DescribedRule(
        rule.id,
        rule.description,
        in_words(rule.family),
        describe_when(rule.when),
        describe_then(rule.then),
        _file_name(compiled),
    )


def _rule_changes(old: Rule, new: Rule) -> tuple[PartChange, ...]:
    before, after = _parts_in_words(old), _parts_in_words(new)
    changes = [PartChange(part, before[part], after[part]) for part in before if before[part] != after[part]]
    changes += _condition_changes(old.when, new.when)
    return tuple(sorted(changes, key=lambda change: PARTS.index(change.part)))


def _parts_in_words(rule: Rule) -> dict[str, str]:
    """Every part but the conditions: a part changed when it reads differently."""
    return {
        "description": quoted(rule.description),
        "family": in_words(rule.family),
        "offer": rule.then.offer,
        "value": describe_number(rule.then.value),
        "priority": str(rule.then.priority),
        "channels": describe_channels(rule.then.channels),
        "validity": describe_days(rule.then.valid_for_days),
    }


def _condition_changes(old: Node, new: Node) -> list[PartChange]:
    """The conditions (or groups) that must all hold, removed, added or edited; an
    edit pairs a removed and an added one on the same fact, or groups of the same kind."""
    removed = _missing_from(_conjuncts(old), _conjuncts(new))
    added = _missing_from(_conjuncts(new), _conjuncts(old))
    changes = []
    for before in removed:
        match = next((i for i, after in enumerate(added) if _pairing_key(after) == _pairing_key(before)), None)
        if match is None:
            changes.append(PartChange("conditions", describe_when(before, nested=True), None))
            continue
        after = added.pop(match)
        fact = before.fact if isinstance(before, Condition) else None
        changes.append(
            PartChange("conditions", describe_when(before, nested=True), describe_when(after, nested=True), fact)
        )
    changes += [PartChange("conditions", None, describe_when(after, nested=True)) for after in added]
    return changes


def _conjuncts(node: Node) -> list[Node]:
    """What must all hold: the members of a top-level `all`, or the node alone."""
    return _members(node) if isinstance(node, AllOf) else [node]


def _members(group: AllOf | AnyOf) -> list[Node]:
    """A group's children, with groups of the same kind nested in it flattened (they mean the same)."""
    children = group.all if isinstance(group, AllOf) else group.any
    return [m for child in children for m in (_members(child) if type(child) is type(group) else [child])]


def _missing_from(nodes: list[Node], others: list[Node]) -> list[Node]:
    """The nodes of `nodes` with no counterpart in `others`, counting repeats."""
    available = Counter(_meaning(other) for other in others)
    missing = []
    for node in nodes:
        meaning = _meaning(node)
        if available[meaning]:
            available[meaning] -= 1
        else:
            missing.append(node)
    return missing


def _meaning(node: Node) -> Hashable:
    """Equal for nodes that test the same thing, whatever the order of their children or `in` values."""
    if isinstance(node, Condition):
        operand = frozenset(node.operand) if node.operator in ("in", "not_in") else node.operand
        return (node.fact, node.operator, operand)
    if isinstance(node, NotOf):
        return ("not", _meaning(node.not_))
    return (type(node).__name__, frozenset(Counter(_meaning(m) for m in _members(node)).items()))


def _pairing_key(node: Node) -> str:
    return node.fact if isinstance(node, Condition) else type(node).__name__


def _catalogue_changes(old: Catalogue, new: Catalogue) -> tuple[CatalogueChange, ...]:
    return (
        *_entry_changes("product", {p.id: p for p in old.products}, {p.id: p for p in new.products}),
        *_entry_changes("follow-on", _follow_ons(old), _follow_ons(new)),
        *_entry_changes("offer", {o.id: o for o in old.offers}, {o.id: o for o in new.offers}),
    )


def _follow_ons(catalogue: Catalogue) -> dict[str, BaseModel]:
    return {f"{f.after} then {f.then}": f for f in catalogue.follow_ons}


def _entry_changes(entry: str, old: Mapping[str, BaseModel], new: Mapping[str, BaseModel]) -> list[CatalogueChange]:
    """Entries added or changed in `new`'s order, then those removed in `old`'s."""
    changes = []
    for key, after in new.items():
        before = old.get(key)
        if before is None:
            changes.append(CatalogueChange(entry, key, "added"))
        elif before != after:
            changes.append(CatalogueChange(entry, key, "changed", _field_changes(before, after)))
    changes += [CatalogueChange(entry, key, "removed") for key in old if key not in new]
    return changes


def _field_changes(old: BaseModel, new: BaseModel) -> tuple[PartChange, ...]:
    return tuple(
        PartChange(name, describe_value(getattr(old, name)), describe_value(getattr(new, name)))
        for name in type(new).model_fields
        if getattr(old, name) != getattr(new, name)
    )


# Pretty report: what `forestall rules diff` shows a business user.

_INDENT = " " * 10
_WIDTH = 100
_MARKERS = {"added": "+ added", "removed": "- removed", "changed": "~ changed", "moved": "> moved"}


def pretty_report(diff: RuleSetDiff) -> str:
    """The diff as a business user reads it: a headline, then one block per rule and catalogue entry."""
    lines = [_headline(diff)]
    for marker, rules in (("added", diff.added), ("removed", diff.removed)):
        for rule in rules:
            lines += [
                f"{_mark(marker)}{rule.id}: {quoted(rule.description)}",
                f"{_INDENT}{rule.family} rule in {rule.file}",
                f"{_INDENT}when {rule.when}",
                f"{_INDENT}then {rule.then}",
            ]
    for changed in diff.changed:
        lines += [f"{_mark('changed')}{changed.id}", *_change_lines(changed.changes)]
    lines += [f"{_mark('moved')}{move.id}: {move.old_file} -> {move.new_file}" for move in diff.moved]
    if diff.catalogue:
        lines.append("catalogue:")
    for entry in diff.catalogue:
        lines += [f"{_mark(entry.change)}{entry.entry} {entry.id}", *_change_lines(entry.changes)]
    return "\n".join(lines)


def _headline(diff: RuleSetDiff) -> str:
    counts = [
        (n, word)
        for n, word in ((len(diff.changed), "changed"), (len(diff.added), "added"), (len(diff.removed), "removed"))
        if n
    ]
    said = [f"{n} {_plural(n, 'rule')} {word}" if i == 0 else f"{n} {word}" for i, (n, word) in enumerate(counts)]
    if diff.catalogue:
        said.append(f"{len(diff.catalogue)} catalogue {_plural(len(diff.catalogue), 'change')}")
    sizes = _before_after(str(diff.old_rules), str(diff.new_rules))
    versions = _before_after(diff.old_version, diff.new_version)
    return f"{', '.join(said) or 'no changes'} ({sizes} {_plural(diff.new_rules, 'rule')}; version {versions})"


def _change_lines(changes: Sequence[PartChange]) -> list[str]:
    lines = []
    for change in changes:
        label = "when" if change.part == "conditions" else in_words(change.part)
        if change.old is None:
            lines.append(f"{label}, added: {change.new}")
        elif change.new is None:
            lines.append(f"{label}, removed: {change.old}")
        else:
            # The fact an edited condition reads is said once: `x is between 1 and 2  ->  … between 1 and 3`.
            new = change.new
            if change.fact:
                new = "… " + new.removeprefix(f"{in_words(change.fact)} ").removeprefix("is ")
            arrow = "  ->  " if " " in change.old + new else " -> "
            line = f"{label}: {change.old}{arrow}{new}"
            fits = len(_INDENT + line) <= _WIDTH
            lines += [line] if fits else [f"{label}:", f"  was {change.old}", f"  now {change.new}"]
    return [_INDENT + line for line in lines]


def _mark(change: str) -> str:
    return f"{_MARKERS[change]:<{len(_INDENT)}}"


def _before_after(old: str, new: str) -> str:
    return old if old == new else f"{old} -> {new}"


def _plural(count: int, noun: str) -> str:
    return noun if count == 1 else f"{noun}s"
