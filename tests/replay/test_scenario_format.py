"""The scenario file format: models, located errors, virtual times, and the JSON Schema editors read."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from engine.errors import RuleSetInvalid
from engine.replay.json_schema import SCHEMA_FILE
from engine.replay.scenario import Check, Ingest, Report, load_scenarios, scenario_files
from engine.ruleset.loader import load_rule_set
from tests.conftest import REPO, RULES

SCENARIOS = REPO / "scenarios"
BROKEN = Path(__file__).parent / "data" / "broken"
LIBRARY = scenario_files([SCENARIOS])


def _load(tmp_path: Path, text: str) -> Any:
    path = tmp_path / "scenario.yaml"
    path.write_text(textwrap.dedent(text))
    [scenario] = load_scenarios([path], load_rule_set, RULES)
    return scenario


class _TextTimes(yaml.SafeLoader):
    """YAML as an editor's schema check sees it: timestamps stay text."""


_TextTimes.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def test_the_committed_schema_is_what_the_models_generate():
    result = subprocess.run(
        [sys.executable, "scripts/generate_schemas.py", "--check"], cwd=REPO, capture_output=True, text=True
    )

    assert result.returncode == 0, result.stderr


def test_the_schema_is_a_titled_draft_07_schema():
    schema = json.loads(SCHEMA_FILE.read_text())

    jsonschema.Draft7Validator.check_schema(schema)
    assert schema["title"] == "Forestall replay scenario"


@pytest.mark.parametrize("path", LIBRARY, ids=lambda path: str(path.relative_to(SCENARIOS)))
def test_every_library_scenario_validates_against_the_schema_it_names(path):
    schema = json.loads(SCHEMA_FILE.read_text())
    document = yaml.load(path.read_text(), _TextTimes)

    assert [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(document)] == []
    modeline = path.read_text().splitlines()[0]
    assert modeline.startswith("# yaml-language-server: $schema=")
    assert (path.parent / modeline.split("=", 1)[1]).resolve() == SCHEMA_FILE


def test_the_schema_underlines_a_misspelt_event_and_a_bad_offset():
    schema = json.loads(SCHEMA_FILE.read_text())
    document = yaml.load((BROKEN / "shape.yaml").read_text(), _TextTimes)

    paths = {tuple(e.absolute_path) for e in jsonschema.Draft7Validator(schema).iter_errors(document)}

    assert ("customers", 0, "timeline", 0) in paths  # purchse
    assert ("customers", 0, "timeline", 1, "at") in paths  # +3x


def test_every_mistake_is_reported_at_its_line_with_a_suggestion():
    with pytest.raises(RuleSetInvalid) as refused:
        load_scenarios([BROKEN], load_rule_set, RULES)

    shape, references = "shape.yaml", "references.yaml"
    assert [(Path(e.file).name, e.line, e.column, e.code) for e in refused.value.errors] == [
        (references, 9, 19, "unknown-checkpoint"),
        (references, 10, 9, "invalid-value"),
        (references, 13, 9, "invalid-value"),
        (references, 19, 22, "unknown-rule"),
        (references, 20, 27, "unknown-offer"),
        (shape, 3, 1, "invalid-value"),
        (shape, 8, 9, "unknown-field"),
        (shape, 9, 9, "invalid-value"),
        (shape, 11, 9, "invalid-value"),
        (shape, 16, 9, "invalid-value"),
        (shape, 19, 21, "invalid-value"),
    ]
    messages = [e.message for e in refused.value.errors]
    assert "unknown rule `boiler-service-du`; did you mean `boiler-service-due`?" in messages
    assert "unknown field `purchse` in customers[0].timeline[0]; did you mean `purchase`?" in messages
    assert "an event cannot arrive before it happened" in messages
    assert any("`Europe/Pariss` is not a known time zone" in m for m in messages)
    assert any("comes before checkpoint `reminder` decides" in m for m in messages)


def test_a_key_at_the_wrong_level_is_told_where_it_goes(tmp_path):
    path = tmp_path / "scenario.yaml"
    path.write_text(
        textwrap.dedent("""\
            start: 2026-01-05T09:00:00
            customers:
              - id: ada
                time_zone: Europe/Paris
                checkpoints:
                  - at: +0d
                    in_order: true
                    expect: {empty: true}
                  - at: +1d
                    expect: {empty: true, at: +2d}
            """)
    )

    with pytest.raises(RuleSetInvalid) as refused:
        load_scenarios([path], load_rule_set, RULES)

    assert [str(e) for e in refused.value.errors] == [
        f"{path}:4:5: unknown-field: unknown field `time_zone` in customers[0];"
        " `time_zone` goes at the top level or under `profile:`",
        f"{path}:7:9: unknown-field: unknown field `in_order` in customers[0].checkpoints[0];"
        " `in_order` goes under `expect:`",
        f"{path}:10:31: unknown-field: unknown field `at` in customers[0].checkpoints[1].expect;"
        " `at` goes under `checkpoints:` or `timeline:`",
    ]


def test_a_path_with_no_scenario_is_an_error(tmp_path):
    with pytest.raises(RuleSetInvalid) as refused:
        load_scenarios([tmp_path], load_rule_set, RULES)

    assert [e.code for e in refused.value.errors] == ["no-scenarios"]


def test_offsets_count_calendar_days_in_the_scenario_zone_across_a_daylight_saving_change(tmp_path):
    scenario = _load(
        tmp_path,
        """
        start: 2026-03-28T09:00:00          # Paris, before clocks go forward on the 29th
        time_zone: Europe/Paris
        customers:
          - id: ada
            timeline:
              - {at: -1d6h, review: {rating: 5}}
              - {at: 2026-03-30, review: {rating: 4}}
            checkpoints:
              - {at: +1d, expect: {empty: true}}
              - {at: +2d, expect: {empty: true}}
        """,
    )

    ingests = [step.event.occurred_at for step in scenario.steps if isinstance(step, Ingest)]
    checks = [step.at for step in scenario.checks]
    assert scenario.start == datetime(2026, 3, 28, 8, 0, tzinfo=UTC)
    assert ingests == [datetime(2026, 3, 27, 2, 0, tzinfo=UTC), datetime(2026, 3, 29, 22, 0, tzinfo=UTC)]
    assert checks == [datetime(2026, 3, 29, 7, 0, tzinfo=UTC), datetime(2026, 3, 30, 7, 0, tzinfo=UTC)]


def test_steps_follow_the_clock_by_arrival_events_then_outcomes_then_checkpoints(tmp_path):
    scenario = _load(
        tmp_path,
        """
        start: 2026-01-05T09:00:00Z
        customers:
          - id: ada
            profile: {first_name: Ada}
            timeline:
              - {at: -340d, purchase: boiler-ecotherm-30}
              - {at: +1d, outcome: {checkpoint: reminder, rule: boiler-service-due, outcome: opened}}
              - {at: +1d, review: {rating: 5}}
              - {at: -2d, arrives: +1d, complaint: opened}
            checkpoints:
              - {name: reminder, at: +0d, expect: {actions: [{rule: boiler-service-due}]}}
              - {name: later, at: +1d, expect: {empty: true}}
        """,
    )

    steps = [
        (type(step).__name__, step.at.date().isoformat(), getattr(step, "event", None) and step.event.event_id)
        for step in scenario.steps
    ]
    assert steps == [
        ("Ingest", "2025-01-30", "e00000"),
        ("Ingest", "2025-01-30", "e00001"),
        ("Check", "2026-01-05", None),
        ("Ingest", "2026-01-06", "e00003"),
        ("Ingest", "2026-01-06", "e00004"),
        ("Report", "2026-01-06", None),
        ("Check", "2026-01-06", None),
    ]
    late = scenario.steps[4]
    assert isinstance(late, Ingest) and late.event.occurred_at == datetime(2026, 1, 3, 9, 0, tzinfo=UTC)
    assert isinstance(scenario.steps[5], Report) and isinstance(scenario.steps[6], Check)


def test_a_scenario_is_named_after_its_file_unless_it_says_and_its_rules_are_relative_to_it(tmp_path):
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "scenario.yaml").write_text(
        "rules: ../rules\nstart: 2026-01-05\ncustomers: [{id: ada, checkpoints: [{at: +0d, expect: {empty: true}}]}]\n"
    )
    (tmp_path / "rules").symlink_to(RULES)

    [scenario] = load_scenarios([folder], load_rule_set, tmp_path / "nowhere")

    assert scenario.name == "scenario"
    assert scenario.rules == folder / ".." / "rules"
