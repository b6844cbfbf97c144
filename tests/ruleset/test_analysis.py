"""Rules that can never match are errors; rules another rule always outranks are warnings.
Neither is reported where it is not so."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from engine.errors import RuleSetInvalid
from engine.ruleset.loader import load_rule_set
from tests.conftest import REPO, RULES


def _rule(
    rule_id: str, when: dict, offer: str = "boiler-service-booking", value: float = 100, priority: int = 1
) -> dict:
    then = {"offer": offer, "value": value, "priority": priority, "channels": ["email"]}
    return {"id": rule_id, "description": "generated", "family": "maintenance_due", "when": when, "then": then}


def _load(tmp_path: Path, *rules: dict):
    folder = Path(shutil.copytree(RULES, tmp_path / "rules"))
    (folder / "maintenance.yaml").write_text(yaml.safe_dump({"rules": list(rules)}, sort_keys=False))
    return load_rule_set(folder)


def _all(*conditions: dict) -> dict:
    return {"all": list(conditions)}


BOILER = {"fact": "asset.category", "equals": "boiler"}


@pytest.mark.parametrize(
    "when",
    [
        _all({"fact": "asset.age_days", "at_least": 10}, {"fact": "asset.age_days", "at_most": 5}),
        _all({"fact": "asset.age_days", "greater_than": 5}, {"fact": "asset.age_days", "less_than": 5}),
        _all(BOILER, {"fact": "asset.category", "equals": "tv"}),
        _all({"fact": "asset.category", "in": ["a", "b"]}, {"fact": "asset.category", "not_in": ["a", "b"]}),
        _all({"fact": "asset.age_days", "equals": 3}, {"fact": "asset.age_days", "between": [5, 9]}),
        _all({"fact": "asset.name", "exists": False}, {"fact": "asset.name", "equals": "x"}),
        _all(BOILER, _all({"fact": "asset.age_days", "at_least": 9}, {"fact": "asset.age_days", "less_than": 9})),
    ],
)
def test_contradictory_conditions_are_an_error_on_the_rule(tmp_path, when):
    with pytest.raises(RuleSetInvalid) as raised:
        _load(tmp_path, _rule("impossible", when))

    [error] = raised.value.errors
    assert (Path(error.file).name, error.line, error.code) == ("maintenance.yaml", 5, "never-matches")
    assert "rule `impossible` can never match" in error.message


@pytest.mark.parametrize(
    "when",
    [
        _all({"fact": "asset.age_days", "at_least": 5}, {"fact": "asset.age_days", "at_most": 5}),
        _all(BOILER, {"fact": "asset.category", "not_equals": "tv"}),
        {"any": [{"fact": "asset.age_days", "at_least": 10}, {"fact": "asset.age_days", "at_most": 5}]},
        _all({"fact": "asset.name", "exists": True}, {"fact": "asset.name", "contains": "x"}),
    ],
)
def test_satisfiable_conditions_are_not_reported(tmp_path, when):
    assert _load(tmp_path, _rule("possible", when)).warnings == ()


def test_a_rule_always_outranked_for_the_same_offer_is_a_warning(tmp_path):
    broad = _rule("broad", _all(BOILER, {"fact": "asset.days_until_service", "at_most": 30}), priority=5)
    narrow = _rule("narrow", _all(BOILER, {"fact": "asset.days_until_service", "between": [0, 10]}), priority=2)

    ruleset = _load(tmp_path, broad, narrow)

    [warning] = ruleset.warnings
    assert (warning.code, warning.line) == ("shadowed", 18)  # `- id: narrow`
    assert warning.message.startswith("rule `narrow` never shows: `broad` (maintenance.yaml:2) matches whenever it")
    assert {"broad", "narrow"} <= set(ruleset.by_id)  # a warning does not stop the rules from loading


@pytest.mark.parametrize(
    ("broad", "narrow"),
    [
        # the narrow rule ranks higher: it shows
        (
            _rule("broad", BOILER, priority=1),
            _rule("narrow", _all(BOILER, {"fact": "asset.age_days", "at_least": 1}), priority=9),
        ),
        # another offer
        (
            _rule("broad", BOILER),
            _rule("narrow", _all(BOILER, {"fact": "asset.age_days", "at_least": 1}), offer="heat-pump-service-booking"),
        ),
        # the broad rule is not broader: it also asks for the name
        (
            _rule("broad", _all(BOILER, {"fact": "asset.name", "exists": True}), priority=5),
            _rule("narrow", _all(BOILER, {"fact": "asset.age_days", "at_least": 1})),
        ),
        # the broad rule has an `any`: not followed, so not claimed
        (
            _rule("broad", {"any": [BOILER, {"fact": "asset.age_days", "at_least": 1}]}, priority=5),
            _rule("narrow", BOILER),
        ),
    ],
)
def test_no_shadowing_is_claimed_where_the_rule_can_show(tmp_path, broad, narrow):
    assert _load(tmp_path, broad, narrow).warnings == ()


def test_validate_shows_warnings_and_still_exits_0(tmp_path):
    broad = _rule("broad", _all(BOILER, {"fact": "asset.days_until_service", "at_most": 30}), priority=5)
    narrow = _rule("narrow", _all(BOILER, {"fact": "asset.days_until_service", "between": [0, 10]}), priority=2)
    _load(tmp_path, broad, narrow)
    command = [sys.executable, "-m", "engine.cli.main", "rules", "validate", str(tmp_path / "rules")]

    pretty = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    as_json = subprocess.run([*command, "--format", "json"], cwd=REPO, capture_output=True, text=True, check=False)

    assert pretty.returncode == as_json.returncode == 0
    assert pretty.stdout.startswith(f"warning: {tmp_path / 'rules' / 'maintenance.yaml'}:18:1: shadowed: rule `narrow`")
    [report] = json.loads(as_json.stdout)
    assert [w["code"] for w in report["warnings"]] == ["shadowed"]


def test_a_rule_on_a_never_bought_category_gets_its_fact_derived(tmp_path):
    never = _rule(
        "never-bought-filters",
        _all(
            {"fact": "category.name", "equals": "water_filter"},
            {"fact": "category.purchases_last_365_days", "equals": 0},
        ),
        offer="delay-apology",
    )
    needs_a_purchase = _rule(
        "filters-long-ago",
        _all(
            {"fact": "category.name", "equals": "coffee"}, {"fact": "category.days_since_last_purchase", "at_least": 9}
        ),
        offer="delay-apology",
    )

    categories = _load(tmp_path, never, needs_a_purchase).categories

    assert "water_filter" in categories
    assert "coffee" not in categories
