"""The rule sets' matches by plain evaluation: the oracle the adapter is tested against."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

from engine.ruleset.compiler import CompiledRule
from engine.ruleset.evaluate import holds
from engine.ruleset.matcher import Match

Fact = Mapping[str, object]


def reference_matches(rules: Sequence[CompiledRule], facts: Sequence[Fact]) -> list[Match]:
    found = []
    for compiled in rules:
        candidates = [[f for f in facts if f["subject"] == subject] for subject in compiled.subjects]
        for combination in itertools.product(*candidates):
            joined = _join(combination)
            if holds(compiled.rule.when, joined) is True:
                found.append(Match(compiled.rule.id, tuple(str(f["id"]) for f in combination)))
    return sorted(found)


def _join(facts: Sequence[Fact]) -> dict[str, object]:
    joined = dict(facts[0])
    for other in facts[1:]:
        joined[str(other["subject"])] = other[str(other["subject"])]
    return joined
