"""`forestall replay --log`: recorded decisions decided again with candidate rules, what changes by rule and family."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from engine.cli.main import build_parser
from engine.cli.replay import impact
from engine.decision.engine import DecisionEngine
from engine.decision.types import DecideRequest
from engine.events import Event, LineItem, Purchase
from engine.replay.decision_log import DecisionLog
from engine.ruleset.live import LiveRuleSet
from engine.store import open_store
from engine.vocabulary import Channel
from tests.conftest import REPO, RULES
from tests.helpers import AS_OF

# customer -> (product, days since bought): what the sample rules make of each at AS_OF
CUSTOMERS = {
    "boiler-due": ("boiler-ecotherm-30", 340),  # service in 25 days: boiler-service-due, [-60, 30]
    "boiler-later": ("boiler-ecotherm-30", 310),  # in 55 days: nothing, until the window reaches 60
    "ink-low": ("ink-305-black", 55),  # runs out in 5 days: ink-running-out, [-30, 10]
    "quiet": ("boiler-ecotherm-30", 100),
}


def _events() -> list[Event]:
    return [
        Event(
            event_id=f"{customer}-1",
            customer_id=customer,
            occurred_at=AS_OF - timedelta(days=days),
            payload=Purchase(items=[LineItem(product_id=product, quantity=1, unit_price=10)]),
        )
        for customer, (product, days) in CUSTOMERS.items()
    ]


@pytest.fixture(scope="module")
def decision_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Eight decisions of the sample rules, no model: each customer outbound and at the till."""
    folder = tmp_path_factory.mktemp("log")
    store = open_store(folder / "store.db")
    rules = LiveRuleSet(RULES, AS_OF)
    log = DecisionLog(folder / "decisions.jsonl")
    engine = DecisionEngine(store, rules, decision_log=log)
    engine.ingest(_events())
    for customer in CUSTOMERS:
        for channel in (None, Channel.POS):
            engine.decide(DecideRequest(customer, AS_OF, channel, touchpoint="till-7" if channel else ""))
    log.close()
    rules.close()
    store.close()
    return log.path


def _candidate(tmp_path: Path, **edits: tuple[str, str]) -> Path:
    """A copy of the sample rules with `file=(old, new)` text replaced."""
    folder = Path(shutil.copytree(RULES, tmp_path / "candidate"))
    for name, (old, new) in edits.items():
        path = folder / f"{name}.yaml"
        assert old in path.read_text()
        path.write_text(path.read_text().replace(old, new))
    return folder


def run_impact(log: Path | list[Path], rules: Path, **options: object) -> tuple[int, str]:
    output = io.StringIO()
    code = impact(log if isinstance(log, list) else [log], rules=rules, output=output, **options)  # type: ignore[arg-type]
    return code, output.getvalue()


def test_the_same_rules_change_nothing(decision_log: Path):
    code, report = run_impact(decision_log, RULES)

    assert code == 0, report
    assert "8 decided again: 0 change (0.0%)" in report
    assert report.endswith("0 of 8 decisions decided again change\n")


def test_a_changed_rule_shows_what_appears_and_disappears_by_rule_and_family(decision_log: Path, tmp_path: Path):
    candidate = _candidate(
        tmp_path,
        maintenance=("between: [-60, 30]", "between: [-60, 60]"),  # boiler-service-due reaches 55 days
        replenishment=("between: [-30, 10]", "between: [-30, 3]"),  # ink-running-out no longer at 5 days
    )

    code, report = run_impact(decision_log, candidate, report_format="json")

    assert code == 2
    document = json.loads(report)
    exact = document["exact"]
    assert (document["decisions"], exact["decided"], exact["changed"]) == (8, 8, 4)
    assert (exact["gained"], exact["lost"], exact["reordered"], exact["channel_changed"]) == (2, 2, 0, 0)
    by_rule = {g["rule_id"]: g for g in exact["by_rule"]}
    assert sorted(by_rule) == ["boiler-service-due", "ink-running-out"]
    boiler, ink = by_rule["boiler-service-due"], by_rule["ink-running-out"]
    assert (boiler["family"], boiler["appeared"], boiler["disappeared"]) == ("maintenance_due", 2, 0)
    assert (ink["family"], ink["appeared"], ink["disappeared"]) == ("replenishment", 0, 2)
    assert {e["customer_id"] for e in boiler["examples"]} == {"boiler-later"}
    assert {e["customer_id"] for e in ink["examples"]} == {"ink-low"}
    appeared = {a["channel"]: a for e in boiler["examples"] for a in e["appeared"]}
    assert sorted(appeared) == ["email", "pos"]  # outbound picks the rule's first channel, the till its own
    assert appeared["pos"]["action_id"] == "boiler-service-due:asset:boiler-later-1/0"
    assert appeared["pos"]["offer_id"] == "boiler-service-booking"
    assert [e["disappeared"][0]["offer_id"] for e in ink["examples"]] == ["ink-refill", "ink-refill"]
    families = {g["family"]: (g["appeared"], g["disappeared"]) for g in exact["by_family"]}
    assert families == {"maintenance_due": (2, 0), "replenishment": (0, 2)}
    assert document["catalogue_differs"]["decided"] == 0


def test_the_pretty_report_reads_rule_by_rule(decision_log: Path, tmp_path: Path):
    candidate = _candidate(tmp_path, replenishment=("between: [-30, 10]", "between: [-30, 3]"))

    code, report = run_impact(decision_log, candidate, examples=1)

    assert code == 2
    assert "8 decided again: 2 change (25.0%)" in report
    rule_row = next(line for line in report.splitlines() if line.startswith("  ink-running-out (replenishment)"))
    assert rule_row.split()[-3:] == ["0", "2", "0"]
    assert "- ink-running-out -> ink-refill (replenishment) via email, for consumable:ink-305-black" in report
    assert report.count("ink-low as of 2026-06-01T09:00:00+00:00") == 1  # --examples 1


def test_a_record_folded_with_another_catalogue_is_counted_apart(decision_log: Path, tmp_path: Path):
    candidate = _candidate(
        tmp_path, catalogue=("service_interval_days: 365", "service_interval_days: 330")
    )  # products are folded into states: the recorded states are of the old catalogue

    code, report = run_impact(decision_log, candidate, report_format="json")

    document = json.loads(report)
    assert code == 2
    assert document["exact"]["decided"] == 0
    approximate = document["catalogue_differs"]
    assert (approximate["decided"], approximate["changed"]) == (8, 2)  # boiler-later is now due in 20 days
    assert [(g["rule_id"], g["appeared"]) for g in approximate["by_rule"]] == [("boiler-service-due", 2)]
    pretty = run_impact(decision_log, candidate)[1]
    assert "8 decisions read a state folded with another catalogue" in pretty


def test_the_json_report_is_byte_identical_run_after_run(decision_log: Path, tmp_path: Path):
    candidate = _candidate(tmp_path, maintenance=("between: [-60, 30]", "between: [-60, 60]"))

    first = run_impact(decision_log, candidate, report_format="json")
    again = run_impact(decision_log, candidate, report_format="json")

    assert first == again
    assert first[1] == json.dumps(json.loads(first[1]), indent=2, sort_keys=True) + "\n"


def test_lines_that_are_not_records_are_located_and_the_rest_decided(decision_log: Path, tmp_path: Path):
    lines = decision_log.read_text().splitlines()
    tampered = lines[1].replace('"purchases":1,', '"purchases":99,')
    missing_model = lines[2].replace('"model_version":""', '"model_version":"response=20990101-000000000000"')
    assert tampered != lines[1] and missing_model != lines[2]
    damaged = tmp_path / "damaged.jsonl"
    damaged.write_text("\n".join([lines[0], tampered, missing_model, lines[3][:200]]) + "\n")

    code, report = run_impact([decision_log, damaged], RULES, recorded_models=tmp_path)

    assert code == 0
    assert f"{damaged}:2:1: state-digest-mismatch: the state does not match its digest" in report
    assert f"{damaged}:4:1: unreadable-record: " in report
    assert "1 decision not decided again:" in report
    assert f"model response 20990101-000000000000 cannot be loaded from {tmp_path}" in report
    assert report.endswith("0 of 9 decisions decided again change\n")  # 8 and 1 of 4 lines


def test_nothing_decided_again_exits_1_with_the_errors_located(decision_log: Path, tmp_path: Path):
    broken = _candidate(tmp_path, maintenance=("offer: boiler-service-booking", "offer: boiler-service-bookin"))

    code, report = run_impact(decision_log, broken, report_format="json")
    missing = run_impact(tmp_path / "nowhere.jsonl", RULES)

    assert code == 1
    [error] = json.loads(report)["errors"]
    assert (Path(error["file"]).name, error["code"]) == ("maintenance.yaml", "unknown-offer")
    assert missing == (
        1,
        f"1 error occurred:\n{tmp_path / 'nowhere.jsonl'}:1:1: unreadable-log: No such file or directory\n",
    )


def test_the_command_line_keeps_scenarios_and_logs_apart(decision_log: Path, capsys: pytest.CaptureFixture[str]):
    mixed = build_parser().parse_args(["replay", "scenarios/edge", "--log", str(decision_log)])
    with pytest.raises(SystemExit) as refused:
        mixed.run(mixed)  # refused before logging is set up, so in process

    command = [sys.executable, "-m", "engine.cli.main", "replay", "--log", str(decision_log), "--format", "json"]
    ran = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)

    assert refused.value.code == 2
    assert "--log decides recorded decisions again: give no scenario PATH" in capsys.readouterr().err
    assert (ran.returncode, ran.stderr) == (0, "")
    assert json.loads(ran.stdout)["decided"] == 8
