"""Schema errors inside `any:`, `all:` and `not:` are located on the key or value at fault.

pydantic names the union member it tried (`any`, `all`, `not`, `condition`) in an error's
location, and those names are also keys of the format: the tag must not be taken for the key.
"""

from __future__ import annotations

import textwrap

import pytest

from engine.errors import RuleSetInvalid
from engine.ruleset.loader import load_rule_set

# Lines 1-6; the `when:` block written by each case starts on line 7, column 7.
RULE = """\
rules:
  - id: located
    description: A mistake inside a condition group
    family: maintenance_due
    then: {offer: boiler-service-booking, value: 10, channels: [email]}
    when:
"""

CASES = {
    "an unknown key beside any": (
        """\
        any:
          - {fact: asset.category, equals: boiler}
        colour: red
        """,
        ["9:7: unknown-field: unknown field `colour` in rules[0].when"],
    ),
    "a wrong value inside any": (
        """\
        any:
          - fact: asset.days_until_service
            at_most: thirty
        """,
        ["9:11: wrong-type: rules[0].when.any[0].at_most: `thirty` is not a number"],
    ),
    "an unknown key beside all": (
        """\
        all:
          - {fact: asset.category, equals: boiler}
        colour: red
        """,
        ["9:7: unknown-field: unknown field `colour` in rules[0].when"],
    ),
    "a wrong value inside all": (
        """\
        all:
          - {fact: asset.category, equals: boiler}
          - fact: asset.days_until_service
            at_most: thirty
        """,
        ["10:11: wrong-type: rules[0].when.all[1].at_most: `thirty` is not a number"],
    ),
    "an unknown key beside not": (
        """\
        not: {fact: asset.category, equals: boiler}
        colour: red
        """,
        ["8:7: unknown-field: unknown field `colour` in rules[0].when"],
    ),
    "a wrong value inside not": (
        """\
        not:
          fact: asset.days_until_service
          at_most: thirty
        """,
        ["9:9: wrong-type: rules[0].when.not.at_most: `thirty` is not a number"],
    ),
    "an unknown key beside an any nested in all": (
        """\
        all:
          - {fact: asset.category, equals: boiler}
          - any:
              - {fact: asset.days_until_service, at_most: 30}
            colour: red
        """,
        ["11:11: unknown-field: unknown field `colour` in rules[0].when.all[1]"],
    ),
    "a wrong value in a not nested in any in all": (
        """\
        all:
          - any:
              - not:
                  fact: asset.days_until_service
                  at_most: thirty
        """,
        ["11:17: wrong-type: rules[0].when.all[0].any[0].not.at_most: `thirty` is not a number"],
    ),
    "a key named like a tag in a condition": (
        """\
        any:
          - fact: asset.category
            condition: boiler
        """,
        ["9:11: unknown-operator: unknown operator `condition`; did you mean `contains`?"],
    ),
    "a condition's keys beside a group key": (
        """\
        all:
          - fact: asset.category
            equals: boiler
            not: {fact: asset.category, equals: heat_pump}
        """,
        [
            "8:11: unknown-field: unknown field `fact` in rules[0].when.all[0]",
            "9:11: unknown-field: unknown field `equals` in rules[0].when.all[0]",
        ],
    ),
}


@pytest.mark.parametrize(("when", "expected"), CASES.values(), ids=CASES.keys())
def test_a_mistake_in_a_condition_group_is_located_on_its_key(rules_dir, when, expected):
    path = rules_dir / "located.yaml"
    path.write_text(RULE + textwrap.indent(textwrap.dedent(when), " " * 6))

    with pytest.raises(RuleSetInvalid) as raised:
        load_rule_set(rules_dir)

    assert [str(error) for error in raised.value.errors] == [f"{path}:{where}" for where in expected]
