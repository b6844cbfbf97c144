"""`forestall simulate` through the real engine: a small population, its store, its report."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from engine.cli.main import main
from engine.cli.simulate import simulate
from engine.metrics.assignment import CONTROL, TREATED, HashAssignment
from engine.metrics.definitions import METRICS
from engine.simulation.behaviour import Behaviour
from engine.store import open_store
from tests.conftest import RULES

START = datetime(2026, 1, 1, tzinfo=UTC)
SMALL = {"customers": 200, "days": 120, "seed": 11, "start": START, "control_share": 0.2}
# Differ from run to run by design: where the run was kept.
PLACES = ("store", "report", "report_json")


def _run(folder: Path, **options: Any) -> dict[str, Any]:
    folder.mkdir()
    return simulate(**{**SMALL, **options}, store_dir=folder / "store", report=folder / "report.html")


def _same_run_parts(summary: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in summary.items() if key not in PLACES}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    folder = tmp_path_factory.mktemp("small") / "run"
    return _run(folder), folder


def test_the_same_seed_gives_the_same_run_and_report(small, tmp_path):
    summary, folder = small

    again = _run(tmp_path / "again")
    other_seed = _run(tmp_path / "other", seed=12)

    assert _same_run_parts(again) == _same_run_parts(summary)
    assert (tmp_path / "again" / "report.json").read_bytes() == (folder / "report.json").read_bytes()
    assert (tmp_path / "again" / "report.html").read_bytes() == (folder / "report.html").read_bytes()
    assert _same_run_parts(other_seed) != _same_run_parts(summary)


def test_events_decisions_and_outcomes_are_stored_as_counted(small):
    summary, folder = small
    store = open_store(folder / "store" / "simulation.db")
    try:
        ids = list(store.customer_ids())
        histories = [store.load_customer(c).events for c in ids]
        decisions = [d for c in ids for d in store.customer_decision_ids(c)]
        outcomes = sum(len(store.outcomes(d)) for d in decisions)
        decided = sum(len(found.actions) for d in decisions if (found := store.find_decision(d)))
    finally:
        store.close()
    events = sum(len(history) for history in histories)
    made = sum(1 for history in histories for event in history if event.payload.kind == "contact_made")

    assert len(ids) == summary["customers"] == 200
    # Each action decided (returned or held out) is a contact made in its customer's history, and
    # each recorded outcome a contact outcome event.
    assert made == decided > 0
    assert events - made == summary["events"] + summary["outcomes"]
    assert len(decisions) == summary["decisions"]
    assert outcomes == summary["outcomes"] > 0
    assert summary["actions"] > 0 and summary["outcomes_by_kind"].get("converted", 0) > 0


def test_control_customers_are_decided_for_but_never_shown_an_action(small):
    summary, folder = small
    assignment = HashAssignment(summary["control"]["share"], summary["control"]["salt"])
    store = open_store(folder / "store" / "simulation.db")
    held_out = {CONTROL: 0, TREATED: 0}
    shown = {CONTROL: 0, TREATED: 0}
    answered = {CONTROL: 0, TREATED: 0}
    try:
        for customer_id in store.customer_ids():
            group = assignment(customer_id)
            for decision_id in store.customer_decision_ids(customer_id):
                decision = store.find_decision(decision_id)
                assert decision is not None
                for action in decision.actions.values():
                    if action.get("held_out"):
                        held_out[group] += 1
                    else:
                        shown[group] += 1
                answered[group] += len(store.outcomes(decision_id))
    finally:
        store.close()

    assert summary["control"]["customers"] > 0
    assert shown[CONTROL] == 0 and answered[CONTROL] == 0
    assert held_out[CONTROL] > 0  # their decisions were made and logged
    assert held_out[TREATED] == 0 and shown[TREATED] > 0 and answered[TREATED] > 0


def test_the_report_has_treated_and_control_figures_for_every_comparable_metric(small):
    summary, folder = small
    document = json.loads((folder / "report.json").read_text())

    uplift = {u["metric"]: u for u in document["uplift"]["metrics"]}
    assert set(uplift) == {m.name for m in METRICS if m.uplift}
    for name, found in uplift.items():
        assert found["treated"] is not None and found["control"] is not None, name
        assert found["low"] is not None and found["high"] is not None, name
    # The decisioning metrics are the treated customers' alone: control customers are shown nothing.
    assert all(document["metrics"][m.name]["value"] is not None for m in METRICS)
    assert document["uplift"]["control_customers"] == summary["control"]["customers"]
    assert document["period"]["from"] == summary["start"] and document["period"]["to"] == summary["end"]
    assert (folder / "report.html").read_text().count("<svg") >= 4


def test_where_contact_genuinely_helps_treated_customers_are_retained_more(tmp_path):
    # Customers who never refill before running out and seldom book a service on their own: out of stock,
    # they soon buy elsewhere, and a neglected asset breaks down and drives them away. A reminder in time keeps
    # them buying from us. A year, so that customers who stopped buying early drop out of the active base.
    forgetful = replace(
        Behaviour(),
        history_days=400,
        reorder_on_time_share=0.0,
        forgetful_delay_days=30,
        self_service_share=0.1,
        lost_per_day_out=0.08,
        satisfaction_per_day_out=0.015,
        breakdown_satisfaction=0.4,
        fatigue_log_odds=0.1,
        churn_hazard=0.001,
        churn_satisfaction_slope=12,
    )

    # Seeds 5, 6 and 7 all show it: retention +0.12, +0.18, +0.26, lower bounds +0.02, +0.07, +0.16.
    summary = simulate(
        customers=400,
        days=365,
        seed=6,
        start=START,
        control_share=0.5,
        behaviour=forgetful,
        report=tmp_path / "report.html",
    )

    document = json.loads((tmp_path / "report.json").read_text())
    retention = next(u for u in document["uplift"]["metrics"] if u["metric"] == "retention")
    assert retention["difference"] > 0 and retention["low"] > 0, retention
    assert summary["churned"]["control"] > summary["churned"]["treated"]


def test_the_command_prints_its_summary_as_json(tmp_path, capsys):
    options = ["--customers", "30", "--days", "14", "--seed", "3", "--start", "2026-03-01", "--rules", str(RULES)]
    status = main(["simulate", *options, "--store-dir", str(tmp_path), "--control-share", "0.5", "--format", "json"])

    captured = capsys.readouterr()
    assert status == 0, captured.err
    summary = json.loads(captured.out)
    assert summary["customers"] == 30 and summary["days"] == 14
    assert summary["start"] == "2026-03-01T00:00:00+00:00" and summary["end"] == "2026-03-15T00:00:00+00:00"
    assert summary["decisions"] > 0 and summary["seconds"] >= 0
    assert "history:" in captured.err and "day 14 of 14" in captured.err
    assert (tmp_path / "simulation.db").exists() and (tmp_path / "rules" / "policy.yaml").exists()


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (["--control-share", "0"], "--control-share"),
        (["--customers", "0"], "--customers"),
        (["--days", "-3"], "--days"),
        (["--sweep-every", "0"], "--sweep-every"),
    ],
)
def test_a_bad_option_is_refused_naming_it(options, named, capsys):
    assert main(["simulate", *options]) == 1
    assert named in capsys.readouterr().err


def test_a_store_dir_holding_an_earlier_simulation_is_refused(tmp_path, capsys):
    (tmp_path / "simulation.db").write_bytes(b"")

    assert main(["simulate", "--customers", "5", "--days", "2", "--store-dir", str(tmp_path)]) == 1
    assert "holds an earlier simulation" in capsys.readouterr().err


def test_a_broken_rules_folder_is_refused_with_its_location(tmp_path, capsys):
    (tmp_path / "catalogue.yaml").write_text("products: [oops\n")

    assert main(["simulate", "--customers", "5", "--days", "2", "--rules", str(tmp_path)]) == 1
    assert f"{tmp_path / 'catalogue.yaml'}:" in capsys.readouterr().err
