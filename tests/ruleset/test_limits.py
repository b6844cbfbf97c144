"""durable-rules' limits are located validation errors, never a crash or a hang in the C core."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from engine.errors import RuleSetInvalid
from engine.ruleset.limits import (
    MAX_ABSENCE_RULES,
    MAX_CONDITIONS_PER_FIELD,
    MAX_FIELDS_READ,
    MAX_JOIN_RULES,
    fnv1a_32,
)
from engine.ruleset.loader import load_rule_set
from tests.conftest import RULES

# Found by hashing random names: two context keys durable-rules would take for one.
COLLIDING = ("context.tqrinjvu", "context.onzxgmwi")


def _rule(rule_id: str, when: dict) -> dict:
    then = {"offer": "delay-apology", "value": 1, "channels": ["email"]}  # no placeholders: fits any rule
    return {"id": rule_id, "description": "generated", "family": "maintenance_due", "when": when, "then": then}


def _errors(tmp_path: Path, rules: list[dict]) -> list[tuple[str, int, str, str]]:
    folder = Path(shutil.copytree(RULES, tmp_path / "rules"))
    (folder / "generated.yaml").write_text(yaml.safe_dump({"rules": rules}, sort_keys=False))
    with pytest.raises(RuleSetInvalid) as raised:
        load_rule_set(folder)
    return [(Path(e.file).name, e.line, e.code, e.message) for e in raised.value.errors]


def _line_of(tmp_path: Path, rule_id: str) -> int:
    lines = (tmp_path / "rules" / "generated.yaml").read_text().splitlines()
    return next(n for n, line in enumerate(lines, 1) if line.strip() == f"- id: {rule_id}")


def test_numbers_durable_rules_cannot_parse_are_refused_where_written(tmp_path):
    rules = [_rule("tiny", {"fact": "asset.days_until_service", "at_most": 0.00001})]

    [(name, line, code, message)] = _errors(tmp_path, rules)

    assert (name, code) == ("generated.yaml", "number-out-of-range")
    assert line == _line_of(tmp_path, "tiny") + 5  # the `at_most` line
    assert "1e-05 is outside what rules can compare" in message


def test_colliding_attribute_names_are_refused_at_the_second_one(tmp_path):
    assert fnv1a_32(COLLIDING[0]) == fnv1a_32(COLLIDING[1])
    rules = [
        _rule("first", {"fact": COLLIDING[0], "equals": "x"}),
        _rule("second", {"fact": COLLIDING[1], "equals": "y"}),
    ]

    [(_, line, code, message)] = _errors(tmp_path, rules)

    assert code == "name-collision"
    assert line == _line_of(tmp_path, "second") + 4
    assert f"`{COLLIDING[1]}` and `{COLLIDING[0]}`" in message


@pytest.mark.parametrize(
    ("limit", "make", "code"),
    [
        (
            MAX_JOIN_RULES,
            lambda n: {
                "all": [
                    {"fact": "asset.category", "equals": f"c{n}"},
                    {"fact": "category.name", "equals": "printer_ink"},
                ]
            },
            "too-many-joins",
        ),
        (MAX_ABSENCE_RULES, lambda n: {"fact": "asset.name", "exists": n < 0}, "too-many-absence-tests"),
        (MAX_CONDITIONS_PER_FIELD, lambda n: {"fact": "asset.age_days", "at_least": n + 1}, "too-many-conditions"),
    ],
)
def test_the_rule_past_a_limit_is_named(tmp_path, limit, make, code):
    rules = [_rule(f"r{n}", make(n)) for n in range(limit + 1)]

    errors = _errors(tmp_path, rules)

    [(name, line, _, message)] = [e for e in errors if e[2] == code]
    assert name == "generated.yaml"
    assert line == _line_of(tmp_path, f"r{limit}")
    assert f"rule `r{limit}` {'is number' if code != 'too-many-conditions' else 'makes'} {limit + 1}" in message


def test_a_rule_set_just_within_the_limits_loads(tmp_path):
    folder = Path(shutil.copytree(RULES, tmp_path / "rules"))
    rules = [_rule(f"r{n}", {"fact": "asset.age_days", "at_least": n + 1}) for n in range(MAX_CONDITIONS_PER_FIELD)]
    (folder / "generated.yaml").write_text(yaml.safe_dump({"rules": rules}, sort_keys=False))

    assert len(load_rule_set(folder).rules) > MAX_CONDITIONS_PER_FIELD


def test_reading_more_facts_than_durable_rules_parses_is_refused(tmp_path):
    rules = [_rule(f"r{n}", {"fact": f"context.key{n}", "equals": "x"}) for n in range(MAX_FIELDS_READ + 5)]

    errors = _errors(tmp_path, rules)

    [(name, _, _, message)] = [e for e in errors if e[2] == "too-many-facts-read"]
    assert name == "generated.yaml"
    assert f"durable-rules takes at most {MAX_FIELDS_READ} in one fact" in message
