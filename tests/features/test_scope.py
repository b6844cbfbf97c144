"""Deriving only the facts some rule can match changes no match: checked over a whole population."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

from engine.demo import population_events, showcase_events
from engine.events import Event
from engine.features.derive import Scope, Touch, derive_facts
from engine.ruleset.live import compile_folder
from tests.conftest import RULES

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def test_the_pruned_scope_matches_exactly_what_every_fact_matches():
    ruleset, matcher = compile_folder(RULES)
    histories: dict[str, list[Event]] = defaultdict(list)
    for event in [*showcase_events(NOW), *population_events(NOW, 400, seed=11)]:
        histories[event.customer_id].append(event)
    pruned = Scope(ruleset.subjects, ruleset.categories, ruleset.pinned)
    every = Scope(categories=ruleset.categories)
    try:
        compared = 0
        for events in histories.values():
            narrow = derive_facts(events, ruleset.catalogue, NOW, Touch(None), scope=pruned)
            full = derive_facts(events, ruleset.catalogue, NOW, Touch(None), scope=every)
            assert len(narrow) <= len(full)
            assert sorted(matcher.match(narrow).matches) == sorted(matcher.match(full).matches)
            compared += len(matcher.match(full).matches)
    finally:
        matcher.close()
    assert compared > 30  # the population gives the rules plenty to match
