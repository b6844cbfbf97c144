"""`forestall replay` in process: the scenario library, failures that explain themselves, OPA's exit codes."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path
from xml.etree import ElementTree

from tests.conftest import RULES
from tests.replay.conftest import run_replay

LIBRARY = "scenarios"
BROKEN = "tests/replay/data/broken"
SEPARATOR = "-" * 80


def test_the_scenario_library_passes():
    code, out = run_replay(LIBRARY)

    lines = out.splitlines()
    scenarios = sorted(Path(LIBRARY).rglob("*.yaml"))
    assert code == 0, out
    assert lines[-2:] == [SEPARATOR, f"{len(scenarios)} passed, 0 failed"]
    assert all(line.startswith("PASS scenarios/") for line in lines[:-2])
    assert {Path(p).parts[1] for p in scenarios} >= {
        "maintenance",
        "replenishment",
        "planned_purchase",
        "problem_prevention",
        "edge",
    }


def test_the_json_report_is_byte_identical_run_after_run():
    first = run_replay(LIBRARY, report_format="json")
    second = run_replay(LIBRARY, report_format="json")

    assert first == second
    report = json.loads(first[1])
    assert (report["failed"], report["errors"]) == (0, [])
    [boiler] = [s for s in report["scenarios"] if s["file"] == "scenarios/maintenance/boiler_yearly_service.yaml"]
    reminder = boiler["checkpoints"][1]
    assert reminder["name"] == "reminder"
    assert reminder["at"] == "2026-01-05T09:00:00+00:00"
    assert reminder["actions"] == [
        {
            "rule_id": "boiler-service-due",
            "offer_id": "boiler-service-booking",
            "family": "maintenance_due",
            "channel": "email",
            "send_at": "2026-01-05T09:00:00+00:00",
            "valid_until": "2026-02-04T09:00:00+00:00",
            "score": 41.04,  # priority 5 x value 120 x the response model's 0.0684 on email
            "text": "Hello Ada, your EcoTherm 30 combi boiler is due for its yearly service in 25 days. "
            "Book a visit now.",
            "matched_facts": {"asset.category": "boiler", "asset.days_until_service": "25"},
        }
    ]


def test_a_broken_rule_fails_the_scenarios_that_rely_on_it_and_says_why(tmp_path):
    rules = Path(shutil.copytree(RULES, tmp_path / "rules"))
    maintenance = rules / "maintenance.yaml"
    maintenance.write_text(maintenance.read_text().replace("between: [-60, 30]", "between: [-60, 10]", 1))
    junit = tmp_path / "replay.xml"

    code, out = run_replay(LIBRARY, rules=rules, junit=junit)

    failed = [line.split(":")[0].removeprefix("FAIL ") for line in out.splitlines() if line.startswith("FAIL")]
    # The scenarios that need the reminder 25 or 15 days before the service is due.
    relying = [
        "scenarios/edge/two_customers.yaml",
        "scenarios/maintenance/boiler_yearly_service.yaml",
        *(f"scenarios/policy/{name}.yaml" for name in ("consent_and_stock", "cooldown", "frequency_cap")),
        "scenarios/policy/own/offer_window.yaml",
        *(f"scenarios/policy/{name}.yaml" for name in ("send_time", "suppression")),
    ]
    assert code == 2
    assert failed == relying
    file = "scenarios/maintenance/boiler_yearly_service.yaml"
    assert (
        textwrap.dedent(f"""\
        FAIL {file}: a boiler owner is reminded before the yearly service, and not again once it is done
          checkpoint `reminder` ({file}:21), ada at 2026-01-05T09:00:00+00:00
            expected boiler-service-due -> boiler-service-booking (maintenance_due) via email, sent between \
2026-01-05T09:00:00+00:00 and 2026-01-05T10:00:00+00:00: boiler-service-due proposed nothing
              it read asset.category=boiler, asset.days_until_service=25
            got: no action
          stopped at {file}:13, ada at 2026-01-07T09:00:00+00:00
            outcome accepted: checkpoint `reminder` has no action of boiler-service-due to report it on; \
it proposed nothing
        PASS""")
        in out
    )
    assert (
        out.splitlines()[-1]
        == f"{len(list(Path(LIBRARY).rglob('*.yaml'))) - len(relying)} passed, {len(relying)} failed"
    )
    suite = ElementTree.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == str(len(relying))
    failures = {case.get("classname"): case.find("failure") for case in suite.iter("testcase")}
    assert failures[file] is not None
    assert "boiler-service-due proposed nothing" in (failures[file].get("message") or "")
    assert failures["scenarios/edge/no_history.yaml"] is None


def test_a_wrong_channel_says_what_came_back_instead(tmp_path):
    scenario = tmp_path / "email.yaml"
    scenario.write_text(
        textwrap.dedent("""\
        start: 2026-01-05T09:00:00Z
        customers:
          - id: ada
            timeline: [{at: -340d, purchase: boiler-ecotherm-30}]
            checkpoints:
              - {name: reminder, at: +0d, expect: {actions: [{rule: boiler-service-due, channel: email}]}}
        """)
    )

    code, out = run_replay(str(scenario))

    assert code == 2
    assert out.splitlines()[1:6] == [
        f"  checkpoint `reminder` ({scenario}:6), ada at 2026-01-05T09:00:00+00:00",
        "    expected boiler-service-due via email: it came back via sms, not email",
        "    got:",
        "      1. boiler-service-due -> boiler-service-booking (maintenance_due) via sms, "
        "sent at 2026-01-05T09:00:00+00:00, score 59.7",
        "         because boiler-service-due: asset.category=boiler, asset.days_until_service=25",
    ]


def test_an_action_the_policy_kept_out_says_which_part_of_it(tmp_path):
    scenario = tmp_path / "again.yaml"
    scenario.write_text(
        textwrap.dedent("""\
        start: 2026-01-05T09:00:00Z
        customers:
          - id: ada
            timeline: [{at: -340d, purchase: boiler-ecotherm-30}]
            checkpoints:
              - {at: +0d, expect: {actions: [{rule: boiler-service-due}]}}
              - {name: again, at: +2d, expect: {actions: [{rule: boiler-service-due}]}}
        """)
    )

    code, out = run_replay(str(scenario))

    assert code == 2
    assert out.splitlines()[1:3] == [
        f"  checkpoint `again` ({scenario}:7), ada at 2026-01-07T09:00:00+00:00",
        "    expected boiler-service-due: boiler-service-due matched, but dropped: cooldown: sent 2 days ago (7 days)",
    ]


def test_an_outcome_on_an_action_that_never_came_stops_the_scenario(tmp_path):
    scenario = tmp_path / "outcome.yaml"
    scenario.write_text(
        textwrap.dedent("""\
        start: 2026-01-05T09:00:00Z
        customers:
          - id: ada
            timeline: [{at: +1d, outcome: {checkpoint: nothing, rule: boiler-service-due, outcome: accepted}}]
            checkpoints:
              - {name: nothing, at: +0d, expect: {empty: true}}
              - {name: never reached, at: +2d, expect: {empty: true}}
        """)
    )

    code, out = run_replay(str(scenario), report_format="json")

    [result] = json.loads(out)["scenarios"]
    assert code == 2
    assert [c["name"] for c in result["checkpoints"]] == ["nothing"]
    assert result["errors"] == [
        {
            "at": "2026-01-06T09:00:00+00:00",
            "customer": "ada",
            "line": 4,
            "message": "outcome accepted: checkpoint `nothing` has no action of boiler-service-due to report it "
            "on; it proposed nothing",
        }
    ]


def test_scenarios_that_fail_to_load_exit_1_with_every_error():
    code, out = run_replay(BROKEN, report_format="json")

    report = json.loads(out)
    assert code == 1
    assert (report["passed"], report["failed"], report["scenarios"]) == (0, 0, [])
    assert len(report["errors"]) == 11
    assert report["errors"][0]["file"] == f"{BROKEN}/references.yaml"


def test_a_broken_rules_folder_exits_1(tmp_path):
    code, out = run_replay(LIBRARY, rules=tmp_path)

    assert code == 1
    assert "no-catalogue" in out


def test_a_scenario_names_the_models_that_serve_it(tmp_path):
    (tmp_path / "no-models").mkdir()
    body = """\
        start: 2026-01-05T09:00:00Z
        models: {models}
        customers:
          - id: ada
            timeline: [{{at: -340d, purchase: boiler-ecotherm-30}}]
            checkpoints: [{{at: +0d, expect: {{actions: [{{rule: boiler-service-due, channel: email}}]}}}}]
        """
    without = tmp_path / "without.yaml"
    without.write_text(textwrap.dedent(body.format(models="no-models")))
    missing = tmp_path / "missing.yaml"
    missing.write_text(textwrap.dedent(body.format(models="nowhere")))

    code, out = run_replay(str(without), report_format="json")
    [checkpoint] = json.loads(out)["scenarios"][0]["checkpoints"]

    assert code == 0  # no response model: the rule's first channel, ranked by priority x value
    assert [(a["channel"], a["score"]) for a in checkpoint["actions"]] == [("email", 600.0)]
    assert run_replay(str(missing)) == (
        1,
        f"1 error occurred:\n{missing}:2:1: no-folder: the models folder {tmp_path}/nowhere does not exist\n",
    )


def test_a_scenarios_own_policy_is_checked_like_policy_yaml(tmp_path):
    scenario = tmp_path / "policy.yaml"
    written = textwrap.dedent("""\
        start: 2026-01-05T09:00:00Z
        policy:
          contact: {caps: [{channels: [sms], at_most: 100, days: 7}]}
          eligibility: {offers: [{offer: boiler-servise-booking, valid_until: 2026-02-01}]}
        customers:
          - id: ada
            checkpoints: [{at: +0d, expect: {empty: true}}]
        """)
    scenario.write_text(written)
    too_many = run_replay(str(scenario))
    scenario.write_text(written.replace("at_most: 100", "at_most: 1"))
    misspelt = run_replay(str(scenario))

    assert too_many == (
        1,
        f"1 error occurred:\n{scenario}:3:38: invalid-value: policy.contact.caps[0].at_most: "
        "Input should be less than or equal to 50\n",
    )
    assert misspelt == (
        1,
        f"1 error occurred:\n{scenario}:4:27: unknown-offer: offer `boiler-servise-booking` is not in the catalogue;"
        " did you mean `boiler-service-booking`?\n",
    )
