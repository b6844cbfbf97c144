"""The JSON Schemas editors use to complete and check rule and catalogue files.

The files in rules/schema/ are what scripts/generate_schemas.py makes from the models;
they accept every sample file and reject the mistakes an editor should underline.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from engine.features.fields import FIELDS
from tests.conftest import REPO, RULES

SCHEMAS = RULES / "schema"
SAMPLE_FILES = sorted(RULES.glob("*.yaml"))


def _schema_name(path: Path) -> str:
    return "catalogue.schema.json" if path.name == "catalogue.yaml" else "rules.schema.json"


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
