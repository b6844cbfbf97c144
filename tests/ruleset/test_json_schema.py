"""The rule file format as editors and readers see it.

The JSON Schemas in rules/schema/ are what scripts/generate_schemas.py makes from the
models; they accept every sample file and reject the mistakes an editor should
underline. The guide, rules/README.md, lists the real facts and error codes, and its
examples load.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from engine.catalogue import Catalogue
from engine.errors import RuleSetInvalid
from engine.features.fields import FIELDS, OPEN_PREFIXES
from engine.ruleset.loader import load_rule_set
from engine.ruleset.schema import OPERATORS, Rule, RuleFile
from engine.vocabulary import Family
from tests.conftest import REPO, RULES

SCHEMAS = RULES / "schema"
README = RULES / "README.md"
SAMPLE_FILES = sorted(RULES.glob("*.yaml"))


def _schema_name(path: Path) -> str:
    return {"catalogue.yaml": "catalogue.schema.json", "policy.yaml": "policy.schema.json"}.get(
        path.name, "rules.schema.json"
    )


def _schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / name).read_text())


def _failures(schema_name: str, document: object) -> set[tuple[str, str]]:
    """(path, keyword) of every failure, those inside each `oneOf`/`anyOf` alternative included."""
    pending = list(jsonschema.Draft7Validator(_schema(schema_name)).iter_errors(document))
    found = set()
    while pending:
        error = pending.pop()
        found.add(("/".join(str(part) for part in error.absolute_path), error.validator))
        pending.extend(error.context or ())
    return found


def _run_check(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "scripts/generate_schemas.py", "--check"], cwd=cwd, capture_output=True, text=True
    )


# ---- the committed schemas -------------------------------------------------------------------


def test_the_committed_schemas_are_what_the_script_generates():
    result = _run_check(REPO)

    assert result.returncode == 0, result.stderr


def test_the_check_names_the_schema_that_drifted(tmp_path):
    shutil.copytree(REPO / "scripts", tmp_path / "scripts")
    shutil.copytree(SCHEMAS, tmp_path / "rules" / "schema")
    stale = tmp_path / "rules" / "schema" / "catalogue.schema.json"
    stale.write_text(stale.read_text().replace('"title": "Forestall catalogue"', '"title": "Catalogue"'))

    result = _run_check(tmp_path)

    assert result.returncode == 1
    assert "catalogue.schema.json" in result.stderr
    assert "rules.schema.json" not in result.stderr


@pytest.mark.parametrize("name", ["rules.schema.json", "catalogue.schema.json"])
def test_each_schema_is_a_titled_draft_07_schema(name):
    schema = _schema(name)

    jsonschema.Draft7Validator.check_schema(schema)
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert schema["title"].startswith("Forestall ")
    assert schema["description"]


# ---- the sample files ------------------------------------------------------------------------


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda path: path.name)
def test_every_sample_file_validates_against_its_schema(path):
    assert _failures(_schema_name(path), yaml.safe_load(path.read_text())) == set()


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda path: path.name)
def test_every_sample_file_names_its_schema_on_its_first_line(path):
    first_line = path.read_text().splitlines()[0]

    assert first_line == f"# yaml-language-server: $schema=schema/{_schema_name(path)}"
    assert (path.parent / "schema" / _schema_name(path)).is_file()  # the path is relative to the file


# ---- what an editor underlines ---------------------------------------------------------------

GOOD_RULE = """
rules:
  - id: boiler-service-due
    description: Boiler service due within 30 days
    family: maintenance_due
    when:
      all:
        - fact: asset.category
          equals: boiler
        - fact: asset.days_until_service
          between: [-60, 30]
    then:
      offer: boiler-service-booking
      value: 120
      channels: [email, sms]
"""


def _broken(good: str, bad: str) -> object:
    assert good in GOOD_RULE
    return yaml.safe_load(GOOD_RULE.replace(good, bad))


@pytest.mark.parametrize(
    ("good", "bad", "path", "keyword"),
    [
        ("      value: 120", "      valu: 120", "rules/0/then", "additionalProperties"),
        ("    family:", "    familly:", "rules/0", "additionalProperties"),
        (
            "          equals: boiler",
            "          equals: boiler\n          not_equals: tv",
            "rules/0/when/all/0",
            "maxProperties",
        ),
        ("          equals: boiler", "", "rules/0/when/all/0", "minProperties"),
        ("          equals: boiler", "          equals:", "rules/0/when/all/0/equals", "type"),
        ("[email, sms]", "[email, fax]", "rules/0/then/channels/1", "enum"),
        ("family: maintenance_due", "family: maintenance", "rules/0/family", "enum"),
        ("fact: asset.days_until_service", "fact: asset.days_until_servce", "rules/0/when/all/1/fact", "anyOf"),
        ("fact: asset.category", "fact: context.Store-Region", "rules/0/when/all/0/fact", "anyOf"),
        ("value: 120", 'value: "120"', "rules/0/then/value", "type"),
        ("between: [-60, 30]", "between: [soon, 30]", "rules/0/when/all/1/between/0", "type"),
        ("between: [-60, 30]", "between: [-60, 0, 30]", "rules/0/when/all/1/between", "maxItems"),
        ("value: 120", "value: -1", "rules/0/then/value", "minimum"),
        ("id: boiler-service-due", "id: Boiler service", "rules/0/id", "pattern"),
        ("      offer: boiler-service-booking\n", "", "rules/0/then", "required"),
    ],
    ids=[
        "unknown field in then",
        "unknown field in a rule",
        "two operators",
        "no operator",
        "an operator with no value",
        "unknown channel",
        "unknown family",
        "misspelt fact",
        "malformed context key",
        "text for a number",
        "text in a range",
        "a range of three",
        "negative value",
        "rule id with capitals and a space",
        "missing offer",
    ],
)
def test_the_rules_schema_rejects_each_mistake_for_its_reason(good, bad, path, keyword):
    assert (path, keyword) in _failures("rules.schema.json", _broken(good, bad))


@pytest.mark.parametrize(
    ("good", "bad"),
    [
        ("fact: asset.category", "fact: context.store_region"),
        ("fact: asset.days_until_service", "fact: score.churn_risk"),
        ("between: [-60, 30]", "between: [-60.5, 30]"),
        ("          equals: boiler", "          exists: true"),
    ],
)
def test_the_rules_schema_accepts_open_facts_and_each_operand_kind(good, bad):
    assert _failures("rules.schema.json", _broken(good, bad)) == set()


def test_the_fact_key_offers_every_known_fact_with_its_type_and_definition():
    fact = _schema("rules.schema.json")["definitions"]["Condition"]["properties"]["fact"]

    offered = {option["const"]: option["description"] for option in fact["anyOf"] if "const" in option}

    assert offered == {name: f"{spec.type}: {spec.definition}" for name, spec in FIELDS.items()}


def test_the_catalogue_schema_rejects_an_unknown_kind_and_a_missing_category():
    catalogue = {"products": [{"id": "ink", "kind": "consumible"}, {"id": "tent", "category": "tent", "price": 1}]}

    assert _failures("catalogue.schema.json", catalogue) >= {
        ("products/0/kind", "enum"),
        ("products/0", "required"),
        ("products/1", "additionalProperties"),
    }


# ---- rules/README.md -------------------------------------------------------------------------

EXAMPLE_RULE = {
    "id": "readme-example",
    "description": "an example of rules/README.md",
    "family": "replenishment",
    "then": {"offer": "car-seat-offer", "value": 1, "channels": ["email"]},
}
SAMPLE_RULES = {
    rule.id: rule
    for path in SAMPLE_FILES
    if path.name not in ("catalogue.yaml", "policy.yaml")
    for rule in RuleFile.model_validate(yaml.safe_load(path.read_text())).rules
}


def _yaml_examples() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", README.read_text(), flags=re.S)


def _whole_rules() -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for text in _yaml_examples():
        data = yaml.safe_load(text)
        rules += data if isinstance(data, list) else data.get("rules", [])
    return rules


def _conditions() -> list[str]:
    """The `when` parts shown, each as a `when:` block: blocks, and the one-line conditions of the operator table."""
    blocks = [text for text in _yaml_examples() if text.startswith(("when:", "# wrong"))]
    conditions = [text for text in _yaml_examples() if text.startswith("fact:")]
    inline = re.findall(r"`(\{fact: .*?\})`", README.read_text())
    return [*blocks, *(f"when:\n{textwrap.indent(text, '  ')}" for text in conditions), *(f"when: {i}" for i in inline)]


def _load_with_rule(folder: Path, when: object) -> None:
    (folder / "zz_readme_example.yaml").write_text(yaml.safe_dump({"rules": [{**EXAMPLE_RULE, "when": when}]}))
    load_rule_set(folder)


def test_the_fact_tables_list_every_fact_with_its_type_and_definition():
    rows = re.findall(r"^\| `([a-z0-9_.<>]+)` \| (number|text) \| (.+) \|$", README.read_text(), flags=re.M)

    documented = {re.sub(r"<\w+>$", "", name): (kind, definition) for name, kind, definition in rows}

    assert len(documented) == len(rows)
    assert documented == {**{name: (spec.type, spec.definition) for name, spec in FIELDS.items()}, **OPEN_PREFIXES}


def test_every_error_code_listed_is_one_the_engine_reports():
    table = README.read_text().split("| code | meaning |", 1)[1].split("\n\n", 1)[0]
    listed = {code for row in table.splitlines()[2:] for code in re.findall(r"`([a-z-]+)`", row.split(" | ")[0])}
    texts = {
        node.value
        for path in (REPO / "engine").rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }

    assert len(listed) > 20
    assert listed <= texts


def test_every_whole_rule_shown_is_a_sample_rule_as_written():
    shown = [Rule.model_validate(rule) for rule in _whole_rules()]

    assert shown
    assert [SAMPLE_RULES.get(rule.id) for rule in shown] == shown


def test_the_worked_examples_cover_every_family():
    assert {Rule.model_validate(rule).family for rule in _whole_rules()} == set(Family)


def test_the_catalogue_example_is_taken_from_the_catalogue():
    [shown] = [yaml.safe_load(text) for text in _yaml_examples() if text.startswith("products:")]
    sample = Catalogue.model_validate(yaml.safe_load((RULES / "catalogue.yaml").read_text()))

    for key, entries in Catalogue.model_validate(shown):
        assert entries and set(entries) <= set(getattr(sample, key))


def test_the_operator_table_has_an_example_of_every_operator():
    inline = [yaml.safe_load(text)["when"] for text in _conditions() if text.startswith("when: {")]

    assert {next(key for key in condition if key != "fact") for condition in inline} == set(OPERATORS)


@pytest.mark.parametrize("text", _conditions(), ids=lambda text: text.splitlines()[0][:60])
def test_every_condition_shown_loads_with_the_sample_rules_unless_marked_wrong(rules_dir, text):
    when = yaml.safe_load(text)["when"]
    wrong = re.match(r"# wrong: .* \(([a-z-]+)\)\n", text)

    if wrong:
        with pytest.raises(RuleSetInvalid) as refused:
            _load_with_rule(rules_dir, when)
        assert [e.code for e in refused.value.errors] == [wrong.group(1)]
    else:
        _load_with_rule(rules_dir, when)
