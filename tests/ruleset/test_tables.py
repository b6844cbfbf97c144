"""Decision tables compile exactly like YAML rules, and their errors name file:row:column."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.errors import RuleSetInvalid
from engine.ruleset.loader import load_rule_set
from engine.ruleset.schema import Rule
from tests.conftest import DATA, RULES


def _folder_with(tmp_path: Path, *tables: str) -> Path:
    folder = Path(shutil.copytree(RULES, tmp_path / "rules"))
    for name in tables:
        shutil.copy(DATA / "tables" / name, folder / name)
    return folder


def _errors(tmp_path: Path, table: str) -> list[tuple[str, int, int, str, str]]:
    with pytest.raises(RuleSetInvalid) as raised:
        load_rule_set(_folder_with(tmp_path, table))
    return [(Path(e.file).name, e.line, e.column, e.code, e.message) for e in raised.value.errors]


def test_a_table_row_is_the_rule_its_yaml_twin_would_be(tmp_path):
    ruleset = load_rule_set(_folder_with(tmp_path, "good.csv"))

    boiler = ruleset.by_id["table-boiler"]
    assert boiler.rule == Rule.model_validate(
        {
            "id": "table-boiler",
            "description": "Boiler service due",
            "family": "maintenance_due",
            "when": {
                "all": [
                    {"fact": "asset.category", "equals": "boiler"},
                    {"fact": "asset.days_until_service", "between": [-60, 30]},
                ]
            },
            "then": {
                "offer": "boiler-service-booking",
                "value": 120,
                "priority": 5,
                "channels": ["email", "sms"],
                "valid_for_days": 30,
            },
        }
    )
    assert (Path(boiler.file).name, boiler.line) == ("good.csv", 2)
    pump = ruleset.by_id["table-pump"]
    assert pump.fields == ("asset.category", "asset.days_until_service", "asset.age_days")
    assert pump.rule.then.value == 180.5


def test_a_table_changes_the_version_like_any_rule_file(tmp_path):
    folder = _folder_with(tmp_path, "good.csv")
    before = load_rule_set(folder).version
    (folder / "good.csv").write_text((folder / "good.csv").read_text().replace("-60..30", "-60..20"))

    assert load_rule_set(folder).version != before


def test_errors_name_the_row_and_column(tmp_path):
    errors = _errors(tmp_path, "mistakes.csv")

    assert ("mistakes.csv", 1, 5, "unknown-fact") in [e[:4] for e in errors]
    assert ("mistakes.csv", 2, 6, "wrong-type") in [e[:4] for e in errors]
    assert ("mistakes.csv", 3, 3, "invalid-value") in [e[:4] for e in errors]
    assert ("mistakes.csv", 4, 7, "unknown-offer") in [e[:4] for e in errors]
    assert ("mistakes.csv", 5, 9, "invalid-value") in [e[:4] for e in errors]
    assert len(errors) == 5
    messages = {e[:4]: e[4] for e in errors}
    assert "did you mean `asset.days_until_service`?" in messages[("mistakes.csv", 1, 5, "unknown-fact")]
    assert "did you mean `boiler-service-booking`?" in messages[("mistakes.csv", 4, 7, "unknown-offer")]
    assert "`fax` is not one of" in messages[("mistakes.csv", 5, 9, "invalid-value")]
    assert messages[("mistakes.csv", 2, 6, "wrong-type")].endswith("`soon` is not a number")


def test_an_unknown_column_is_named_with_its_column(tmp_path):
    [(name, line, column, code, message)] = _errors(tmp_path, "bad_header.csv")

    assert (name, line, column, code) == ("bad_header.csv", 1, 5, "unknown-column")
    assert "`asset.days_until_service within`" in message


def test_a_table_row_decides_like_a_yaml_rule(tmp_path):
    from datetime import UTC, datetime, timedelta

    from engine.decision.engine import DecisionEngine
    from engine.decision.types import DecideRequest
    from engine.events import Event, LineItem, Purchase
    from engine.ruleset.live import LiveRuleSet
    from engine.store.sqlite import SqliteStore

    now = datetime(2026, 6, 1, tzinfo=UTC)
    folder = _folder_with(tmp_path, "good.csv")
    (folder / "maintenance.yaml").unlink()  # its heat pump rule would propose the same offer, ranked higher
    engine = DecisionEngine(SqliteStore(tmp_path / "s.db"), LiveRuleSet(folder, now))
    bought = Purchase(items=[LineItem(product_id="heat-pump-aw8", quantity=1, unit_price=1)])
    engine.ingest([Event(event_id="e1", customer_id="c", occurred_at=now - timedelta(days=700), payload=bought)])

    decision = engine.decide(DecideRequest("c", now))

    assert "table-pump" in [a.reason.rule_id for a in decision.actions]
    engine.rules.close()
    engine.store.close()
