"""The durable-rules adapter: every matching rule fires, nothing leaks between calls,
and the inputs that crash the C core never reach it."""

from __future__ import annotations

import json
import threading

import pytest

from engine.ruleset.compiler import compile_rule
from engine.ruleset.limits import fnv1a_32
from engine.ruleset.matcher import Match, Matcher, MatcherError, json_safe_number
from engine.ruleset.schema import Rule


def _rule(rule_id: str, when: dict) -> tuple[str, dict]:
    rule = Rule.model_validate(
        {
            "id": rule_id,
            "description": "test",
            "family": "maintenance_due",
            "when": when,
            "then": {"offer": "o", "value": 1, "channels": ["email"]},
        }
    )
    return rule_id, compile_rule(rule, "test.yaml", 1).definition


def _matcher(*rules: tuple[str, dict]) -> Matcher:
    return Matcher(dict(rules))


def _asset(fact_id: str, **fields: object) -> dict:
    return {"id": fact_id, "subject": "asset", "asset": fields}


DUE = _rule("due", {"fact": "asset.days_until_service", "at_most": 30})
BOILER = _rule("boiler", {"fact": "asset.category", "equals": "boiler"})


def test_a_fact_fires_every_rule_it_matches():
    matcher = _matcher(DUE, BOILER)

    result = matcher.match([_asset("a1", days_until_service=10, category="boiler")])

    assert sorted(result.matches) == [Match("boiler", ("a1",)), Match("due", ("a1",))]


def test_each_fact_is_matched_on_its_own():
    matcher = _matcher(DUE, BOILER)

    result = matcher.match(
        [_asset("a1", days_until_service=10, category="tv"), _asset("a2", days_until_service=99, category="boiler")]
    )

    assert sorted(result.matches) == [Match("boiler", ("a2",)), Match("due", ("a1",))]


def test_no_match_is_an_empty_result_not_an_error():
    assert _matcher(DUE).match([_asset("a1", days_until_service=99)]).matches == []


def test_facts_do_not_stay_between_calls():
    matcher = _matcher(DUE)
    fact = _asset("a1", days_until_service=5)

    first = matcher.match([fact])
    second = matcher.match([fact])  # asserting a stored identical fact would raise

    assert first.matches == second.matches == [Match("due", ("a1",))]
    assert second.failed_fact_ids == []


def test_a_rule_only_matches_its_subject():
    matcher = _matcher(DUE)

    result = matcher.match([{"id": "c1", "subject": "consumable", "asset": {"days_until_service": 1}}])

    assert result.matches == []


@pytest.mark.parametrize(
    ("value", "due"),
    [(0.00001, True), (1e-300, True), (1e20, False), (-1e20, True), (float("nan"), False), (float("inf"), False)],
)
def test_numbers_durable_rules_cannot_parse_are_made_safe(value, due):
    matcher = _matcher(DUE)

    result = matcher.match([_asset("a1", days_until_service=value), _asset("a2", days_until_service=1)])

    assert result.failed_fact_ids == []
    assert (Match("due", ("a1",)) in result.matches) == due
    assert Match("due", ("a2",)) in result.matches


@pytest.mark.parametrize(
    ("value", "safe"), [(1.5, 1.5), (3, 3), (1e-7, 0.0), (-2.5e-5, 0.0), (1e20, 1e15), (10**30, 10**15)]
)
def test_numbers_are_written_without_a_bare_exponent(value, safe):
    assert json_safe_number(value) == safe
    assert "e" not in json.dumps(json_safe_number(value))


def test_fnv1a_matches_the_reference_vectors():
    assert fnv1a_32("") == 0x811C9DC5
    assert fnv1a_32("a") == 0xE40C292C
    assert fnv1a_32("foobar") == 0xBF9CF968


def test_colliding_attribute_names_are_refused():
    assert fnv1a_32("costarring") == fnv1a_32("liquid")

    with pytest.raises(MatcherError, match="`costarring` and `liquid` collide"):
        Matcher(dict([DUE]), known_attributes=["costarring", "liquid"])


def test_a_retired_matcher_refuses_to_match():
    matcher = _matcher(DUE)
    matcher.close()

    with pytest.raises(MatcherError):
        matcher.match([_asset("a1", days_until_service=5)])


@pytest.mark.parametrize(
    ("when", "fires_for"),
    [
        ({"not": {"fact": "asset.category", "in": ["boiler", "tv"]}}, {"fridge"}),
        ({"not": {"fact": "asset.days_until_service", "between": [0, 30]}}, {"tv", "fridge"}),
        (
            {"any": [{"fact": "asset.category", "equals": "tv"}, {"fact": "asset.days_until_service", "less_than": 0}]},
            {"tv", "fridge"},
        ),
        (
            {
                "not": {
                    "all": [
                        {"fact": "asset.category", "not_equals": "tv"},
                        {"fact": "asset.days_until_service", "at_least": 0},
                    ]
                }
            },
            {"tv", "fridge"},
        ),
        ({"fact": "asset.category", "not_in": ["boiler"]}, {"tv", "fridge"}),
        ({"fact": "asset.name", "exists": True}, {"boiler"}),
        ({"fact": "asset.name", "exists": False}, {"tv", "fridge"}),
    ],
)
def test_conditions_mean_what_they_say(when, fires_for):
    matcher = _matcher(_rule("r", when))
    facts = [
        _asset("boiler", category="boiler", days_until_service=10, name="EcoTherm"),
        _asset("tv", category="tv", days_until_service=40),
        _asset("fridge", category="fridge", days_until_service=-5),
    ]

    assert {m.fact_ids[0] for m in matcher.match(facts).matches} == fires_for


def test_concurrent_callers_each_get_their_own_matches():
    matcher = _matcher(DUE, BOILER)
    failures = []

    def worker(n: int) -> None:
        for i in range(200):
            due = (n + i) % 2 == 0
            fact = _asset(f"t{n}-{i}", days_until_service=5 if due else 50, category="tv")
            expected = [Match("due", (fact["id"],))] if due else []
            if matcher.match([fact]).matches != expected:
                failures.append((n, i))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []


def test_a_fact_satisfying_two_branches_of_an_any_matches_once():
    # durable-rules fires once per satisfied branch; found by the differential test
    matcher = _matcher(
        _rule(
            "either", {"any": [{"fact": "asset.category", "equals": "tv"}, {"fact": "asset.age_days", "at_least": 1}]}
        )
    )

    assert matcher.match([_asset("a1", category="tv", age_days=5)]).matches == [Match("either", ("a1",))]


def test_fields_no_rule_reads_never_reach_the_c_core():
    # two context keys that durable-rules would confuse: harmless, since no rule reads them
    matcher = Matcher(dict([DUE]), read=["asset.days_until_service"])
    fact = {**_asset("a1", days_until_service=5), "context": {"tqrinjvu": "x", "onzxgmwi": "y"}}

    assert matcher.match([fact]).matches == [Match("due", ("a1",))]
