"""Rule folders: each class of mistake is reported with its code at its line and column."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from engine.errors import RuleSetInvalid
from engine.ruleset.loader import load_rule_set
from tests.conftest import DATA, RULES


def _errors_for(tmp_path: Path, *broken: str) -> list[tuple[str, int, int, str, str]]:
    folder = Path(shutil.copytree(RULES, tmp_path / "rules"))
    for name in broken:
        shutil.copy(DATA / "rules" / name, folder / name)
    with pytest.raises(RuleSetInvalid) as raised:
        load_rule_set(folder)
    return [(Path(e.file).name, e.line, e.column, e.code, e.message) for e in raised.value.errors]


def test_the_sample_rules_are_valid_and_cover_the_three_families():
    ruleset = load_rule_set(RULES)

    assert {r.rule.family.value for r in ruleset.rules} >= {"maintenance_due", "replenishment", "planned_purchase"}
    assert len(ruleset.version) == 12


def test_the_version_is_a_digest_of_the_content(tmp_path):
    folder = Path(shutil.copytree(RULES, tmp_path / "rules"))
    before = load_rule_set(folder).version
    (folder / "maintenance.yaml").write_text((folder / "maintenance.yaml").read_text() + "\n# a comment\n")

    assert load_rule_set(folder).version != before
    assert load_rule_set(RULES).version == load_rule_set(RULES).version


@pytest.mark.parametrize(
    ("file", "line", "column", "code", "fragment"),
    [
        ("mistakes.yaml", 7, 11, "unknown-fact", "`asset.days_until_servce`; did you mean `asset.days_until_service`?"),
        ("mistakes.yaml", 16, 11, "unknown-operator", "`greater`; did you mean `greater_than`?"),
        ("mistakes.yaml", 20, 5, "invalid-value", "`replenisment` is not one of"),
        ("mistakes.yaml", 20, 5, "invalid-value", "did you mean `replenishment`?"),
        ("mistakes.yaml", 24, 34, "unknown-field", "`valu` in rules[2].then; did you mean `value`?"),
        ("mistakes.yaml", 30, 7, "wrong-type", "`consumable.days_until_runout` is a number"),
        ("mistakes.yaml", 32, 7, "unknown-offer", "`ink-refil` is not in the catalogue; did you mean `ink-refill`?"),
        ("mistakes.yaml", 40, 7, "empty-range", "between 30 and 10 matches nothing"),
        ("replenishment.yaml", 5, 5, "duplicate-id", "`ink-running-out` is defined at"),
        ("zz_mistakes_catalogue_offer.yaml", 10, 7, "bad-placeholder", "`{asset.name}`, which a rule on consumable"),
    ],
)
def test_each_mistake_is_located(tmp_path, file, line, column, code, fragment):
    errors = _errors_for(tmp_path, "mistakes.yaml", "zz_mistakes_catalogue_offer.yaml")

    found = [e for e in errors if e[:4] == (file, line, column, code)]

    assert any(fragment in message for *_, message in found), errors


def test_every_error_is_reported_in_one_run(tmp_path):
    errors = _errors_for(tmp_path, "mistakes.yaml", "zz_mistakes_catalogue_offer.yaml")

    # the nine above, and the template's second placeholder of another subject
    assert len(errors) == 10


def test_yaml_syntax_errors_are_located(tmp_path):
    [(name, line, _, code, message)] = _errors_for(tmp_path, "syntax.yaml")

    assert (name, line, code) == ("syntax.yaml", 6, "yaml-syntax")
    assert "flow sequence that starts at line 5" in message


def test_a_missing_catalogue_is_reported(tmp_path):
    folder = Path(shutil.copytree(RULES, tmp_path / "rules"))
    (folder / "catalogue.yaml").unlink()

    with pytest.raises(RuleSetInvalid) as raised:
        load_rule_set(folder)

    assert any(e.code == "no-catalogue" for e in raised.value.errors)


def test_a_yaml_bomb_is_refused_not_expanded(tmp_path):
    folder = Path(shutil.copytree(RULES, tmp_path / "rules"))
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [
        f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]"
        for i in range(1, 9)
    ]
    (folder / "bomb.yaml").write_text("\n".join(lines) + "\n")

    with pytest.raises(RuleSetInvalid) as raised:
        load_rule_set(folder)

    assert [e.code for e in raised.value.errors] == ["too-large"]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("rules:\n  - &rule {when: *rule}\n", "2:12"),  # an alias inside the value it names
        ("rules: " + "[" * 150 + "]" * 150 + "\n", "1:108"),
    ],
)
def test_values_nested_without_end_are_refused_not_followed(rules_dir, text, where):
    path = rules_dir / "endless.yaml"
    path.write_text(text)

    with pytest.raises(RuleSetInvalid) as raised:
        load_rule_set(rules_dir)

    assert [str(e) for e in raised.value.errors] == [
        f"{path}:{where}: too-large: values nest more than 100 levels deep"
    ]


def test_a_key_at_the_wrong_level_is_told_where_it_goes(rules_dir):
    (rules_dir / "misplaced.yaml").write_text(
        textwrap.dedent("""\
            rules:
              - id: misplaced-keys
                description: Keys written one level off
                family: maintenance_due
                channels: [email]
                when:
                  all:
                    - {fact: asset.category, equals: boiler, priority: 3}
                then: {offer: boiler-service-booking, value: 10, channels: [email], when: {}}
            """)
    )

    with pytest.raises(RuleSetInvalid) as raised:
        load_rule_set(rules_dir)

    file = rules_dir / "misplaced.yaml"
    assert [str(e) for e in raised.value.errors] == [
        f"{file}:5:5: unknown-field: unknown field `channels` in rules[0]; `channels` goes under `then:`",
        f"{file}:8:50: unknown-operator: unknown operator `priority`; `priority` goes under `then:`",
        f"{file}:9:73: unknown-field: unknown field `when` in rules[0].then; `when` goes under `rules:`",
    ]
