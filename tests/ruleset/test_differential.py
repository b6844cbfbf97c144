"""durable-rules, through the adapter, matches exactly what the reference evaluation says,
over random rule sets and random facts (the adapter's oracle, DURABLE_RULES.md point 7)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.ruleset.compiler import compile_rule
from engine.ruleset.matcher import Matcher
from engine.ruleset.schema import Rule
from tests.ruleset.reference import reference_matches

NUMBERS = st.integers(-100, 100)
WORDS = ["boiler", "printer", "tv", "printer_ink", "coffee", "It arrived BROKEN.", "fine", "50% off (great)", "a.b*c"]
FRAGMENTS = ["broken", "BROKEN", "arrived", "50%", "(great)", "a.b", "*c", "off", "zzz", "i", "boil"]
GLOBS = ["*broken*", "it arrived*", "50% off (great)", "a.b?c", "*", "b*r", "?v"]

# field -> kind; the subject of a field is its prefix, except the shared ones
FIELDS = {
    "asset.category": "text",
    "asset.name": "text",
    "asset.days_until_service": "number",
    "asset.age_days": "number",
    "category.name": "text",
    "category.purchase_count": "number",
    "category.days_since_last_purchase": "number",
    "customer.open_complaints": "number",
    "event.text": "text",
}
SHARED = [f for f in FIELDS if f.split(".")[0] in ("customer", "event")]


def _condition(field: str, negated: bool) -> st.SearchStrategy[dict[str, Any]]:
    if FIELDS[field] == "number":
        choices = [
            st.fixed_dictionaries({op: NUMBERS})
            for op in ("equals", "not_equals", "greater_than", "at_least", "less_than", "at_most")
        ]
        choices += [
            st.tuples(NUMBERS, NUMBERS).map(lambda pair: {"between": sorted(pair)}),
            st.lists(NUMBERS, min_size=1, max_size=4).map(lambda xs: {"in": xs}),
            st.lists(NUMBERS, min_size=1, max_size=4).map(lambda xs: {"not_in": xs}),
        ]
    else:
        choices = [st.fixed_dictionaries({op: st.sampled_from(WORDS)}) for op in ("equals", "not_equals")]
        choices += [st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(lambda xs: {"in": xs})]
        choices += [st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(lambda xs: {"not_in": xs})]
        if not negated:  # the language refuses text matches under `not`
            choices += [
                st.fixed_dictionaries({op: st.sampled_from(FRAGMENTS)})
                for op in ("contains", "starts_with", "ends_with")
            ]
            choices += [st.fixed_dictionaries({"matches": st.sampled_from(GLOBS)})]
    choices.append(st.fixed_dictionaries({"exists": st.booleans()}))
    return st.one_of(choices).map(lambda operator: {"fact": field, **operator})


def _node(fields: list[str], depth: int, negated: bool = False) -> st.SearchStrategy[dict[str, Any]]:
    leaf = st.sampled_from(fields).flatmap(lambda f: _condition(f, negated))
    if depth == 0:
        return leaf
    children = st.lists(_node(fields, depth - 1, negated), min_size=1, max_size=3)
    return st.one_of(
        leaf,
        children.map(lambda xs: {"all": xs}),
        children.map(lambda xs: {"any": xs}),
        _node(fields, depth - 1, True).map(lambda x: {"not": x}),
    )


@st.composite
def rules(draw: st.DrawFn, index: int) -> Rule:
    subjects = draw(st.sampled_from([["asset"], ["category"], ["asset", "category"], []]))
    groups = [
        draw(_node([f for f in FIELDS if f.startswith(subject + ".")] + SHARED, depth=2)) for subject in subjects
    ] or [draw(_node(SHARED, depth=1))]
    then = {"offer": "o", "value": 1, "channels": ["email"]}
    when = {"all": groups} if len(groups) > 1 else groups[0]
    return Rule.model_validate(
        {"id": f"r{index}", "description": "d", "family": "replenishment", "when": when, "then": then}
    )


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


@st.composite
def facts(draw: st.DrawFn) -> list[dict[str, Any]]:
    def present(**fields: Any) -> dict[str, Any]:
        return {k: v for k, v in fields.items() if v is not None}

    shared = {
        "customer": present(open_complaints=draw(_maybe(st.integers(0, 3)))),
        "event": present(text=draw(_maybe(st.sampled_from(WORDS)))),
    }
    found = [{"id": "customer", "subject": "customer", **shared}]
    for n in range(draw(st.integers(0, 3))):
        asset = present(
            category=draw(_maybe(st.sampled_from(WORDS))),
            name=draw(_maybe(st.sampled_from(WORDS))),
            days_until_service=draw(_maybe(NUMBERS)),
            age_days=draw(_maybe(NUMBERS)),
        )
        found.append({"id": f"asset:{n}", "subject": "asset", **shared, "asset": asset})
    for n in range(draw(st.integers(0, 2))):
        category = present(
            name=draw(_maybe(st.sampled_from(WORDS))),
            purchase_count=draw(_maybe(st.integers(0, 5))),
            days_since_last_purchase=draw(_maybe(NUMBERS)),
        )
        found.append({"id": f"category:{n}", "subject": "category", **shared, "category": category})
    return found


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_durable_rules_matches_what_the_reference_evaluation_says(data):
    rule_set = [compile_rule(data.draw(rules(n)), "generated", 1) for n in range(data.draw(st.integers(1, 6)))]
    batches = data.draw(st.lists(facts(), min_size=1, max_size=3))
    matcher = Matcher({r.rule.id: r.definition for r in rule_set})
    try:
        for batch in batches:  # several calls on one matcher: nothing may leak between them
            result = matcher.match(batch)
            assert result.failed_fact_ids == []
            assert sorted(result.matches) == reference_matches(rule_set, batch)
    finally:
        matcher.close()
